"""ILSVRC2012 from the data root, for full-scale runs: images decoded only when a batch needs them.

ImageNet cannot be downloaded automatically (its terms require an account), so the reader
prepares it once in the layout that torchvision's ``datasets.ImageNet`` and most training
scripts use::

    <data root>/imagenet/train/<wnid>/*.JPEG     (1,000 folders, e.g. n01440764/)
    <data root>/imagenet/val/<wnid>/*.JPEG       (the 50,000 validation photos sorted into them)

Class indices follow the sorted WordNet ids, as everywhere in ImageNet-1k; the list of the
1,000 wnids ships with advlib (:mod:`advlib.data.imagenet_samples`), so a folder that is not
an ImageNet-1k class is an error rather than a silent shift of every label.

:class:`LazyImages` looks like a uint8 image tensor to the code that indexes it (``images[i]``
with a tensor of positions or a slice, ``images.shape``), decoding, resizing and cropping the
files of that batch only; 20,000 training photos at 299 px would take 5 GB in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from advlib.data.imagenet_samples import NUM_CLASSES, file_names
from advlib.data.preprocess import imagenet_preprocess
from advlib.data.root import data_root
from advlib.errors import DataUnavailableError

FOLDER = "imagenet"
EXTENSIONS = (".jpeg", ".jpg", ".png")
HOW = (
    "Prepare ILSVRC2012 once (it needs an account at image-net.org) with one folder per class: "
    "train/<wnid>/*.JPEG and val/<wnid>/*.JPEG (the layout torchvision's datasets.ImageNet creates; "
    "a symbolic link to an existing copy works)."
)


def wnids() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k WordNet ids in class order."""
    return tuple(name.split("_", 1)[0] for name in file_names())


def split_files(split: str, root: str | Path | None = None) -> tuple[list[Path], torch.Tensor]:
    """Every image file of ``split`` ("train" or "val") with its class index, sorted by path."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    folder = data_root(root) / FOLDER / split
    if not folder.is_dir():
        raise DataUnavailableError(f"ImageNet ({split})", folder, HOW)
    index = {wnid: position for position, wnid in enumerate(wnids())}
    paths, labels = [], []
    for class_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        if class_folder.name not in index:
            raise ValueError(f"{class_folder} is not an ImageNet-1k class folder (expected a wnid like n01440764)")
        files = sorted(p for p in class_folder.iterdir() if p.suffix.lower() in EXTENSIONS)
        paths += files
        labels += [index[class_folder.name]] * len(files)
    if not paths:
        raise DataUnavailableError(f"ImageNet ({split})", folder, HOW + " The folder holds no images.")
    return paths, torch.tensor(labels, dtype=torch.int64)


@dataclass(frozen=True)
class LazyImages:
    """Image files that decode on indexing into uint8 (n, 3, size, size) tensors.

    Attributes:
        paths: the files, in order.
        size: the side of the centre crop.
        resize: the shorter side before cropping (default ``size / 0.875``).
        workers: threads decoding a batch.
    """

    paths: tuple[Path, ...]
    size: int
    resize: int | None = None
    workers: int = 8

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.paths), 3, self.size, self.size))

    def __len__(self) -> int:
        return len(self.paths)

    def dim(self) -> int:
        return 4

    def _decode(self, path: Path) -> torch.Tensor:
        import numpy as np
        from PIL import Image


        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
        photo = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255)
        resized = imagenet_preprocess(photo, resize=self.resize or round(self.size / 0.875), crop=self.size)
        return resized[0].mul(255).round().to(torch.uint8)

    def __getitem__(self, index: int | slice | torch.Tensor | Sequence[int]) -> torch.Tensor:
        if isinstance(index, int):
            return self._decode(self.paths[index])
        if isinstance(index, slice):
            chosen = range(len(self.paths))[index]
        elif isinstance(index, torch.Tensor):
            chosen = torch.nonzero(index).squeeze(1).tolist() if index.dtype == torch.bool else index.tolist()
        else:
            chosen = list(index)
        if not chosen:
            return torch.empty(0, 3, self.size, self.size, dtype=torch.uint8)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return torch.stack(list(pool.map(self._decode, (self.paths[i] for i in chosen))))

    def select(self, positions: Sequence[int] | torch.Tensor) -> LazyImages:
        """The files at ``positions``, still lazy."""
        positions = positions.tolist() if isinstance(positions, torch.Tensor) else positions
        return LazyImages(tuple(self.paths[i] for i in positions), self.size, self.resize, self.workers)


@dataclass(frozen=True)
class PatchSplits:
    """The G2LVAP paper's three sets: training images from the train split, and disjoint
    validation and test images from the val split (each with its true class index)."""

    train: LazyImages
    train_labels: torch.Tensor
    validation: LazyImages
    validation_labels: torch.Tensor
    test: LazyImages
    test_labels: torch.Tensor


def g2lvap_splits(
    size: int,
    *,
    train_per_class: int = 20,
    validation: int = 10_000,
    test: int = 10_000,
    seed: int = 0,
    root: str | Path | None = None,
) -> PatchSplits:
    """20 random training photos of each class, 10,000 random validation photos and another
    disjoint 10,000 for testing (the paper's section 3.1), drawn with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    train_paths, train_labels = split_files("train", root)
    chosen = []
    for label in range(NUM_CLASSES):
        members = torch.nonzero(train_labels == label).squeeze(1)
        if len(members) == 0:
            continue
        if len(members) < train_per_class:
            raise ValueError(f"class {label} ({wnids()[label]}) has {len(members)} training photos, "
                             f"fewer than {train_per_class}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:train_per_class]])
    chosen = torch.cat(chosen)
    val_paths, val_labels = split_files("val", root)
    if validation + test > len(val_paths):
        raise ValueError(f"asked for {validation} validation and {test} test photos, but val holds {len(val_paths)}")
    order = torch.randperm(len(val_paths), generator=generator)
    picked_val, picked_test = order[:validation], order[validation : validation + test]

    def lazy(paths: list[Path], positions: torch.Tensor) -> LazyImages:
        return LazyImages(tuple(paths[i] for i in positions.tolist()), size)

    return PatchSplits(lazy(train_paths, chosen), train_labels[chosen], lazy(val_paths, picked_val),
                       val_labels[picked_val], lazy(val_paths, picked_test), val_labels[picked_test])


def val_sample(
    size: int, count: int, *, seed: int = 0, root: str | Path | None = None
) -> tuple[LazyImages, torch.Tensor]:
    """``count`` validation photos drawn at random with ``seed`` (lazy, ``size`` px) and their
    class indices: the evaluation set of full-scale attacks that need no training photos."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    paths, labels = split_files("val", root)
    if count > len(paths):
        raise ValueError(f"asked for {count} validation photos, but val holds {len(paths)}")
    picked = torch.randperm(len(paths), generator=torch.Generator().manual_seed(seed))[:count]
    return LazyImages(tuple(paths[i] for i in picked.tolist()), size), labels[picked]
