"""A content-addressed cache of training runs, so that work done twice is done once.

Several chapters and tests train the same network with the same recipe, data and seed (the
tests' class-scale SmallCNN is chapter 1's source model, for one). :func:`advlib.train.train`
asks this cache first: the key is a SHA-256 of everything that determines the trained
weights on this machine, so a hit loads exactly what training would have produced:

* the network: its class, its printed architecture and its initial weights and buffers
  (which the caller's seed decided);
* the data: the bytes of the images and labels, and the class weights if any;
* the recipe: every field of the :class:`~advlib.train.TrainConfig`;
* the global torch random state when training starts (which it restores after a hit to
  the state that training left) and the device type;
* the numerics (:func:`advlib.utils.numerics`: torch's version, the processor, the threads)
  and a hash of every ``advlib`` source file, so any change to the library trains anew.

Runs with an epoch callback, a batch transform (``augment``), a checkpoint file or a process
group are never cached: their outcome depends on code the key cannot see.

Where: ``$ADVLIB_TRAIN_CACHE`` (a folder, or ``off``); by default ``runs/cache/train`` in a
source checkout (beside the chapters' records, ignored by git) and the user cache folder
otherwise. ``advlib reproduce --publish`` trains for real and only writes, so the committed
notebooks' timings are the training's own.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path

import torch
from torch import nn

from advlib.utils import atomic_path, library_fingerprint, numerics

CACHE_VARIABLE = "ADVLIB_TRAIN_CACHE"
MODE_VARIABLE = "ADVLIB_TRAIN_CACHE_MODE"  # "read-write" (default) or "write" (train always, store)
MODES = ("read-write", "write")
PACKAGE = Path(__file__).resolve().parent


def cache_folder() -> Path | None:
    """The cache's folder, or None when ``$ADVLIB_TRAIN_CACHE`` is ``off``."""
    setting = os.environ.get(CACHE_VARIABLE, "").strip()
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting).expanduser()
    checkout = PACKAGE.parent
    if (checkout / "chapters").is_dir() and (checkout / "pyproject.toml").is_file():
        return checkout / "runs" / "cache" / "train"
    import platformdirs

    return Path(platformdirs.user_cache_dir("advlib")) / "train"


def mode() -> str:
    value = os.environ.get(MODE_VARIABLE, "read-write").strip() or "read-write"
    if value not in MODES:
        raise ValueError(f"${MODE_VARIABLE} must be one of {MODES}, got {value!r}")
    return value


@functools.cache
def code_version() -> str:
    """The library's fingerprint, read once per process."""
    return library_fingerprint()


def _tensor_digest(digest: hashlib._Hash, tensor: torch.Tensor) -> None:
    tensor = tensor.detach().cpu()
    digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
    # flattened first: a 0-d tensor (BatchNorm's num_batches_tracked) cannot be viewed as bytes
    digest.update(tensor.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")


def run_key(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, config: object,
            device: torch.device | str, class_weights: torch.Tensor | None) -> str:
    """The SHA-256 that names one training run (see the module docstring for what it covers)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({
        "format": 1,
        "network": f"{type(model).__module__}.{type(model).__qualname__}",
        "architecture": str(model),
        "config": dataclasses.asdict(config),
        "device": torch.device(device).type,
        "numerics": numerics(),
        "code": code_version(),
    }, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        _tensor_digest(digest, tensor)
    for tensor in (images, labels, torch.get_rng_state()):
        _tensor_digest(digest, tensor)
    if torch.device(device).type == "cuda":
        for state in torch.cuda.get_rng_state_all():
            _tensor_digest(digest, state)
    if class_weights is not None:
        _tensor_digest(digest, class_weights)
    return digest.hexdigest()


def load(key: str, model: nn.Module) -> list[dict] | None:
    """Load a cached run into ``model`` and restore the random state training left; return
    its epoch records, or None when there is no such run (or the cache is off or write-only)."""
    folder = cache_folder()
    if folder is None or mode() == "write":
        return None
    path = folder / f"{key}.pt"
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(payload["model"])
    torch.set_rng_state(payload["rng"])
    if payload.get("cuda_rng") is not None:
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    return payload["history"]


def store(key: str, model: nn.Module, history: list[dict], device: torch.device | str) -> Path | None:
    """Write one finished run atomically (a run killed mid-write leaves nothing behind)."""
    folder = cache_folder()
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    on_gpu = torch.device(device).type == "cuda"
    payload = {
        "model": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
        "history": history,
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if on_gpu else None,
    }
    path = folder / f"{key}.pt"
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)
    return path
