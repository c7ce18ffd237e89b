"""The kernel manager the runner starts notebooks with: private sockets, nothing left behind."""

from __future__ import annotations

import glob
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from nbclient import NotebookClient

from advlib.repro.kernel import PrivateSocketKernelManager

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets only")


def _run(marker: int) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"import os\nprint({marker}, os.getpid())")]
    NotebookClient(notebook, timeout=60, kernel_name="python3",
                   kernel_manager_class=PrivateSocketKernelManager).execute()
    return notebook.cells[0].outputs[0]["text"]


def test_kernels_started_at_once_each_answer_their_own_notebook_and_leave_no_sockets():
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "advk-*")))
    with ThreadPoolExecutor(4) as pool:
        printed = list(pool.map(_run, range(4)))
    assert [int(text.split()[0]) for text in printed] == [0, 1, 2, 3], "each notebook ran in its own kernel"
    assert len({text.split()[1] for text in printed}) == 4, "four kernel processes"
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "advk-*"))) == before, "socket folders removed"


def test_an_explicit_transport_is_left_alone():
    manager = PrivateSocketKernelManager(transport="tcp")
    assert manager.transport == "tcp" and manager._socket_folder is None


def test_the_default_is_a_unix_socket_in_a_folder_of_its_own():
    manager = PrivateSocketKernelManager()
    folder = manager._socket_folder
    assert manager.transport == "ipc" and manager.ip.startswith(folder) and os.path.isdir(folder)
    manager.cleanup_resources()
    assert not os.path.exists(folder)
