"""Class-imbalanced training sets and rare-class augmentation (chapter 9, seed S4's third use).

A class kept at a few per cent of its images is the setting in which re-weighting, plain
augmentation and adversarial augmentation are compared; these helpers build it from any
:class:`~advlib.data.dataset.ImageDataset` without copying code between experiments.
"""

from __future__ import annotations

import torch

from advlib.data.dataset import ImageDataset


def downsample_class(dataset: ImageDataset, label: int, share: float, generator: torch.Generator) -> ImageDataset:
    """``dataset`` with only ``share`` of class ``label``'s images (at least one), drawn with
    ``generator``; the other classes are kept whole, and the kept rare images come last."""
    if dataset.labels.dim() != 1:
        raise ValueError("downsample_class needs one label per image")
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share!r}")
    members = torch.nonzero(dataset.labels == label).squeeze(1)
    if len(members) == 0:
        raise ValueError(f"class {label} has no images in {dataset.name} ({dataset.split})")
    kept = members[torch.randperm(len(members), generator=generator)[: max(1, round(share * len(members)))]]
    others = torch.nonzero(dataset.labels != label).squeeze(1)
    index = torch.cat([others, kept])
    return ImageDataset(dataset.images[index], dataset.labels[index], dataset.classes, dataset.name, dataset.split,
                        dataset.scale)


def with_extra_images(dataset: ImageDataset, images: torch.Tensor, label: int) -> ImageDataset:
    """``dataset`` plus ``images`` (floats in [0, 1], rounded to 8 bits), all of class ``label``."""
    if images.dim() != 4 or images.shape[1:] != dataset.images.shape[1:]:
        raise ValueError(f"extra images must have shape (N, {', '.join(map(str, dataset.images.shape[1:]))}), "
                         f"got {tuple(images.shape)}")
    if images.min() < 0 or images.max() > 1:
        raise ValueError("extra images must lie in [0, 1]")
    extra = images.detach().cpu().mul(255).round().to(torch.uint8)
    labels = torch.full((len(extra),), label, dtype=dataset.labels.dtype)
    return ImageDataset(torch.cat([dataset.images, extra]), torch.cat([dataset.labels, labels]), dataset.classes,
                        dataset.name, dataset.split, dataset.scale)


def class_recall(predicted: torch.Tensor, labels: torch.Tensor, label: int) -> float:
    """The share of ``label``'s test images predicted as ``label`` (its per-class accuracy)."""
    members = labels == label
    if not members.any():
        raise ValueError(f"no test image of class {label}")
    return (predicted[members] == label).float().mean().item()
