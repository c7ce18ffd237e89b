"""Load any dataset of the book by name, split and scale."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial

from advlib.data.dataset import ImageDataset
from advlib.data.mnist import load_mnist
from advlib.data.torchvision_sets import load_torchvision

SPLITS = ("train", "test")
SCALES = ("smoke", "class", "reference", "full")

Loader = Callable[..., ImageDataset]



def _torchvision_loader(name: str, split: str, scale: str, root, download: bool | None) -> ImageDataset:
    return load_torchvision(name, split, root=root, download=download)


# name -> {scale: loader(split, scale, root, download)}
_REGISTRY: dict[str, dict[str, Loader]] = {
    "mnist": {scale: load_mnist for scale in SCALES},
    "fashion_mnist": {"full": partial(_torchvision_loader, "fashion_mnist")},
    "cifar10": {"full": partial(_torchvision_loader, "cifar10")},
}


def available_datasets() -> dict[str, tuple[str, ...]]:
    """Each registered dataset with the scales it supports."""
    return {name: tuple(scales) for name, scales in _REGISTRY.items()}


def register_dataset(name: str, scale: str, loader: Loader) -> None:
    """Add a loader (chapters' generated datasets register themselves this way)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    _REGISTRY.setdefault(name, {})[scale] = loader


def load_dataset(
    name: str,
    split: str = "train",
    scale: str = "class",
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool | None = None,
) -> ImageDataset:
    """Load ``name`` at ``scale`` ('smoke', 'class', 'reference' or 'full').

    Full-scale data is read from the data root (``root`` or ``$ADVLIB_DATA``) and downloaded
    there when missing, unless ``download=False`` or ``$ADVLIB_OFFLINE=1``.

    Raises:
        ValueError: unknown name, split or scale, or a scale the dataset does not offer.
        advlib.errors.DataUnavailableError: the data is missing and cannot be downloaded.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; available: {sorted(_REGISTRY)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    loaders = _REGISTRY[name]
    if scale not in loaders:
        raise ValueError(
            f"dataset {name!r} has no {scale!r} scale (it has {sorted(loaders)}): it is not available "
            "offline, so only the full-scale version exists"
        )
    return loaders[scale](split, scale, root, download)

