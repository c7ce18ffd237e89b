"""Files from a public repository at a pinned commit, each checked against a SHA-256 list.

Several of the book's real assets (the texture-vs-shape stimuli, the ORL faces) are plain
files in a GitHub repository. :class:`PinnedFiles` fetches them file by file from
``raw.githubusercontent.com`` at one commit, checks every file against a manifest shipped
with advlib (``sha256sum -c`` reads the same format) and keeps them under the data root in
the repository's own layout. An environment variable may point the download at a mirror
with that layout (a ``file://`` URL works; CI points it at its local copy).

A corrupt file on disk is an error, not silently replaced, so a reader learns that their
copy is damaged; a download with the wrong checksum is rejected and not kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from advlib.data.root import data_root, downloads_allowed
from advlib.errors import DataUnavailableError
from advlib.utils import atomic_path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, target: Path, digest: str) -> None:
    with atomic_path(target) as temporary:
        with urllib.request.urlopen(url, timeout=60) as response, open(temporary, "wb") as handle:
            shutil.copyfileobj(response, handle)
        found = sha256_of(temporary)
        if found != digest:
            raise ValueError(f"checksum mismatch for {url}: expected sha256 {digest}, got {found}")


@dataclass(frozen=True)
class PinnedFiles:
    """One repository's files at one commit.

    Attributes:
        repository: "owner/name" on GitHub.
        commit: the full commit hash every file is fetched at.
        folder: the folder under the data root that mirrors the repository's layout.
        manifest_path: the SHA-256 list (``<sha256>  <path relative to the repository>``).
        url_variable: environment variable that may name a mirror base URL.
        what: how messages name the data set ("the ORL faces").
    """

    repository: str
    commit: str
    folder: str
    manifest_path: Path
    url_variable: str
    what: str

    @property
    def default_url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.repository}/{self.commit}"

    @cached_property
    def manifest(self) -> dict[str, str]:
        """Relative path -> SHA-256 of every file of the repository the book uses."""
        entries = {}
        for line in self.manifest_path.read_text().splitlines():
            if line.strip():
                digest, path = line.split(maxsplit=1)
                entries[path] = digest
        return entries

    def files_under(self, prefix: str) -> dict[str, str]:
        return {path: digest for path, digest in self.manifest.items() if path.startswith(prefix.rstrip("/") + "/")}

    def local_folder(self, root: str | Path | None = None) -> Path:
        return data_root(root) / self.folder

    def how_to_provide(self, folder: Path) -> str:
        return (
            f"Run once with network access (downloading on), or copy the files of {self.repository} at commit "
            f"{self.commit[:7]} into {folder} (same layout); ${self.url_variable} may name a mirror."
        )

    def ensure(
        self,
        expected: dict[str, str],
        *,
        root: str | Path | None = None,
        download: bool | None = None,
        base_url: str | None = None,
        label: str = "",
    ) -> Path:
        """Make sure every file of ``expected`` (path -> SHA-256) is present and intact.

        Files on disk are checked; missing ones are downloaded when allowed (from ``base_url``,
        else ``$url_variable``, else GitHub at the pinned commit) and checked before they are
        kept. Returns the local folder.
        """
        if not expected:
            raise ValueError(f"no files {label or 'requested'} in the manifest of {self.what}")
        folder = self.local_folder(root)
        missing = []
        for relative, digest in expected.items():
            path = folder / relative
            if not path.exists():
                missing.append((relative, digest))
            elif sha256_of(path) != digest:
                raise DataUnavailableError(
                    f"{self.what}: file {relative}", path,
                    "Its SHA-256 does not match the pinned commit; delete it to download it again.",
                )
        if not missing:
            return folder
        resource = f"{self.what} {label}({len(missing)} of {len(expected)} files missing)"
        where = folder / label.strip() if label.strip() else folder
        if not downloads_allowed(download):
            raise DataUnavailableError(resource, where, self.how_to_provide(folder) + " Downloading is off.")
        base = (base_url or os.environ.get(self.url_variable) or self.default_url).rstrip("/")
        try:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda item: _download(f"{base}/{item[0]}", folder / item[0], item[1]), missing))
        except Exception as error:  # network, HTTP or checksum failures all end in one clear message
            raise DataUnavailableError(resource, where, self.how_to_provide(folder), cause=repr(error)) from error
        return folder
