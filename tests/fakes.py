"""Fake data files in the real on-disk formats (torchvision's MNIST IDX files and CIFAR-10
pickles), for the tests of full-scale code paths on machines without the real data."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an IDX file (the MNIST format): magic, dims, then raw uint8 data."""
    code = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_idx_set(raw: Path, train: int = 20, test: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """Random MNIST-format files in ``raw`` (torchvision's ``MNIST/raw``); returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, (train,)),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, (test,)),
    }
    raw.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(raw / name, array)
    return arrays


def fake_cifar10(folder: Path, per_batch: int = 4, test: int = 4, seed: int = 0
                 ) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Random CIFAR-10 python pickles (five training batches, one test batch, the metadata) in
    ``folder`` (torchvision's ``cifar-10-batches-py``); returns each batch's data and labels.

    Their md5 sums cannot match torchvision's list: callers patch the integrity check.
    """
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for batch in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        count = test if batch == "test_batch" else per_batch
        data = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, count).tolist()
        written[batch] = (data, labels)
        with open(folder / batch, "wb") as handle:
            pickle.dump({"data": data, "labels": labels}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": CIFAR10_CLASSES}, handle)
    return written
