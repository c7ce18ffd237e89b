"""The ORL / AT&T face database: 40 subjects x 10 grey photos (92x112), real faces offline.

Taken at the Olivetti Research Laboratory, Cambridge, 1992-1994 (Samaria & Harter, IEEE
WACV 1994); free for research and teaching with credit to the laboratory (the database's
``README``, fetched with the images, says so). Frontal faces on a dark background, with some
variation in pose, lighting, expression and glasses.

The files are fetched from the public repository that advlib pins (``att_faces/s<k>/<i>.pgm``
at one commit), each checked against ``att_faces.sha256`` shipped with advlib, and kept under
``<data root>/orl-faces`` in the repository's layout. ``$ADVLIB_ATT_FACES_URL`` may name a
mirror with that layout (a ``file://`` URL works; the project's CI points it at its copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advlib.data.pinned import PinnedFiles

REPO = PinnedFiles(
    repository="ChiTatZhang/server_graduate",
    commit="0493bc9ab41f854477d891d1553ffce41918e8ae",
    folder="orl-faces",
    manifest_path=Path(__file__).with_name("att_faces.sha256"),
    url_variable="ADVLIB_ATT_FACES_URL",
    what="the ORL (AT&T) faces",
)
PREFIX = "att_faces"
SUBJECTS, IMAGES_PER_SUBJECT = 40, 10
HEIGHT, WIDTH = 112, 92
ATTRIBUTION = "Faces: the ORL face database, AT&T Laboratories Cambridge (Samaria & Harter, 1994)."


@dataclass(frozen=True)
class Faces:
    """Face photos with their identities.

    Attributes:
        images: uint8 (N, 1, 112, 92), grey.
        identities: int64 (N,), the subject (0-based: folder ``s1`` is identity 0).
        shots: int64 (N,), which of the subject's photos (0-based: ``1.pgm`` is shot 0).
    """

    images: torch.Tensor
    identities: torch.Tensor
    shots: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    def float_images(self) -> torch.Tensor:
        """The photos as float32 in [0, 1]."""
        return self.images.float().div_(255)

    def subset(self, mask: torch.Tensor) -> Faces:
        return Faces(self.images[mask], self.identities[mask], self.shots[mask])


def read_pgm(path: Path) -> np.ndarray:
    """One binary (P5) 8-bit PGM as a (H, W) uint8 array; comment lines are skipped."""
    data = path.read_bytes()
    tokens: list[bytes] = []
    position = 0
    while len(tokens) < 4:
        while data[position : position + 1].isspace():
            position += 1
        if data[position : position + 1] == b"#":
            position = data.index(b"\n", position) + 1
            continue
        end = position
        while not data[end : end + 1].isspace():
            end += 1
        tokens.append(data[position:end])
        position = end
    magic, width, height, maximum = tokens[0], int(tokens[1]), int(tokens[2]), int(tokens[3])
    if magic != b"P5" or maximum != 255:
        raise ValueError(f"{path} is not an 8-bit binary PGM (magic {magic!r}, maxval {maximum})")
    pixels = np.frombuffer(data, dtype=np.uint8, count=width * height, offset=position + 1)
    return pixels.reshape(height, width)


def load_att_faces(
    *, root: str | Path | None = None, download: bool | None = None, base_url: str | None = None
) -> Faces:
    """All 400 photos, ordered by subject then shot."""
    folder = REPO.ensure(REPO.files_under(PREFIX), root=root, download=download, base_url=base_url)
    images, identities, shots = [], [], []
    for subject in range(SUBJECTS):
        for shot in range(IMAGES_PER_SUBJECT):
            image = read_pgm(folder / PREFIX / f"s{subject + 1}" / f"{shot + 1}.pgm")
            if image.shape != (HEIGHT, WIDTH):
                raise ValueError(f"s{subject + 1}/{shot + 1}.pgm is {image.shape}, expected {(HEIGHT, WIDTH)}")
            images.append(image)
            identities.append(subject)
            shots.append(shot)
    return Faces(
        images=torch.from_numpy(np.stack(images)).unsqueeze(1),
        identities=torch.tensor(identities),
        shots=torch.tensor(shots),
    )


def split_by_identity(faces: Faces, train_subjects: int, *, seed: int) -> tuple[Faces, Faces]:
    """Two disjoint sets of subjects: ``train_subjects`` drawn at random, the rest for testing.

    No identity is in both, so what is measured on the test part is how a method does on
    people it never saw.
    """
    subjects = torch.unique(faces.identities)
    if not 0 < train_subjects < len(subjects):
        raise ValueError(f"train_subjects must be between 1 and {len(subjects) - 1}, got {train_subjects}")
    order = torch.randperm(len(subjects), generator=torch.Generator().manual_seed(seed))
    train_ids = subjects[order[:train_subjects]]
    in_train = torch.isin(faces.identities, train_ids)
    return faces.subset(in_train), faces.subset(~in_train)
