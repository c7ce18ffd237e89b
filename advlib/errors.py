"""Errors that tell a reader exactly what is missing and how to provide it."""

from __future__ import annotations

from pathlib import Path


class DataUnavailableError(RuntimeError):
    """A dataset or pretrained weights are not on disk and could not be downloaded.

    The message always names the resource, the path that was looked at and how to
    provide it; the loaders never fall back silently to some other data.
    """

    def __init__(self, resource: str, path: Path | str, how_to_provide: str, cause: str | None = None):
        self.resource, self.path, self.how_to_provide = resource, Path(path), how_to_provide
        message = f"{resource} is not available at {path}. {how_to_provide}"
        if cause:
            message += f" (download failed: {cause})"
        super().__init__(message)
