"""Debiasing with adversarial pseudo-samples (chapter 7): the training methods (AEDA and its
baselines), the fairness metrics over (target, bias) groups, the talk's table recomputed over
several seeds, and the plumbing of the few-shot task with adversarial pseudo-samples."""

from advlib.debias.fairness import (
    FairnessReport,
    balanced_accuracy,
    confusion_matrix,
    fairness_report,
    group_accuracy,
    model_bias_per_class,
    reweighting_weights,
    undersample_index,
)
from advlib.debias.few_shot import class_subset, draw_shots, train_student
from advlib.debias.table import ROWS, RowResult, debiasing_table, fairness_on
from advlib.debias.training import (
    METHODS,
    DebiasConfig,
    FlipAttack,
    bias_dataset,
    bias_flipped_copies,
    flip_rate,
    train_debiased,
)

__all__ = [
    "METHODS",
    "ROWS",
    "DebiasConfig",
    "FairnessReport",
    "FlipAttack",
    "RowResult",
    "balanced_accuracy",
    "bias_dataset",
    "bias_flipped_copies",
    "class_subset",
    "confusion_matrix",
    "debiasing_table",
    "draw_shots",
    "fairness_on",
    "fairness_report",
    "flip_rate",
    "group_accuracy",
    "model_bias_per_class",
    "reweighting_weights",
    "train_debiased",
    "train_student",
    "undersample_index",
]
