"""An in-memory image dataset that is fast to batch on a CPU.

All the book's 28x28 and 32x32 datasets fit in memory as uint8 (CIFAR-10's 60k images are
184 MB), so instead of a DataLoader that assembles batches image by image we slice one
tensor: an epoch of MNIST then costs milliseconds of data handling, not seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ImageDataset(torch.utils.data.Dataset):
    """Images stored as uint8 NCHW, served as float32 in [0, 1].

    Attributes:
        images: uint8 tensor (N, C, H, W).
        labels: int64 tensor (N,), or (N, L) when each image holds L symbols (CAPTCHAs).
        classes: class names, indexed by label.
        name, split, scale: where it came from, for records and error messages.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str
    split: str
    scale: str

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if self.labels.dim() not in (1, 2) or self.labels.shape[0] != self.images.shape[0]:
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},) or ({self.images.shape[0]}, L), "
                f"got {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        label = self.labels[index]
        return self.images[index].float().div_(255), int(label) if label.dim() == 0 else label

    def tensors(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """The whole set as (float images in [0, 1], labels) on ``device``."""
        return self.images.to(device).float().div_(255), self.labels.to(device)

    def subset(self, count: int, generator: torch.Generator | None = None) -> ImageDataset:
        """The first ``count`` items, or a random ``count`` of them when a generator is given."""
        if not 0 < count <= len(self):
            raise ValueError(f"count must be in [1, {len(self)}], got {count}")
        index = torch.arange(count) if generator is None else torch.randperm(len(self), generator=generator)[:count]
        return ImageDataset(self.images[index], self.labels[index], self.classes, self.name, self.split, self.scale)

    def batches(
        self,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        drop_last: bool = False,
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Yield (images, labels) batches; shuffling draws from ``generator`` for reproducibility."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for start in range(0, stop, batch_size):
            index = order[start : start + batch_size]
            yield self.images[index].to(device).float().div_(255), self.labels[index].to(device)
