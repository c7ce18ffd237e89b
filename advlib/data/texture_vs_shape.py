"""The texture-vs-shape stimuli and human trial data of Geirhos et al. (ICLR 2019).

Three stimulus sets, 16 entry-level ImageNet categories each, 224x224 PNG:

* ``cue-conflict``: 1,280 style-transfer images whose *shape* comes from one category and
  whose *texture* from another (``cat1-elephant2.png``: a cat shape in elephant skin);
  1,200 of them have shape != texture.
* ``silhouettes``: 160 filled black silhouettes (shape only).
* ``edges``: 160 edge drawings (shape only).

The stimuli are licensed CC BY 4.0 (attribution to Geirhos et al. wherever they are shown;
see ``DATASET_LICENSE`` beside them). The repository also holds the raw human trials of
that paper and of Geirhos et al., NeurIPS 2018 (noise, low-pass and high-pass
experiments), loaded here by :func:`load_trials`.

Files live under ``<data root>/texture-vs-shape`` in the repository's own layout. When
they are missing they are downloaded file by file from the repository at a pinned commit
and checked against the SHA-256 list shipped with advlib (``texture_vs_shape.sha256``,
which ``sha256sum -c`` also reads). ``$ADVLIB_TEXTURE_VS_SHAPE_URL`` may point the download
at a mirror with the same layout (a ``file://`` URL works; CI uses a local copy).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advlib.data.pinned import PinnedFiles

REPOSITORY = "rgeirhos/texture-vs-shape"
COMMIT = "ccd0c01d42c0a8a834e90ec141e7f24fa915dc23"
URL_VAR = "ADVLIB_TEXTURE_VS_SHAPE_URL"
FOLDER = "texture-vs-shape"
REPO = PinnedFiles(
    repository=REPOSITORY,
    commit=COMMIT,
    folder=FOLDER,
    manifest_path=Path(__file__).with_name("texture_vs_shape.sha256"),
    url_variable=URL_VAR,
    what="texture-vs-shape",
)
ATTRIBUTION = (
    "Stimuli: Geirhos et al., ICLR 2019, github.com/rgeirhos/texture-vs-shape (CC BY 4.0)."
)

# The 16 categories in the repository's (alphabetical) order; labels index this tuple.
CATEGORIES = (
    "airplane", "bear", "bicycle", "bird", "boat", "bottle", "car", "cat",
    "chair", "clock", "dog", "elephant", "keyboard", "knife", "oven", "truck",
)  # fmt: skip

STIMULUS_FOLDERS = {
    "cue-conflict": "stimuli/style-transfer-preprocessed-512",
    "silhouettes": "stimuli/filled-silhouettes",
    "edges": "stimuli/edges",
}
EXPERIMENT_FOLDERS = {
    "cue-conflict": "raw-data/style-transfer-512-nomask-experiment",
    "silhouettes": "raw-data/silhouette-filled-experiment",
    "edges": "raw-data/edge-experiment",
    "noise": "raw-data/raw-data-from-generalisation-paper/noise-experiment",
    "lowpass": "raw-data/raw-data-from-generalisation-paper/lowpass-experiment",
    "highpass": "raw-data/raw-data-from-generalisation-paper/highpass-experiment",
}
_CONFLICT_NAME = re.compile(r"([a-z]+)\d+-([a-z]+)\d+\.png$")
_SHAPE_ONLY_NAME = re.compile(r"([a-z]+)\d+\.png$")


@dataclass(frozen=True)
class Stimuli:
    """One stimulus set in memory.

    Attributes:
        images: uint8 (N, 3, 224, 224), RGB.
        shape_labels: int64 (N,), index into :data:`CATEGORIES`.
        texture_labels: int64 (N,); equal to ``shape_labels`` for the shape-only sets.
        names: file names, in load order (sorted paths).
        kind: "cue-conflict", "silhouettes" or "edges".
    """

    images: torch.Tensor
    shape_labels: torch.Tensor
    texture_labels: torch.Tensor
    names: tuple[str, ...]
    kind: str

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def conflict(self) -> torch.Tensor:
        """Mask of the images whose shape and texture categories differ."""
        return self.shape_labels != self.texture_labels

    def float_images(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Images (all, or ``index``) as float32 in [0, 1]."""
        chosen = self.images if index is None else self.images[index]
        return chosen.float().div_(255)

    def find(self, name: str) -> int:
        """Position of the file ``name`` (e.g. "cat7-elephant1.png")."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no stimulus named {name!r} in the {self.kind} set") from None


def manifest() -> dict[str, str]:
    """Relative path -> SHA-256 of every file the book uses from the repository."""
    return REPO.manifest


def _files_under(prefix: str) -> dict[str, str]:
    return REPO.files_under(prefix)


def _required(prefix: str) -> dict[str, str]:
    """The files under ``prefix``, plus the stimuli's licence wherever stimuli are fetched."""
    files = _files_under(prefix)
    if prefix.startswith("stimuli"):
        files["DATASET_LICENSE"] = manifest()["DATASET_LICENSE"]
    return files


