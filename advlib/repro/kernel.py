"""A Jupyter kernel manager that gives each kernel sockets of its own.

jupyter_client's default transport is TCP. It picks each port by binding a free port and
releasing it before the kernel binds it again. Within one process a port cache keeps two
kernels apart, but kernels started at the same moment by separate processes (a sweep's
parallel runs, test processes) can be handed the same port: then the kernel that loses
the race fails to start (jupyter_client issue 487, papermill issue 511). Unix domain
sockets in a folder of the kernel's own have no such race: the name is unique before
anything is bound.

A sweep run did hang once, in the sweep test run beside other kernels: its client waited
minutes while its kernel sat idle. That symptom is not the race's documented one (a kernel
that dies at start), the cause was not found, and it was not reproduced; this manager
removes one known way for parallel runs to interfere, not necessarily that hang. With it in
place the sweep test hung once more, in CI with two runs at once (five runs of the same test
here did not), so the sweep now cancels a run that outlives its time limit
(``advlib.repro.sweep``) and the test runs one run at a time.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from jupyter_client.manager import AsyncKernelManager, KernelManager

# A Unix socket path must fit in 108 bytes (104 on macOS); the sockets are
# "<root>/advk-XXXXXXXX/k-<n>", so a root of at most this length leaves room.
_LONGEST_ROOT = 60


def _socket_root() -> str | None:
    """A short temporary folder to hold the socket folders, or None where there is none."""
    for root in (tempfile.gettempdir(), "/tmp"):
        if len(root) <= _LONGEST_ROOT and os.path.isdir(root):
            return root
    return None


class PrivateSocketKernelManager(AsyncKernelManager):
    """nbclient's default (asynchronous) kernel manager on IPC sockets in a fresh temporary
    folder, created when the kernel starts and removed when its resources are cleaned up
    (nbclient does that after shutdown, and after a failed start).

    It keeps TCP, and with it the port race, where a ``transport`` keyword is given, on
    Windows, and where no short temporary folder exists.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._socket_folder: str | None = None
        self._socket_root = None if sys.platform == "win32" or "transport" in kwargs else _socket_root()
        if self._socket_root is not None:
            kwargs["transport"] = "ipc"
        super().__init__(**kwargs)

    async def _start_with_private_sockets(self, **kwargs: Any) -> None:
        if self._socket_root is not None and self._socket_folder is None:
            self._socket_folder = tempfile.mkdtemp(prefix="advk-", dir=self._socket_root)
            self.ip = os.path.join(self._socket_folder, "k")
        try:
            await KernelManager._async_start_kernel(self, **kwargs)
        except BaseException:
            self._remove_socket_folder()
            raise

    async def _cleanup_with_private_sockets(self, restart: bool = False) -> None:
        await KernelManager._async_cleanup_resources(self, restart=restart)
        if not restart:
            self._remove_socket_folder()

    def _remove_socket_folder(self) -> None:
        if self._socket_folder is not None:
            shutil.rmtree(self._socket_folder, ignore_errors=True)
            self._socket_folder = None

    # jupyter_client's async manager binds these names to the base class's functions, and
    # its own methods call the underscored ones: both names must point at the overrides.
    start_kernel = _async_start_kernel = _start_with_private_sockets  # type: ignore[assignment]
    cleanup_resources = _async_cleanup_resources = _cleanup_with_private_sockets  # type: ignore[assignment]
