"""Full-scale face data: the verification benchmarks and a training set of identities.

* **Benchmarks** (APF's tables): LFW, AgeDB-30 and CFP-FP as InsightFace distributes them,
  ``lfw.bin``, ``agedb_30.bin`` and ``cfp_fp.bin``: a pickle of ``(bins, issame)`` where
  ``bins`` holds 2 P JPEG/PNG-encoded 112x112 aligned faces (pair i is photos 2i and 2i+1)
  and ``issame`` P booleans, in the benchmark's 10-fold order. They come with InsightFace's
  training sets (e.g. ``faces_emore``); readers place them in ``<data root>/face-benchmarks``.
* **Training identities** (APF trains on 2,000 MS1M identities x 50 photos): any folder of
  ``<identity>/<photo>.jpg|png`` under ``<data root>/face-train``, e.g. photos exported from
  the same InsightFace record files. Nothing here can be downloaded: the licences require the
  reader to obtain them.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advlib.data.root import data_root
from advlib.errors import DataUnavailableError

BENCHMARKS = {"lfw": "lfw.bin", "agedb_30": "agedb_30.bin", "cfp_fp": "cfp_fp.bin"}
BENCHMARK_FOLDER = "face-benchmarks"
TRAIN_FOLDER = "face-train"
_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
_HOW_BENCHMARKS = (
    "Copy InsightFace's verification files (lfw.bin, agedb_30.bin, cfp_fp.bin; they ship with its training "
    "sets such as faces_emore, see github.com/deepinsight/insightface, 'Face Recognition Datasets') into {folder}."
)


@dataclass(frozen=True)
class VerificationPairs:
    """A verification benchmark: photos (2P, 3, H, W) uint8, pair i = photos (2i, 2i+1)."""

    name: str
    images: torch.Tensor
    same: torch.Tensor

    def __len__(self) -> int:
        return self.same.shape[0]

    def genuine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices (first, second) of the genuine pairs, in benchmark order."""
        pairs = torch.nonzero(self.same).flatten()
        return 2 * pairs, 2 * pairs + 1


def _decode(encoded: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(encoded)) as image:
        return np.asarray(image.convert("RGB"))


def load_benchmark(name: str, *, root: str | Path | None = None, limit: int | None = None) -> VerificationPairs:
    """One InsightFace ``.bin`` benchmark ("lfw", "agedb_30" or "cfp_fp"); ``limit`` keeps the
    first pairs only (for smoke tests)."""
    if name not in BENCHMARKS:
        raise ValueError(f"benchmark must be one of {sorted(BENCHMARKS)}, got {name!r}")
    folder = data_root(root) / BENCHMARK_FOLDER
    path = folder / BENCHMARKS[name]
    if not path.is_file():
        raise DataUnavailableError(f"the {name} benchmark ({path.name})", path, _HOW_BENCHMARKS.format(folder=folder))
    with open(path, "rb") as handle:
        try:
            bins, issame = pickle.load(handle, encoding="bytes")
        except Exception as error:
            raise ValueError(f"{path} is not an InsightFace verification file: {error!r}") from error
    if len(bins) != 2 * len(issame):
        raise ValueError(f"{path}: {len(bins)} photos for {len(issame)} pairs (expected twice as many)")
    count = len(issame) if limit is None else min(limit, len(issame))
    photos = np.stack([_decode(bytes(encoded)) for encoded in list(bins)[: 2 * count]])
    return VerificationPairs(
        name=name,
        images=torch.from_numpy(photos).permute(0, 3, 1, 2).contiguous(),
        same=torch.tensor([bool(flag) for flag in list(issame)[:count]]),
    )


def load_identity_folder(
    *, root: str | Path | None = None, identities: int | None = None, per_identity: int | None = None, size: int = 112
):
    """Training photos from ``<data root>/face-train/<identity>/*``, resized to ``size`` square.

    Returns an :class:`advlib.data.att_faces.Faces` (RGB, identities numbered in sorted
    folder order, shots in sorted file order). ``identities`` and ``per_identity`` cap the
    counts (APF: 2,000 x 50).
    """
    from PIL import Image

    from advlib.data.att_faces import Faces

    folder = data_root(root) / TRAIN_FOLDER
    people = sorted(path for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []
    if not people:
        raise DataUnavailableError(
            "the training identities for APF", folder,
            "Put one folder per person with their aligned face photos (jpg/png) there, e.g. 2,000 MS1M identities.",
        )
    images, labels, shots = [], [], []
    for number, person in enumerate(people[:identities]):
        photos = sorted(path for path in person.iterdir() if path.suffix.lower() in _PHOTO_SUFFIXES)
        for shot, path in enumerate(photos[:per_identity]):
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR)))
            labels.append(number)
            shots.append(shot)
    if not images:
        raise DataUnavailableError("the training identities for APF", folder, "The identity folders hold no jpg/png.")
    return Faces(
        images=torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(),
        identities=torch.tensor(labels),
        shots=torch.tensor(shots),
    )
