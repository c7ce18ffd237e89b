"""The objectives attacks maximise, per sample.

Logits are (N, C) for a classifier, or (N, C, L) for a model that reads L symbols at once
(one class per position, as a CAPTCHA solver does), with labels (N,) or (N, L). For
sequences the objective is summed over positions, so every position is attacked at once
(the "multi-target" attack of Zhang et al.), and an untargeted attack succeeds when any
position is read wrong (the whole string is then wrong).

Both objectives are written so that *larger is better for the attacker*, for targeted
and untargeted attacks alike, and they are returned per sample: the gradient of their
sum gives each sample its own gradient, which keeps every attack batch-size independent.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def cross_entropy_objective(logits: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Untargeted: CE(f(x), y), to push away from the true class.
    Targeted: -CE(f(x), t), to pull towards the target class."""
    ce = _per_sample_sum(F.cross_entropy(logits, labels, reduction="none"))
    return -ce if targeted else ce


def _per_sample_sum(values: torch.Tensor) -> torch.Tensor:
    return values if values.dim() == 1 else values.flatten(1).sum(dim=1)


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
    label_logit = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
    is_label = F.one_hot(labels, logits.shape[1]).movedim(-1, 1).bool()
    best_other = logits.masked_fill(is_label, float("-inf")).amax(dim=1)
    margin = label_logit - best_other if targeted else best_other - label_logit
    return _per_sample_sum(margin.clamp(max=kappa))


def attack_objective(
    logits: torch.Tensor, labels: torch.Tensor, *, loss: str | Callable, targeted: bool
) -> torch.Tensor:
    """Dispatch on the loss name ('ce' or 'margin'), or call a custom objective."""
    if callable(loss):
        return loss(logits, labels, targeted)
    if loss == "ce":
        return cross_entropy_objective(logits, labels, targeted)
    return margin_objective(logits, labels, targeted)


def is_adversarial(logits: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Per-sample success: prediction differs from the label (or equals the target).

    For sequences: some position differs (untargeted), every position matches (targeted).
    """
    predictions = logits.argmax(dim=1)
    if targeted:
        hit = predictions == labels
        return hit if hit.dim() == 1 else hit.flatten(1).all(dim=1)
    miss = predictions != labels
    return miss if miss.dim() == 1 else miss.flatten(1).any(dim=1)
