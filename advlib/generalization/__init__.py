"""What a model learns from its training data, and how to make it learn the wrong thing
(chapter 4): the ITID measurements (dependence on nuisance information) and the random-label
experiment, learning curves on clean and poisoned data, and the training-set attacks
(adversarial poisoning, error-minimizing noise)."""

from advlib.generalization.curves import fit_with_error_curve
from advlib.generalization.itid import conditional_entropy, gamma_dependence, nuisance_dependence, random_labels
from advlib.generalization.poisoning import (
    ErrorMinimizingConfig,
    ErrorMinimizingResult,
    adversarial_poison,
    error_minimizing_noise,
    next_class_targets,
    poisoned_dataset,
)

__all__ = [
    "ErrorMinimizingConfig", "ErrorMinimizingResult", "adversarial_poison", "conditional_entropy",
    "error_minimizing_noise", "fit_with_error_curve", "gamma_dependence", "next_class_targets", "nuisance_dependence",
    "poisoned_dataset", "random_labels",
]
