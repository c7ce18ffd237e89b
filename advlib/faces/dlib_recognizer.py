"""dlib's ResNet face recogniser as a black box: the "malicious" system a filter never saw.

dlib's model (``dlib_face_recognition_resnet_model_v1.dat``, a 29-layer ResNet giving 128-d
descriptors, 99.38 % on LFW by dlib's own report) ships in the PyPI package
``face-recognition-models``; ``dlib-bin`` runs it. It is never differentiated: the book only
asks whether protection made against FaceNet also hides a face from it.

Faces are given as whole photos of one face (the ORL photos, or InsightFace's aligned crops):
dlib's 5-point landmark model is run inside the whole frame and ``get_face_chip`` cuts the
150x150 aligned chip the recogniser expects, as dlib's own examples do after detection.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from advlib.errors import DataUnavailableError
from advlib.utils import to_uint8

_INSTALL = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0 (both are in requirements.txt)"
CHIP_SIZE = 150
CHIP_PADDING = 0.25


def models_dir() -> Path:
    """The model files of the installed ``face-recognition-models`` package (not imported:
    its ``__init__`` needs ``pkg_resources``, which recent setuptools no longer has)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise DataUnavailableError("the face-recognition-models package", Path("face_recognition_models"), _INSTALL)
    return Path(spec.origin).parent / "models"


class DlibRecognizer:
    """Photos in [0, 1] (N, 1 or 3, H, W) -> dlib's 128-d face descriptors, as a (N, 128) tensor."""

    def __init__(self) -> None:
        if importlib.util.find_spec("dlib") is None:
            raise DataUnavailableError("the dlib package", Path("dlib"), _INSTALL)
        import dlib

        folder = models_dir()
        landmarks = folder / "shape_predictor_5_face_landmarks.dat"
        network = folder / "dlib_face_recognition_resnet_model_v1.dat"
        for path in (landmarks, network):
            if not path.is_file():
                raise DataUnavailableError(f"dlib model {path.name}", path, "reinstall face-recognition-models==0.3.0")
        self._dlib = dlib
        self._landmarks = dlib.shape_predictor(str(landmarks))
        self._network = dlib.face_recognition_model_v1(str(network))

    def chips(self, images: torch.Tensor) -> list[np.ndarray]:
        """The aligned 150x150 RGB chips dlib's recogniser reads, one per photo."""
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected photos (N, 1 or 3, H, W), got shape {tuple(images.shape)}")
        pixels = to_uint8(images.detach().cpu().expand(-1, 3, -1, -1)).permute(0, 2, 3, 1).numpy()
        chips = []
        for photo in pixels:
            photo = np.ascontiguousarray(photo)
            frame = self._dlib.rectangle(0, 0, photo.shape[1] - 1, photo.shape[0] - 1)
            shape = self._landmarks(photo, frame)
            chips.append(self._dlib.get_face_chip(photo, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
        return chips

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        chips = self.chips(images)
        descriptors = self._network.compute_face_descriptor(chips)
        return torch.tensor(np.array([np.asarray(d) for d in descriptors]), dtype=torch.float32)

    def __repr__(self) -> str:
        return "DlibRecognizer(dlib_face_recognition_resnet_model_v1)"
