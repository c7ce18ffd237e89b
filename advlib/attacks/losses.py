"""The objectives attacks maximise, per sample.

Both objectives are written so that *larger is better for the attacker*, for targeted
and untargeted attacks alike, and they are returned per sample: the gradient of their
sum gives each sample its own gradient, which keeps every attack batch-size independent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy_objective(logits: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Untargeted: CE(f(x), y), to push away from the true class.
    Targeted: -CE(f(x), t), to pull towards the target class."""
    ce = F.cross_entropy(logits, labels, reduction="none")
    return -ce if targeted else ce


def margin_objective(
    logits: torch.Tensor, labels: torch.Tensor, targeted: bool, kappa: float = float("inf")
) -> torch.Tensor:
    """The Carlini-Wagner margin on logits, capped at ``kappa``.

    Untargeted: ``min(max_{i != y} z_i - z_y, kappa)``; targeted: ``min(z_t - max_{i != t} z_i,
    kappa)``. Logit differences equal log-probability differences, so this is the survey's
    ``max(max_{i != l'} log f(x)_i - log f(x)_{l'}, -kappa)`` with the sign flipped to a
    quantity to maximise. The "other" maximum masks the label with -inf (torchattacks
    multiplies by a 0/1 mask instead, which is wrong when every other logit is negative).
    """
    label_logit = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.masked_fill(F.one_hot(labels, logits.shape[1]).bool(), float("-inf"))
    best_other = others.amax(dim=1)
    margin = label_logit - best_other if targeted else best_other - label_logit
    return margin.clamp(max=kappa)


def attack_objective(
    logits: torch.Tensor, labels: torch.Tensor, *, loss: str, targeted: bool
) -> torch.Tensor:
    """Dispatch on the loss name ('ce' or 'margin')."""
    if loss == "ce":
        return cross_entropy_objective(logits, labels, targeted)
    return margin_objective(logits, labels, targeted)


def is_adversarial(logits: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Per-sample success: prediction differs from the label (or equals the target)."""
    predictions = logits.argmax(dim=1)
    return predictions == labels if targeted else predictions != labels
