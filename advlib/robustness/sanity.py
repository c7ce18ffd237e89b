"""Checks that flag a robustness evaluation not to be trusted, each as a named warning.

A high robust accuracy means the model is robust or the attack failed, and the number
alone does not say which. Athalye et al. (2018) and the AutoAttack authors list the usual
ways an attack fails without anyone noticing; these checks look for them (issue 16):

* ``randomised-output``: the model gives different scores for the same input. A gradient
  attack then follows one random draw; the defence needs EOT (chapter 2).
* ``softmax-output``: the scores are probabilities, not logits. The cross-entropy of a
  softmax output saturates and its gradient vanishes.
* ``zero-gradients`` / ``non-finite-gradients``: the input gradient of the DLR loss is
  exactly zero (a quantiser, a step function) or NaN/inf for some samples, so a gradient
  attack has nothing to follow. DLR, not cross-entropy, because a confident honest model's
  cross-entropy gradient can underflow to zero in float32.
* ``huge-budget-not-broken``: a gradient attack allowed to reach any image in the box
  (L-inf eps = 1) leaves samples correctly classified. Every honest model is broken there;
  a model that is not hides its gradients.
* ``black-box-beats-white-box``: Square, which reads only scores, breaks samples that the
  gradient attacks before it could not. On an honest model the white-box attacks are
  stronger; when they are not, their gradients are misleading.

The ideas come from AutoAttack's checks and ART's; the code is this book's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from advlib.attacks.apgd import apgd, dlr_objective

CHECKS = ("randomised-output", "softmax-output", "zero-gradients", "non-finite-gradients",
          "huge-budget-not-broken", "black-box-beats-white-box")


@dataclass(frozen=True)
class SanityWarning:
    """One failed check: its name (one of :data:`CHECKS`), what was measured, and what to do."""

    name: str
    measured: float
    message: str

    def __str__(self) -> str:
        return f"[{self.name}] {self.message}"


def check_randomised_output(model: nn.Module, images: torch.Tensor, repeats: int = 3,
                            tolerance: float = 1e-4) -> SanityWarning | None:
    """Score the same images ``repeats`` times; warn if the normalised scores move by more
    than ``tolerance`` (an L2 distance between unit-norm score vectors)."""
    with torch.no_grad():
        outputs = [model(images) for _ in range(repeats)]
    units = [output / output.flatten(1).norm(dim=1, keepdim=True).clamp_min(1e-12) for output in outputs]
    spread = max(((units[0] - other).flatten(1).norm(dim=1).max().item() for other in units[1:]), default=0.0)
    if spread <= tolerance:
        return None
    return SanityWarning("randomised-output", spread,
                         f"the same inputs got different scores (largest change {spread:.3g}): a randomised "
                         "defence; attack its expectation with EOT and report the average over draws")


def check_softmax_output(model: nn.Module, images: torch.Tensor, tolerance: float = 1e-5) -> SanityWarning | None:
    """Warn if every output row is a probability distribution (or its logarithm)."""
    with torch.no_grad():
        output = model(images)
    for scores, kind in ((output, "probabilities"), (output.exp(), "log-probabilities")):
        if bool(((scores >= -tolerance) & (scores <= 1 + tolerance)).all()) and \
                bool(((scores.sum(dim=1) - 1).abs() <= tolerance).all()):
            return SanityWarning("softmax-output", 1.0,
                                 f"the model outputs {kind}, not logits: the cross-entropy saturates and its "
                                 "gradient vanishes; evaluate the network before its softmax")
    return None


def check_gradients(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[SanityWarning]:
    """Warn for samples whose input gradient of the DLR loss is exactly zero or not finite."""
    point = images.detach().clone().requires_grad_(True)
    logits = model(point)
    if logits.shape[1] < 3:
        return []
    (grad,) = torch.autograd.grad(dlr_objective(logits, labels).sum(), point)
    flat = grad.flatten(1)
    found = []
    zero = int((flat == 0).all(dim=1).sum())
    if zero:
        found.append(SanityWarning("zero-gradients", zero / len(flat),
                                   f"{zero} of {len(flat)} samples have an input gradient of exactly zero: a "
                                   "gradient attack cannot move them; try BPDA or a score-based attack"))
    broken = int((~torch.isfinite(flat)).any(dim=1).sum())
    if broken:
        found.append(SanityWarning("non-finite-gradients", broken / len(flat),
                                   f"{broken} of {len(flat)} samples have NaN or infinite input gradients"))
    return found


def check_huge_budget(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int = 20,
                      tolerance: float = 0.01) -> SanityWarning | None:
    """Attack with APGD-CE at L-inf eps = 1 (any image in the box is allowed), from the clean
    images so that only the gradients can help; warn if more than ``tolerance`` of the
    samples are still classified correctly."""
    with torch.enable_grad():
        adversarial = apgd(model, images, labels, 1.0, steps=steps, loss="ce", random_start=False)
    with torch.no_grad():
        survived = (model(adversarial).argmax(dim=1) == labels).float().mean().item()
    if survived <= tolerance:
        return None
    return SanityWarning("huge-budget-not-broken", survived,
                         f"{survived:.1%} of the samples survive a gradient attack that may change every pixel "
                         "arbitrarily (eps = 1): the gradients do not lead anywhere; the robust accuracy "
                         "at the real budget is not trustworthy")


def check_black_box(accuracy_after: Mapping[str, float], black_box: Sequence[str],
                    tolerance: float = 0.002) -> SanityWarning | None:
    """``accuracy_after`` maps each attack, in the order run, to the robust accuracy after it
    (each attack runs on the samples the earlier ones left). Warn if a black-box attack run
    after some white-box attack lowered it by more than ``tolerance`` (AutoAttack's threshold
    is 0.2 points)."""
    names = list(accuracy_after)
    for position, name in enumerate(names):
        if name not in black_box or all(other in black_box for other in names[:position]):
            continue
        drop = accuracy_after[names[position - 1]] - accuracy_after[name]
        if drop > tolerance:
            return SanityWarning("black-box-beats-white-box", drop,
                                 f"{name}, which sees no gradients, lowered the robust accuracy by {drop:.1%} "
                                 "after the gradient attacks: their gradients mislead them; use an adaptive "
                                 "attack (BPDA, EOT) before trusting the number")
    return None


def run_model_checks(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[SanityWarning]:
    """The checks that need only the model and some correctly classified samples: all but
    the black-box one. All of them always run: a failing model may fail several, and each
    says something different about why."""
    found = [check_randomised_output(model, images), check_softmax_output(model, images)]
    found += check_gradients(model, images, labels)
    found.append(check_huge_budget(model, images, labels))
    return [warning for warning in found if warning is not None]
