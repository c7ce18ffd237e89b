"""Measurements for the ITID generalisation theory (Zheng, Sang et al., arXiv:1911.12603, as the
talk, seed S0, presents it).

Definition 3 of the talk calls a model gamma-dependent on the task-irrelevant generative
variables G_U when ``H(Y_hat | G_Y) <= gamma``. Because the prediction is a function of all
generative variables, ``H(Y_hat | G) = 0`` and the same number is the information that G_U
carries about the prediction once G_Y is known: ``I(Y_hat; G_U | G_Y) = H(Y_hat | G_Y)``.
Theorem 2 then bounds the test loss by the best achievable loss plus a task-complexity term
plus ``gamma / log 2``: the less a model depends on G_U, the better it generalises.

Estimates here are plug-in entropies of empirical distributions, in bits, on a grid that
crosses G_Y with G_U independently (so the grid itself has no spurious correlation).
"""

from __future__ import annotations

import torch

from advlib.data.dataset import ImageDataset


def _entropy_bits(counts: torch.Tensor) -> torch.Tensor:
    """Entropy in bits of each row of a count matrix (rows with no counts give 0)."""
    counts = counts.double()
    totals = counts.sum(dim=-1, keepdim=True).clamp_min(1)
    p = counts / totals
    logs = torch.where(p > 0, p.log2(), torch.zeros_like(p))
    return -(p * logs).sum(dim=-1)


def conditional_entropy(outcomes: torch.Tensor, groups: torch.Tensor, num_outcomes: int | None = None) -> float:
    """``H(outcome | group)`` in bits from paired samples: the group-frequency-weighted mean of
    the entropy of outcomes within each group (plug-in estimate)."""
    if outcomes.dim() != 1 or outcomes.shape != groups.shape:
        raise ValueError(f"outcomes and groups must be 1-d and of one length, got {tuple(outcomes.shape)} and "
                         f"{tuple(groups.shape)}")
    if outcomes.numel() == 0:
        raise ValueError("no samples")
    if int(outcomes.min()) < 0 or int(groups.min()) < 0:
        raise ValueError("outcomes and groups must be non-negative integer codes")
    num_outcomes = num_outcomes or int(outcomes.max()) + 1
    group_ids, group_index = groups.unique(return_inverse=True)
    counts = torch.zeros(len(group_ids), num_outcomes, dtype=torch.float64)
    counts.index_put_((group_index, outcomes.long()), torch.ones(len(outcomes), dtype=torch.float64), accumulate=True)
    weights = counts.sum(dim=1) / counts.sum()
    return float((weights * _entropy_bits(counts)).sum())


def gamma_dependence(predictions: torch.Tensor, task_labels: torch.Tensor, num_classes: int) -> float:
    """The talk's gamma-hat, ``H(Y_hat | G_Y)`` in bits, with G_Y the task label.

    On a grid that crosses every task value with every nuisance value, it counts how much
    the predictions of one class vary over everything else: the nuisance variable we set
    (e.g. colour), but also the ones we do not control (handwriting), and the model's plain
    errors. A perfect model has ``gamma = 0``; a model that ignores the task and follows a
    uniform nuisance variable with ``K`` values has ``gamma = log2 K``.
    """
    return conditional_entropy(predictions, task_labels, num_classes)


def nuisance_dependence(grid_predictions: torch.Tensor, num_classes: int) -> float:
    """How much the prediction for one image depends on the nuisance value alone, in bits.

    ``grid_predictions`` is (nuisance values, images): the predictions for each image under
    every value of the controlled nuisance variable (e.g. every background colour), all else
    fixed. The mean over images of the entropy across nuisance values estimates
    ``I(Y_hat; G_C | all other variables)``, the part of gamma that the controlled variable
    causes. It is 0 exactly when no image's prediction changes with the nuisance value.
    """
    if grid_predictions.dim() != 2:
        raise ValueError(f"grid_predictions must be (nuisance values, images), got {tuple(grid_predictions.shape)}")
    columns = grid_predictions.T.long()
    counts = torch.zeros(columns.shape[0], num_classes, dtype=torch.float64)
    counts.scatter_add_(1, columns, torch.ones_like(columns, dtype=torch.float64))
    return float(_entropy_bits(counts).mean())


def random_labels(dataset: ImageDataset, fraction: float, *, seed: int) -> ImageDataset:
    """``dataset`` with the label of each image replaced, with probability ``fraction``, by a
    class drawn uniformly at random (which may be the true one).

    In ITID terms this changes the task: the label no longer follows the task-related
    variables. At ``fraction = 1`` nothing in the images predicts the labels, so whatever a
    model fits on the training set is memorised.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
    if dataset.labels.dim() != 1:
        raise ValueError("random_labels needs one label per image")
    generator = torch.Generator().manual_seed(seed)
    replaced = torch.rand(len(dataset), generator=generator) < fraction
    drawn = torch.randint(len(dataset.classes), (len(dataset),), generator=generator)
    labels = torch.where(replaced, drawn, dataset.labels)
    return ImageDataset(dataset.images, labels, dataset.classes, f"{dataset.name}_random{fraction:g}", dataset.split,
                        dataset.scale)
