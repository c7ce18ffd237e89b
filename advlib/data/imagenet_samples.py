"""Real ImageNet photos offline: one photo per ImageNet-1k class, from a pinned repository.

The public repository ``EliSchwartz/imagenet-sample-images`` holds one photo of each of the
1,000 classes, named ``<wnid>_<class name>.JPEG``. Sorted by wnid, the files are in ImageNet's
own class order, so a file's position in the sorted list of all 1,000 is its class index (the
repository's ``gallery.md`` lists the same indices). The photos come from ImageNet (Deng et
al., CVPR 2009) and fall under ImageNet's terms of access: research and teaching, with
attribution.

advlib ships the SHA-256 of all 1,000 files at the pinned commit
(``imagenet_samples.sha256``, computed from the repository's objects at that commit). A
chapter asks for the classes it needs (by default the 500 of even class index, the set this
project's CI keeps beside the checkout); missing files are fetched file by file from GitHub at
that commit, or from ``$ADVLIB_IMAGENET_SAMPLES_URL`` (a mirror with the repository's flat
layout; ``file://`` works), each checked before it is kept under
``<data root>/imagenet-sample-images``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advlib.data.pinned import PinnedFiles
from advlib.data.preprocess import imagenet_preprocess

REPO = PinnedFiles(
    repository="EliSchwartz/imagenet-sample-images",
    commit="bc69043e2862758a1906c6a24a792bb28c6bb2ff",
    folder="imagenet-sample-images",
    manifest_path=Path(__file__).with_name("imagenet_samples.sha256"),
    url_variable="ADVLIB_IMAGENET_SAMPLES_URL",
    what="the ImageNet sample photos",
)
NUM_CLASSES = 1000
ATTRIBUTION = (
    "Photos: ImageNet (Deng et al., CVPR 2009), one per class as collected in "
    "github.com/EliSchwartz/imagenet-sample-images; ImageNet's terms (research and teaching)."
)


@dataclass(frozen=True)
class ImageNetPhotos:
    """ImageNet photos resized and centre-cropped to a model's input, with their classes.

    Attributes:
        images: uint8 (N, 3, size, size), RGB.
        labels: int64 (N,), the ImageNet-1k class index of each photo.
        names: file names (``n01440764_tench.JPEG``), in the order of ``labels``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    names: tuple[str, ...]

    def __len__(self) -> int:
        return self.images.shape[0]

    def float_images(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        """The photos (all, or ``index``) as float32 in [0, 1]."""
        chosen = self.images if index is None else self.images[index]
        return chosen.float().div_(255)

    def select(self, index: torch.Tensor) -> ImageNetPhotos:
        """The photos at ``index`` (a boolean mask or positions), in that order."""
        if index.dtype == torch.bool:
            index = torch.nonzero(index).squeeze(1)
        return ImageNetPhotos(self.images[index], self.labels[index], tuple(self.names[i] for i in index.tolist()))


def file_names() -> tuple[str, ...]:
    """All 1,000 file names in class order (position = ImageNet-1k class index)."""
    names = tuple(sorted(REPO.manifest))
    if len(names) != NUM_CLASSES:
        raise RuntimeError(f"the manifest lists {len(names)} photos, expected {NUM_CLASSES}")
    return names


def wnid_of(class_index: int) -> str:
    """The WordNet id of an ImageNet-1k class ("n01440764" for 0, tench)."""
    return file_names()[class_index].split("_", 1)[0]


def resolve_classes(classes: str | Sequence[int]) -> list[int]:
    """"even" (the 500 classes 0, 2, ..., 998), "all", or explicit class indices, checked."""
    if isinstance(classes, str):
        if classes == "even":
            return list(range(0, NUM_CLASSES, 2))
        if classes == "all":
            return list(range(NUM_CLASSES))
        raise ValueError(f"classes must be 'even', 'all' or a sequence of class indices, got {classes!r}")
    chosen = [int(c) for c in classes]
    if not chosen:
        raise ValueError("no classes requested")
    bad = [c for c in chosen if not 0 <= c < NUM_CLASSES]
    if bad:
        raise ValueError(f"ImageNet-1k class indices run from 0 to {NUM_CLASSES - 1}; got {bad[:5]}")
    if len(set(chosen)) != len(chosen):
        raise ValueError("a class index is requested twice")
    return chosen


def ensure_photos(
    classes: str | Sequence[int] = "even",
    *,
    root: str | Path | None = None,
    download: bool | None = None,
    base_url: str | None = None,
) -> Path:
    """Make sure the photos of ``classes`` are present and intact; return their folder."""
    names = file_names()
    chosen = resolve_classes(classes)
    expected = {names[c]: REPO.manifest[names[c]] for c in chosen}
    return REPO.ensure(expected, root=root, download=download, base_url=base_url)


def _decode(path: Path) -> torch.Tensor:
    from PIL import Image

    with Image.open(path) as image:
        array = np.asarray(image.convert("RGB"))
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def load_imagenet_photos(
    classes: str | Sequence[int] = "even",
    *,
    size: int = 224,
    resize: int | None = None,
    root: str | Path | None = None,
    download: bool | None = None,
    base_url: str | None = None,
) -> ImageNetPhotos:
    """Load one photo per class, resized (shorter side ``resize``, default ``size / 0.875``)
    and centre-cropped to ``size``, the usual ImageNet evaluation pipeline.

    Photos are decoded and resized one at a time (they differ in size), then stored as 8-bit,
    which keeps the 500 default photos at 224 px in 75 MB.
    """

    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    resize = resize or round(size / 0.875)
    if resize < size:
        raise ValueError(f"resize ({resize}) must be at least the crop size ({size})")
    chosen = resolve_classes(classes)
    folder = ensure_photos(chosen, root=root, download=download, base_url=base_url)
    names = file_names()
    images = torch.empty(len(chosen), 3, size, size, dtype=torch.uint8)
    for position, class_index in enumerate(chosen):
        photo = _decode(folder / names[class_index]).float().div_(255)
        images[position] = imagenet_preprocess(photo, resize=resize, crop=size)[0].mul(255).round().to(torch.uint8)
    return ImageNetPhotos(images, torch.tensor(chosen, dtype=torch.int64), tuple(names[c] for c in chosen))
