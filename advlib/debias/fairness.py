"""Fairness metrics over (target, bias) groups, as the talk defines them (seed S0).

For a target class ``t`` and a binary bias attribute ``b`` (background colour, gender), the
talk's model bias is the gap between the two bias groups' accuracies on that class,

    bias(theta, t) = | P(t_hat = t | b = 0, t* = t) - P(t_hat = t | b = 1, t* = t) |,

and balanced accuracy (bACC) is the mean accuracy over all (t, b) groups, so that a group
with few test images counts as much as a large one. The talk's tables give one "model bias"
number per method without saying how the per-class gaps are aggregated; its C-MNIST values
(7.84 for the original model) only fit a *sum* of gaps written as fractions, its CelebA values
(one binary target) a gap in per cent (REPRO_SPEC section 3.4). :class:`FairnessReport`
therefore carries the per-class vector and both aggregates, and says which is which.

Re-sampling and re-weighting, the classic debiasing baselines, are defined from the same
group counts; both are undefined when a group is empty (a fully biased training set), which
is why the talk's C-MNIST table has "-" in their rows. They raise a clear error then.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advlib.data.biased import group_counts


def _check_predictions(predictions: torch.Tensor, labels: torch.Tensor, bias: torch.Tensor) -> None:
    if predictions.dim() != 1 or predictions.shape != labels.shape or labels.shape != bias.shape:
        raise ValueError(f"predictions, labels and bias must be 1-d of one length, got {tuple(predictions.shape)}, "
                         f"{tuple(labels.shape)} and {tuple(bias.shape)}")


def group_accuracy(predictions: torch.Tensor, labels: torch.Tensor, bias: torch.Tensor, num_classes: int,
                   num_bias: int = 2) -> torch.Tensor:
    """Accuracy in each (target, bias) group, float64 (num_classes, num_bias); NaN where a group has
    no test sample (an empty group has no accuracy, and 0 would be a lie)."""
    _check_predictions(predictions, labels, bias)
    counts = group_counts(labels, bias, num_classes, num_bias).double()
    correct = (predictions.cpu() == labels.cpu())
    hits = group_counts(labels.cpu()[correct], bias.cpu()[correct], num_classes, num_bias).double()
    return torch.where(counts > 0, hits / counts.clamp_min(1), torch.full_like(counts, float("nan")))


def model_bias_per_class(accuracy: torch.Tensor) -> torch.Tensor:
    """The talk's bias(theta, t) for every class t: the absolute accuracy gap between the two bias
    groups, as a fraction. Needs a binary bias attribute and both groups present."""
    if accuracy.dim() != 2 or accuracy.shape[1] != 2:
        raise ValueError(f"model bias is defined for a binary bias attribute: need (classes, 2), got "
                         f"{tuple(accuracy.shape)}")
    missing = torch.isnan(accuracy).nonzero().tolist()
    if missing:
        raise ValueError(f"model bias needs test samples in every (class, bias) group; empty: {missing}")
    return (accuracy[:, 0] - accuracy[:, 1]).abs()


def balanced_accuracy(accuracy: torch.Tensor) -> float:
    """bACC: the mean of the group accuracies, every (target, bias) group weighted equally."""
    missing = torch.isnan(accuracy).nonzero().tolist()
    if missing:
        raise ValueError(f"balanced accuracy needs test samples in every (class, bias) group; empty: {missing}")
    return float(accuracy.mean())


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts int64 (num_classes, num_classes): row = true class, column = prediction."""
    if predictions.shape != labels.shape or predictions.dim() != 1:
        raise ValueError(f"predictions and labels must be 1-d of one length, got {tuple(predictions.shape)} and "
                         f"{tuple(labels.shape)}")
    flat = labels.long().cpu() * num_classes + predictions.long().cpu()
    return torch.bincount(flat, minlength=num_classes**2).view(num_classes, num_classes)


@dataclass(frozen=True)
class FairnessReport:
    """Everything the talk's tables report about one model on one crossed test set.

    Attributes:
        group_accuracy: (num_classes, 2) accuracies, fractions.
        per_class_bias: (num_classes,) gaps bias(theta, t), fractions.
        bias_sum: sum over classes of the gaps (fractions): the reading that fits the talk's
            C-MNIST column (Original 7.84 of at most 10).
        bias_mean_percent: mean over classes of the gaps, in per cent: the reading that fits its
            CelebA column (one class, 5.48).
        balanced_accuracy: bACC, a fraction.
        accuracy: plain accuracy over all test samples, a fraction.
    """

    group_accuracy: torch.Tensor
    per_class_bias: torch.Tensor
    bias_sum: float
    bias_mean_percent: float
    balanced_accuracy: float
    accuracy: float


def fairness_report(predictions: torch.Tensor, labels: torch.Tensor, bias: torch.Tensor,
                    num_classes: int) -> FairnessReport:
    """The talk's metrics for predictions on a test set with a binary bias attribute."""
    accuracy = group_accuracy(predictions, labels, bias, num_classes, 2)
    gaps = model_bias_per_class(accuracy)
    return FairnessReport(
        group_accuracy=accuracy,
        per_class_bias=gaps,
        bias_sum=float(gaps.sum()),
        bias_mean_percent=100 * float(gaps.mean()),
        balanced_accuracy=balanced_accuracy(accuracy),
        accuracy=float((predictions.cpu() == labels.cpu()).double().mean()),
    )


def _require_every_group(counts: torch.Tensor, method: str) -> None:
    empty = (counts == 0).nonzero().tolist()
    if empty:
        raise ValueError(f"{method} is undefined: the (class, bias) groups {empty} have no training sample "
                         "(a fully biased set has nothing to re-sample or re-weight)")


def reweighting_weights(labels: torch.Tensor, bias: torch.Tensor, num_classes: int, num_bias: int = 2
                        ) -> torch.Tensor:
    """Per-sample loss weights inversely proportional to the size of each sample's (target, bias)
    group, scaled to mean 1: every group then carries the same total weight in the loss."""
    counts = group_counts(labels, bias, num_classes, num_bias)
    _require_every_group(counts, "reweighting")
    weights = 1.0 / counts.double()[labels.long().cpu(), bias.long().cpu()]
    return (weights / weights.mean()).float()


def undersample_index(labels: torch.Tensor, bias: torch.Tensor, num_classes: int, num_bias: int = 2, *,
                      generator: torch.Generator) -> torch.Tensor:
    """Positions of a balanced subset: from every (target, bias) group as many samples, drawn at
    random, as the smallest group has. Balanced, and small: the price the talk's CelebA table
    shows (fairness bought with accuracy)."""
    counts = group_counts(labels, bias, num_classes, num_bias)
    _require_every_group(counts, "under-sampling")
    keep = int(counts.min())
    flat = labels.long().cpu() * num_bias + bias.long().cpu()
    chosen = []
    for group in range(num_classes * num_bias):
        members = (flat == group).nonzero().squeeze(1)
        chosen.append(members[torch.randperm(len(members), generator=generator)[:keep]])
    return torch.cat(chosen).sort().values
