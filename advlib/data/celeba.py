"""CelebA with a target and a bias attribute, for debiasing at full scale (chapter 7).

The talk's real-data experiment (seed S0) predicts *Arched_Eyebrows* with *Male* as the bias
attribute, on CelebA's official train/valid/test partition. The files are read through
torchvision's ``CelebA`` (which checks their MD5 sums) from ``<data root>/celeba/`` in the
layout torchvision downloads: the five annotation files and the folder ``img_align_celeba/``.
torchvision's download (from Google Drive) is often refused for quota, so a reader may have to
place the files by hand; a missing file is named with where it belongs.

Decoding 162,770 JPEGs every epoch would dominate a training run, and the decoded training set
at 128x128 is 8 GB, too much for many machines' memory. So the images are decoded once
(centre crop 178x178, the aligned faces' width, then resize) into a uint8 ``.npy`` file beside
the originals, and served from it memory-mapped: a batch reads only its own rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from advlib.data.biased import BiasedDataset
from advlib.data.dataset import ImageDataset
from advlib.data.root import data_root
from advlib.errors import DataUnavailableError
from advlib.utils import atomic_path

CELEBA_FOLDER = "celeba"
ANNOTATIONS = ("list_attr_celeba.txt", "identity_CelebA.txt", "list_bbox_celeba.txt",
               "list_landmarks_align_celeba.txt", "list_eval_partition.txt")
IMAGE_FOLDER = "img_align_celeba"
SPLITS = ("train", "valid", "test")
_CROP = 178
_HOW = ("Download CelebA's aligned images (img_align_celeba.zip, extracted) and the five annotation files "
        f"({', '.join(ANNOTATIONS)}) from mmlab.ie.cuhk.edu.hk/projects/CelebA.html (or let torchvision's "
        "CelebA(download=True) fetch them) and put them in {folder}.")


def celeba_folder(root: str | Path | None = None) -> Path:
    """``<data root>/celeba``, after checking that every file torchvision reads is there."""
    folder = data_root(root) / CELEBA_FOLDER
    missing = [name for name in ANNOTATIONS if not (folder / name).is_file()]
    if not (folder / IMAGE_FOLDER).is_dir():
        missing.append(IMAGE_FOLDER + "/")
    if missing:
        raise DataUnavailableError(f"CelebA ({', '.join(missing)})", folder, _HOW.format(folder=folder))
    return folder


def _decoded_images(folder: Path, split: str, image_size: int, count: int) -> torch.Tensor:
    """The split's images as uint8 (N, 3, S, S), decoded into a cache file on first use (in
    parallel worker processes), then memory-mapped."""
    from torchvision.datasets import CelebA
    from torchvision.transforms import v2

    path = folder / f"advlib_{split}_{image_size}.npy"
    shape = (count, 3, image_size, image_size)
    if not path.is_file():
        transform = v2.Compose([v2.PILToTensor(), v2.CenterCrop(_CROP), v2.Resize(image_size, antialias=True)])
        source = CelebA(str(folder.parent), split=split, target_type="attr", transform=transform, download=False)
        loader = torch.utils.data.DataLoader(source, batch_size=256, num_workers=min(8, os.cpu_count() or 1))
        with atomic_path(path) as temporary:
            images = np.lib.format.open_memmap(temporary, mode="w+", dtype=np.uint8, shape=shape)
            start = 0
            for batch, _ in loader:
                images[start : start + len(batch)] = batch.numpy()
                start += len(batch)
            images.flush()
            del images
    images = np.load(path, mmap_mode="c")
    if images.shape != shape or images.dtype != np.uint8:
        raise ValueError(f"{path} holds {images.dtype} {images.shape}, expected uint8 {shape}; delete it to "
                         "decode the images again")
    return torch.from_numpy(images)


def load_celeba_biased(split: str, *, target: str = "Arched_Eyebrows", bias: str = "Male", image_size: int = 128,
                       root: str | Path | None = None) -> BiasedDataset:
    """CelebA's ``split`` with ``target`` as the label (0/1) and ``bias`` as the bias attribute (0/1).

    The bias values are named ``not <bias>`` / ``<bias>`` (for Male: female / male). Images are
    decoded once per split and size into ``<data root>/celeba/advlib_<split>_<size>.npy``.
    """
    from torchvision.datasets import CelebA

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not isinstance(image_size, int) or not 8 <= image_size <= _CROP:
        raise ValueError(f"image_size must be an int in [8, {_CROP}], got {image_size!r}")
    folder = celeba_folder(root)
    source = CelebA(str(folder.parent), split=split, target_type="attr", download=False)
    names = list(source.attr_names)
    for role, name in (("target", target), ("bias", bias)):
        if name not in names:
            raise ValueError(f"{role} attribute {name!r} is not one of CelebA's attributes: {names}")
    if target == bias:
        raise ValueError(f"target and bias must be different attributes, got {target!r} twice")
    images = _decoded_images(folder, split, image_size, len(source))
    labels = source.attr[:, names.index(target)].long()
    bias_values = source.attr[:, names.index(bias)].long()
    data = ImageDataset(images, labels, (f"not {target}", target), f"celeba_{target}", split, "full")
    bias_names = ("female", "male") if bias == "Male" else (f"not {bias}", bias)
    return BiasedDataset(data, bias_values, bias_names)
