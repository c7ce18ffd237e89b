"""Full-scale datasets through torchvision's own loaders, formats and downloaders.

Files live under the data root in torchvision's layout (``MNIST/raw``, ``FashionMNIST/raw``,
``cifar-10-batches-py``). torchvision verifies the checksums of what it downloads. When the
files are missing and downloading is off or fails, the reader gets one
:class:`~advlib.errors.DataUnavailableError` naming the dataset, the path and the remedy.
"""

from __future__ import annotations

import gzip
import hashlib
import os
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


# A folder holding the four official MNIST gzip files (this project's CI keeps a copy in
# ../shared/data/MNIST/raw; the Makefile points this variable at it when it is there).
MNIST_MIRROR_VAR = "ADVLIB_MNIST_MIRROR"


# The md5 of the uncompressed official files, for copies that were gzipped again (the gzip
# bytes then differ from torchvision's list while the digits are the same).
_UNCOMPRESSED_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
}


def _gunzipped_md5(path: Path) -> str | None:
    """The md5 of a gzip file's content; None when it is not a whole gzip file."""
    try:
        return hashlib.md5(gzip.decompress(path.read_bytes())).hexdigest()
    except (OSError, EOFError):
        return None


def _provision_from_gzip_files(name: str, source_folder: Path, root: Path) -> bool:
    """Gunzip a dataset's official gzip files from ``source_folder`` into torchvision's layout
    under ``root``, checking each against torchvision's md5 list (or, for a recompressed copy,
    its content against the official files' md5) first. Returns True when the files are now
    in place; False (nothing written) when any file is missing or differs."""
    import torchvision.datasets as tv_datasets

    resources = getattr(tv_datasets, _SPECS[name].torchvision_class).resources
    if not source_folder.is_dir():
        return False
    for filename, md5 in resources:
        source = source_folder / filename
        if not source.is_file():
            return False
        if hashlib.md5(source.read_bytes()).hexdigest() != md5:  # recompressed? then judge the content
            content = _UNCOMPRESSED_MD5.get(name, {}).get(filename.removesuffix(".gz"))
            if content is None or _gunzipped_md5(source) != content:
                return False
    raw = root / _SPECS[name].folder
    raw.mkdir(parents=True, exist_ok=True)
    for filename, _ in resources:
        target = raw / filename.removesuffix(".gz")
        if target.exists():
            continue
        with atomic_path(target) as temporary, gzip.open(source_folder / filename) as src, open(
            temporary, "wb"
        ) as dst:
            shutil.copyfileobj(src, dst)  # atomic: never a half-written IDX file
    return True


def _provision(name: str, root: Path) -> bool:
    """Put a dataset in place from a local copy of its official files, where there is one:
    Debian's Fashion-MNIST package, or the MNIST folder named by ``$ADVLIB_MNIST_MIRROR``."""
    if name == "fashion_mnist":
        return _provision_from_gzip_files(name, DEBIAN_FASHION_MNIST, root)
    if name == "mnist" and os.environ.get(MNIST_MIRROR_VAR):
        return _provision_from_gzip_files(name, Path(os.environ[MNIST_MIRROR_VAR]), root)
    return False


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
    if dataset is None and _provision(name, root):
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