def ensure_files(
    prefix: str, *, root: str | Path | None = None, download: bool | None = None, base_url: str | None = None
) -> Path:
    """Make sure every manifest file under ``prefix`` is present and intact; return the folder.

    Missing files are downloaded (when allowed) from ``base_url`` (default
    ``$ADVLIB_TEXTURE_VS_SHAPE_URL``, else GitHub at the pinned commit) and checked before they
    are kept; see :class:`advlib.data.pinned.PinnedFiles`.
    """
    return REPO.ensure(_required(prefix), root=root, download=download, base_url=base_url, label=f"{prefix} ")


def _read_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def load_stimuli(
    kind: str, *, root: str | Path | None = None, download: bool | None = None, base_url: str | None = None
) -> Stimuli:
    """Load the ``kind`` stimulus set ("cue-conflict", "silhouettes" or "edges")."""
    if kind not in STIMULUS_FOLDERS:
        raise ValueError(f"kind must be one of {sorted(STIMULUS_FOLDERS)}, got {kind!r}")
    prefix = STIMULUS_FOLDERS[kind]
    folder = ensure_files(prefix, root=root, download=download, base_url=base_url)
    paths = sorted(_files_under(prefix))
    pattern = _CONFLICT_NAME if kind == "cue-conflict" else _SHAPE_ONLY_NAME
    shapes, textures = [], []
    for relative in paths:
        match = pattern.search(relative)
        if match is None:
            raise ValueError(f"unexpected stimulus file name {relative!r}")
        shape = match.group(1)
        texture = match.group(2) if kind == "cue-conflict" else shape
        shapes.append(CATEGORIES.index(shape))
        textures.append(CATEGORIES.index(texture))
    images = np.stack([_read_rgb(folder / relative) for relative in paths])
    return Stimuli(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        shape_labels=torch.tensor(shapes),
        texture_labels=torch.tensor(textures),
        names=tuple(Path(relative).name for relative in paths),
        kind=kind,
    )


def load_trials(
    experiment: str, *, root: str | Path | None = None, download: bool | None = None, base_url: str | None = None
):
    """All raw trials of one experiment as a pandas DataFrame, one row per trial.

    Columns as in the repository (subj, session, trial, rt, object_response, category,
    condition, imagename); observers are human subjects ("subject-01") or the CNNs the
    authors ran ("resnet50", "vgg", ...). ``condition`` stays a string ("0.10", "inf").
    """
    import pandas as pd

    if experiment not in EXPERIMENT_FOLDERS:
        raise ValueError(f"experiment must be one of {sorted(EXPERIMENT_FOLDERS)}, got {experiment!r}")
    prefix = EXPERIMENT_FOLDERS[experiment]
    folder = ensure_files(prefix, root=root, download=download, base_url=base_url)
    frames = [pd.read_csv(folder / relative, dtype={"condition": str}) for relative in sorted(_files_under(prefix))]
    return pd.concat(frames, ignore_index=True)


def is_human(observer: str) -> bool:
    return observer.startswith("subject-")


def trial_cues(trials) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(decisions, shape labels, texture labels) of cue-conflict trials, as category indices.

    Shape and texture are parsed from ``imagename`` (``..._cat1-elephant2.png``); a response
    outside the 16 categories becomes -1 (it names neither cue).
    """
    parsed = trials["imagename"].str.extract(r"_([a-z]+)\d+-([a-z]+)\d+\.png$")
    if parsed.isna().any().any():
        raise ValueError("some image names are not cue-conflict names (<shape><i>-<texture><j>.png)")
    index = {name: position for position, name in enumerate(CATEGORIES)}
    decisions = torch.tensor([index.get(response, -1) for response in trials["object_response"]])
    shapes = torch.tensor([index[name] for name in parsed[0]])
    textures = torch.tensor([index[name] for name in parsed[1]])
    return decisions, shapes, textures


def human_trials(trials):
    """The rows of ``trials`` answered by human subjects (the CSVs also hold the networks')."""
    humans = trials[trials["subj"].map(is_human)]
    if humans.empty:
        raise ValueError("no human subjects in these trials")
    return humans


def human_accuracy(trials) -> float:
    """Pooled accuracy of the human subjects: the share of their trials naming the category."""
    humans = human_trials(trials)
    return float((humans["object_response"] == humans["category"]).mean())


def human_accuracy_by_condition(trials):
    """Pooled accuracy of the human subjects per condition (e.g. noise width), as a pandas
    Series indexed by the condition as a float ("inf" becomes infinity), ascending."""
    humans = human_trials(trials)
    correct = humans["object_response"] == humans["category"]
    return correct.groupby(humans["condition"].astype(float)).mean().sort_index()
