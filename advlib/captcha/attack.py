"""Robust adversarial CAPTCHAs: the four modules of Zhang, Sang et al. (IEEE TMM 2021).

1. **Multi-target attack.** Every character position is attacked at once: the solver's
   logits are (N, C, L) and the objective is the cross-entropy summed over positions
   (``multi_target=False`` attacks the first position only, for the ablation).
2. **Ensemble.** The attack is crafted against several crackers together
   (:class:`advlib.attacks.Ensemble`), including an adversarially trained one.
3. **Differentiable approximation of preprocessing.** Crackers that binarise or median-
   filter the image are attacked through :class:`advlib.attacks.BPDA` (chosen when the
   crackers are built, see :func:`bpda_view`).
4. **Expectation over transforms.** The objective is averaged over random transforms
   (:class:`advlib.attacks.EOT`), so the CAPTCHA stays adversarial after the cracker
   rotates, rescales, blurs or compresses it.

The result is rounded to 8-bit colours inside the budget, because a web site serves a PNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from advlib.attacks import BPDA, EOT, Ensemble, Preprocessed, iterative_attack
from advlib.captcha.transforms import DIFFICULTIES, RandomCaptchaTransform
from advlib.utils import to_8bit_within


@dataclass(frozen=True)
class CaptchaAttackConfig:
    """The attack's budget and its switches (one per module of the method).

    ``alpha=None`` takes ``2.5 * eps / steps`` (Madry et al.'s rule), enough to cross the
    ball and come back within the step budget.
    """

    eps: float = 8 / 255
    steps: int = 20
    alpha: float | None = None
    multi_target: bool = True
    eot: bool = True
    eot_samples: int = 8
    eot_level: str = "hard"
    seed: int = 0

    def __post_init__(self) -> None:
        if not math.isfinite(self.eps) or not 0 < self.eps <= 1:
            raise ValueError(f"eps must be in (0, 1], got {self.eps!r}")
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {self.steps!r}")
        if not isinstance(self.eot_samples, int) or self.eot_samples < 1:
            raise ValueError(f"eot_samples must be an int >= 1, got {self.eot_samples!r}")
        if self.eot_level not in DIFFICULTIES:
            raise ValueError(f"eot_level must be one of {sorted(DIFFICULTIES)}, got {self.eot_level!r}")
        if self.alpha is not None and not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1] or None, got {self.alpha!r}")

    @property
    def step_size(self) -> float:
        return self.alpha if self.alpha is not None else 2.5 * self.eps / self.steps


def first_position_objective(logits: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Cross-entropy of the first character only: the single-target attack of the ablation."""
    ce = F.cross_entropy(logits[..., 0], labels[:, 0], reduction="none")
    return -ce if targeted else ce


def bpda_view(cracker: nn.Module) -> nn.Module:
    """The cracker as the attacker differentiates it: preprocessing replaced by BPDA.

    A :class:`~advlib.attacks.Preprocessed` cracker keeps its network and its exact
    preprocessing in the forward pass; the backward pass treats the preprocessing as the
    identity. Other models are returned unchanged.
    """
    if isinstance(cracker, Preprocessed) and not isinstance(cracker.preprocess, BPDA):
        return Preprocessed(cracker.model, BPDA(cracker.preprocess))
    return cracker


def craft_captchas(
    crackers: list[nn.Module], images: torch.Tensor, labels: torch.Tensor,
    config: CaptchaAttackConfig = CaptchaAttackConfig(), *, bpda: bool = True, batch_size: int = 100,
) -> torch.Tensor:
    """Adversarial versions of ``images`` (N, 3, H, W) that the ``crackers`` misread.

    Args:
        crackers: one or more solvers with outputs (N, C, L); several form an ensemble.
        labels: the true texts as character indices (N, L).
        bpda: attack preprocessing crackers through BPDA (module 3); ``False`` uses their
            true gradients (zero almost everywhere for binarisation), for the ablation.
    """
    if not crackers:
        raise ValueError("give at least one cracker to attack")
    members = [bpda_view(cracker) if bpda else cracker for cracker in crackers]
    model: nn.Module = members[0] if len(members) == 1 else Ensemble(members)
    generator = torch.Generator().manual_seed(config.seed)
    if config.eot:
        model = EOT(model, RandomCaptchaTransform(config.eot_level, generator), samples=config.eot_samples)
    loss = "ce" if config.multi_target else first_position_objective
    batches = []
    for start in range(0, images.shape[0], batch_size):
        x, y = images[start : start + batch_size], labels[start : start + batch_size]
        adversarial = iterative_attack(
            model, x, y, eps=config.eps, alpha=config.step_size, steps=config.steps, loss=loss
        )
        batches.append(to_8bit_within(adversarial, x, config.eps))
    return torch.cat(batches)
