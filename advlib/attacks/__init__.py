"""Adversarial attacks: functional, batched, device-agnostic, inputs and outputs in [0, 1].

All attacks share these guarantees: they never modify their inputs, they run the model
in eval mode and restore its train/eval flags afterwards, they leave no gradient on the
model's parameters, and they reject bad arguments with a clear error.
"""

from advlib.attacks.apgd import apgd, apgd_targeted, dlr_objective
from advlib.attacks.cw import cw_l2
from advlib.attacks.deepfool import deepfool
from advlib.attacks.iterative import (
    bim,
    difgsm,
    fgsm,
    ifgsm,
    iterative_attack,
    mifgsm,
    pgd,
    project,
)
from advlib.attacks.losses import cross_entropy_objective, is_adversarial, margin_objective
from advlib.attacks.semantic import SemanticAttack, apply_attributes, semantic_attack
from advlib.attacks.square import square
from advlib.attacks.wrappers import BPDA, EOT, Ensemble, Preprocessed

__all__ = [
    "BPDA",
    "EOT",
    "Ensemble",
    "Preprocessed",
    "SemanticAttack",
    "apgd",
    "apgd_targeted",
    "apply_attributes",
    "bim",
    "cross_entropy_objective",
    "cw_l2",
    "deepfool",
    "difgsm",
    "dlr_objective",
    "fgsm",
    "ifgsm",
    "is_adversarial",
    "iterative_attack",
    "margin_objective",
    "mifgsm",
    "pgd",
    "project",
    "semantic_attack",
    "square",
]
