"""Images with two labels: the target to predict and a bias attribute that should not matter.

Debiasing methods need to know, for every training image, both its target label (the digit;
CelebA's Arched_Eyebrows) and its bias attribute (the background colour; gender), because
they re-balance, re-weight or augment the (target, bias) groups. :class:`BiasedDataset`
keeps the two side by side, so that every subset, concatenation and group count keeps them
aligned: a bias vector that drifts out of step with its images would silently corrupt every
fairness number downstream.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from advlib.data.dataset import ImageDataset


@dataclass(frozen=True)
class BiasedDataset:
    """An :class:`ImageDataset` (target labels) plus one bias attribute per image.

    Attributes:
        data: the images and their target labels (N,).
        bias: int64 (N,), the bias attribute's value for each image, in ``range(len(bias_names))``.
        bias_names: the names of the bias values, e.g. ``("red", "brown")`` or ``("female", "male")``.
    """

    data: ImageDataset
    bias: torch.Tensor
    bias_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.data.labels.dim() != 1:
            raise ValueError("a BiasedDataset needs one target label per image")
        if self.bias.dtype != torch.int64 or self.bias.shape != (len(self.data),):
            raise ValueError(f"bias must be int64 of shape ({len(self.data)},), got {self.bias.dtype} "
                             f"{tuple(self.bias.shape)}")
        if len(self.bias_names) < 2:
            raise ValueError(f"a bias attribute needs at least two values, got {self.bias_names!r}")
        if self.bias.numel() and (int(self.bias.min()) < 0 or int(self.bias.max()) >= len(self.bias_names)):
            raise ValueError(f"bias values must be in [0, {len(self.bias_names)}) for names {self.bias_names!r}")

    def __len__(self) -> int:
        return len(self.data)

    @property
    def labels(self) -> torch.Tensor:
        return self.data.labels

    @property
    def num_classes(self) -> int:
        return len(self.data.classes)

    @property
    def num_bias(self) -> int:
        return len(self.bias_names)

    def select(self, index: torch.Tensor, name: str | None = None) -> BiasedDataset:
        """The images at ``index`` (a long tensor of positions), labels and bias kept aligned."""
        index = torch.as_tensor(index, dtype=torch.long)
        data = ImageDataset(self.data.images[index], self.data.labels[index], self.data.classes,
                            name or self.data.name, self.data.split, self.data.scale)
        return BiasedDataset(data, self.bias[index], self.bias_names)

    def group_counts(self) -> torch.Tensor:
        """Images per (target, bias) group: int64 (num_classes, num_bias)."""
        return group_counts(self.labels, self.bias, self.num_classes, self.num_bias)

    def tensors(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(float images in [0, 1], target labels, bias) on ``device``."""
        images, labels = self.data.tensors(device)
        return images, labels, self.bias.to(device)

    def batches(self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None,
                device: torch.device | str = "cpu") -> Iterator[tuple[torch.Tensor, ...]]:
        """Yield (images, labels, bias, positions) batches; ``positions`` index per-sample weights."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        for start in range(0, len(self), batch_size):
            index = order[start : start + batch_size]
            yield (self.data.images[index].to(device).float().div_(255), self.data.labels[index].to(device),
                   self.bias[index].to(device), index)


def group_counts(labels: torch.Tensor, bias: torch.Tensor, num_classes: int, num_bias: int) -> torch.Tensor:
    """How many samples fall in each (target, bias) group: int64 (num_classes, num_bias)."""
    if labels.shape != bias.shape or labels.dim() != 1:
        raise ValueError(f"labels and bias must be 1-d of one length, got {tuple(labels.shape)} and "
                         f"{tuple(bias.shape)}")
    flat = labels.long().cpu() * num_bias + bias.long().cpu()
    return torch.bincount(flat, minlength=num_classes * num_bias).view(num_classes, num_bias)


def concatenate(parts: Sequence[BiasedDataset], name: str) -> BiasedDataset:
    """One dataset of ``parts`` in order (same classes and bias names required)."""
    if not parts:
        raise ValueError("nothing to concatenate")
    first = parts[0]
    for part in parts[1:]:
        if part.data.classes != first.data.classes or part.bias_names != first.bias_names:
            raise ValueError("can only concatenate datasets with the same classes and bias names")
        if part.data.images.shape[1:] != first.data.images.shape[1:]:
            raise ValueError(f"image shapes differ: {tuple(first.data.images.shape[1:])} and "
                             f"{tuple(part.data.images.shape[1:])}")
    data = ImageDataset(torch.cat([part.data.images for part in parts]), torch.cat([part.labels for part in parts]),
                        first.data.classes, name, first.data.split, first.data.scale)
    return BiasedDataset(data, torch.cat([part.bias for part in parts]), first.bias_names)
