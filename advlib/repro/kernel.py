"""A Jupyter kernel manager whose kernels cannot be mixed up with each other's.

jupyter_client's default transport is TCP on ports it picks by binding a free port and
releasing it before the kernel binds it again. Two kernels started at the same moment
(a sweep's parallel runs, two test workers each running a chapter) can be handed the same
port, and then one client can end up talking to the other's kernel (jupyter_client issue
487, papermill issue 511). That is the likely cause of a hang seen here: in the sweep test,
run beside other kernels under pytest-xdist, one run's client waited minutes for a reply while
its kernel sat idle (not reproduced on purpose). Unix domain sockets in a folder of the
kernel's own have no such race: the name is unique before anything is bound.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

from jupyter_client.manager import KernelManager


class PrivateSocketKernelManager(KernelManager):
    """A KernelManager on IPC sockets in a fresh temporary folder, removed at clean-up.

    Where Unix sockets do not exist (Windows) it stays the default TCP manager."""

    def __init__(self, **kwargs: Any) -> None:
        self._socket_folder: str | None = None
        if sys.platform != "win32" and "transport" not in kwargs:
            # short on purpose: a socket path must stay under about 100 bytes
            self._socket_folder = tempfile.mkdtemp(prefix="advk-")
            kwargs.update(transport="ipc", ip=os.path.join(self._socket_folder, "k"))
        super().__init__(**kwargs)

    def cleanup_resources(self, restart: bool = False) -> None:
        super().cleanup_resources(restart=restart)
        if not restart and self._socket_folder is not None:
            shutil.rmtree(self._socket_folder, ignore_errors=True)
