"""Full-scale datasets through torchvision's own loaders, formats and downloaders.

Files live under the data root in torchvision's layout (``MNIST/raw``, ``FashionMNIST/raw``,
``cifar-10-batches-py``). torchvision verifies the checksums of what it downloads. When the
files are missing and downloading is off or fails, the reader gets one
:class:`~advlib.errors.DataUnavailableError` naming the dataset, the path and the remedy.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advlib.data.dataset import ImageDataset
from advlib.data.root import data_root, downloads_allowed
from advlib.errors import DataUnavailableError
from advlib.utils import atomic_path

# Debian's `dataset-fashion-mnist` package ships the official gzip files here.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class _Spec:
    torchvision_class: str
    folder: str  # relative to the data root, where torchvision looks
    how_to_provide: str


_SPECS = {
    "mnist": _Spec(
        "MNIST",
        "MNIST/raw",
        "Run once with network access (downloading on), or copy the four uncompressed IDX files "
        "(train-images-idx3-ubyte, ...) into that folder.",
    ),
    "fashion_mnist": _Spec(
        "FashionMNIST",
        "FashionMNIST/raw",
        "Run once with network access (downloading on), install Debian's dataset-fashion-mnist "
        "package, or copy the four uncompressed IDX files into that folder.",
    ),
    "cifar10": _Spec(
        "CIFAR10",
        "cifar-10-batches-py",
        "Run once with network access (downloading on), or extract cifar-10-python.tar.gz "
        "into the data root so that this folder holds data_batch_1..5 and test_batch.",
    ),
}


def _provision_fashion_mnist_from_debian(root: Path) -> bool:
    """Gunzip Debian's official Fashion-MNIST files into torchvision's layout, checking them
    against torchvision's md5 list first. Returns True when the files are now in place."""
    import torchvision.datasets as tv_datasets

    if not DEBIAN_FASHION_MNIST.is_dir():
        return False
    raw = root / _SPECS["fashion_mnist"].folder
    for filename, md5 in tv_datasets.FashionMNIST.resources:
        source = DEBIAN_FASHION_MNIST / filename
        if not source.is_file() or hashlib.md5(source.read_bytes()).hexdigest() != md5:
            return False
    raw.mkdir(parents=True, exist_ok=True)
    for filename, _ in tv_datasets.FashionMNIST.resources:
        target = raw / filename.removesuffix(".gz")
        if target.exists():
            continue
        with atomic_path(target) as temporary, gzip.open(DEBIAN_FASHION_MNIST / filename) as src, open(
            temporary, "wb"
        ) as dst:
            shutil.copyfileobj(src, dst)  # atomic: never a half-written IDX file
    return True


def _open(name: str, split: str, root: Path, download: bool):
    import torchvision.datasets as tv_datasets

    cls = getattr(tv_datasets, _SPECS[name].torchvision_class)
    return cls(str(root), train=(split == "train"), download=download)


def load_torchvision(name: str, split: str, root=None, download: bool | None = None) -> ImageDataset:
    """Load a torchvision dataset as an :class:`ImageDataset` (uint8, NCHW)."""
    spec = _SPECS[name]
    root = data_root(root)
    looked_at = root / spec.folder
    found_problem = None
    try:
        dataset = _open(name, split, root, download=False)
    except RuntimeError as error:  # torchvision's "not found or corrupted"
        dataset, found_problem = None, str(error)
    if dataset is None and name == "fashion_mnist" and _provision_fashion_mnist_from_debian(root):
        dataset = _open(name, split, root, download=False)
    if dataset is None:
        if not downloads_allowed(download):
            raise DataUnavailableError(
                f"Dataset {name!r} (full scale)", looked_at,
                f"{spec.how_to_provide} Downloading is off. (torchvision: {found_problem})",
            )
        try:
            dataset = _open(name, split, root, download=True)
        except Exception as error:  # network refused, timeout, bad checksum: same clear message
            raise DataUnavailableError(
                f"Dataset {name!r} (full scale)", looked_at, spec.how_to_provide, cause=repr(error)
            ) from error
    data = dataset.data
    images = torch.as_tensor(np.asarray(data))
    images = images.unsqueeze(1) if images.dim() == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)
    return ImageDataset(images.contiguous(), labels, tuple(dataset.classes), name, split, "full")
