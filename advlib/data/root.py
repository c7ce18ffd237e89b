"""The one place where datasets and downloaded weights live: ``$ADVLIB_DATA``.

Defaults to the user cache directory (``~/.cache/advlib`` on Linux). Everything the book
downloads or a reader supplies goes under this root, in the standard libraries' own
layouts (torchvision's ``MNIST/raw``, ``cifar-10-batches-py``, ...), so files prepared for
torchvision elsewhere can simply be copied or linked in.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_VAR = "ADVLIB_DATA"
OFFLINE_VAR = "ADVLIB_OFFLINE"


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the data root: the argument, else ``$ADVLIB_DATA``, else the user cache dir."""
    if root is None:
        root = os.environ.get(ENV_VAR) or platformdirs.user_cache_dir("advlib")
    return Path(root).expanduser()


def downloads_allowed(download: bool | None) -> bool:
    """``download=None`` means: allowed unless ``$ADVLIB_OFFLINE`` is set to a true value."""
    if download is not None:
        return bool(download)
    return os.environ.get(OFFLINE_VAR, "").strip().lower() not in ("1", "true", "yes", "on")
