"""A throw-away single-node Slurm cluster for tests: munged, slurmctld and slurmd started
from a temporary directory (Debian's ``slurm-wlm`` and ``munge``), stopped afterwards.

Nothing outside the directory is touched: the daemons get their own munge key and socket,
state, spool, logs and ports; ``SLURM_CONF`` points the client commands (sbatch, squeue,
sacct) at the temporary configuration. There is no accounting daemon, so ``sacct`` fails and
submitit falls back on the result files its jobs write.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "srun")


def missing() -> str | None:
    """Why a single-node Slurm cannot be started here (None when it can)."""
    absent = [name for name in DAEMONS if shutil.which(name) is None
              and not Path("/usr/sbin", name).is_file()]
    if absent:
        return f"Slurm/munge not installed ({', '.join(absent)} missing; apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "starting slurmd needs root"
    return None


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _configuration(folder: Path, munge_socket: Path) -> str:
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2
    return "\n".join([
        "ClusterName=advlibtest",
        f"SlurmctldHost={host}(127.0.0.1)",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge_socket}",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'slurmd.log'}",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "MpiDefault=none",
        "SchedulerType=sched/builtin",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "SlurmdParameters=config_overrides",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def _wait_for(check, what: str, logs: list[Path], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.is_file())
    raise RuntimeError(f"single-node Slurm: {what} did not happen in {seconds} s\n{tails}")


@contextlib.contextmanager
def single_node_slurm(folder: Path) -> Iterator[dict[str, str]]:
    """Start the cluster; yield the environment (``SLURM_CONF``) its clients need."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for sub in ("state", "spool", "munge"):
        (folder / sub).mkdir(exist_ok=True)
    (folder / "munge").chmod(0o700)
    key, munge_socket = folder / "munge" / "munge.key", folder / "munge" / "munge.socket"
    subprocess.run([_binary("mungekey"), "--create", f"--keyfile={key}"], check=True)
    configuration = folder / "slurm.conf"
    configuration.write_text(_configuration(folder, munge_socket))
    environment = {**os.environ, "SLURM_CONF": str(configuration)}
    munge_pid = folder / "munge" / "munged.pid"
    subprocess.run([_binary("munged"), "--force", f"--key-file={key}", f"--socket={munge_socket}",
                    f"--pid-file={munge_pid}", f"--log-file={folder / 'munge' / 'munged.log'}",
                    f"--seed-file={folder / 'munge' / 'munged.seed'}"], check=True)
    logs = [folder / "slurmctld.log", folder / "slurmd.log", folder / "munge" / "munged.log"]
    try:
        subprocess.run([_binary("slurmctld"), "-f", str(configuration)], check=True, env=environment)
        subprocess.run([_binary("slurmd"), "-f", str(configuration)], check=True, env=environment)

        def idle() -> bool:
            state = subprocess.run([_binary("sinfo"), "-h", "-o", "%T"], capture_output=True, text=True,
                                   env=environment)
            return state.returncode == 0 and state.stdout.strip() == "idle"

        _wait_for(idle, "the node becoming idle", logs)
        yield {"SLURM_CONF": str(configuration)}
    finally:
        # a job whose result file is written may still be ending its step: let the queue drain
        # (then cancel what is left) before the daemons stop, or its srun outlives them
        def drained() -> bool:
            queue = subprocess.run([_binary("squeue"), "-h"], capture_output=True, text=True, env=environment)
            return queue.returncode != 0 or not queue.stdout.strip()

        with contextlib.suppress(RuntimeError):
            _wait_for(drained, "the queue draining", logs, seconds=60)
        subprocess.run([_binary("scancel"), "--user=root"], env=environment, capture_output=True)
        subprocess.run([_binary("scontrol"), "shutdown"], env=environment, capture_output=True)
        for pid_file in (folder / "slurmd.pid", folder / "slurmctld.pid", munge_pid):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
