"""The kernel manager the runner starts notebooks with: each kernel on Unix sockets in a
folder of its own, removed afterwards, and a kernel that dies is reported, not waited for.

The tests start their kernels from threads of one process; they check the manager's
behaviour, not the cross-process port race it is there to avoid (which no test provokes)."""

from __future__ import annotations

import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from advlib.repro.kernel import PrivateSocketKernelManager

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets only")]


def _connection_of_a_fresh_kernel(_: int) -> dict:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("from ipykernel.connect import get_connection_info\n"
                                                "print(get_connection_info())")]
    NotebookClient(notebook, timeout=60, kernel_name="python3",
                   kernel_manager_class=PrivateSocketKernelManager).execute()
    return json.loads(notebook.cells[0].outputs[0]["text"])


def test_kernels_started_at_once_each_get_sockets_of_their_own_and_leave_none_behind():
    with ThreadPoolExecutor(4) as pool:
        connections = list(pool.map(_connection_of_a_fresh_kernel, range(4)))
    assert all(info["transport"] == "ipc" for info in connections), connections
    folders = [os.path.dirname(info["ip"]) for info in connections]
    assert len(set(folders)) == 4 and all(os.path.basename(folder).startswith("advk-") for folder in folders)
    assert not any(os.path.exists(folder) for folder in folders), "each socket folder is removed after the run"


def test_a_kernel_that_dies_mid_cell_is_reported_within_seconds():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import os\nos._exit(1)")]
    client = NotebookClient(notebook, timeout=60, kernel_name="python3",
                            kernel_manager_class=PrivateSocketKernelManager)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            client.execute()
        except BaseException as error:  # handed to the assertion below
            raised.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the client still waits for a kernel that died"
    assert raised and isinstance(raised[0], DeadKernelError), raised


def test_a_transport_keyword_is_left_alone():
    manager = PrivateSocketKernelManager(transport="tcp")
    assert manager.transport == "tcp" and manager._socket_root is None
