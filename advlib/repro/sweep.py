"""Seed and parameter sweeps: addressable runs, executed by submitit locally or on Slurm.

A plain ``advlib reproduce`` runs each chapter once into ``runs/<scale>/<slug>.json``; two
seeds would overwrite each other. A sweep gives every run its own folder::

    runs/<scale>/sweeps/<slug>/seed<k>[-<hash8>]/     the run's results_dir
        run.json                                      key, inputs, fingerprint, status, log
        <scale>/<slug>.ipynb, <scale>/<slug>.json     what a chapter writes to any results_dir
    runs/<scale>/sweeps/submitit/                     submitit's job logs
    runs/<scale>/sweeps/report.{json,md}              mean +- std over the seeds

``hash8`` is a short hash of the run's non-default parameters (without ``scale``, ``seed``,
``device`` and ``results_dir``: where a run executes is not what it computes), left out when
every parameter is at its default. ``run.json`` carries a fingerprint of the inputs (the
chapter, the parameters and a hash of the code: the notebook's code cells and the library's
sources); a run whose ``run.json`` says it finished with the same fingerprint is skipped, a
changed one is run again, a failed one is reported with its log and does not stop the others.

The scheduling is submitit's (its local executor on one machine, one job array on Slurm);
this module only plans, throttles the local executor's parallelism, and collects.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from advlib.repro import aggregate
from advlib.repro.ledger import disagreements
from advlib.repro.record import load_record, record_path, write_json_atomic
from advlib.repro.runner import code_fingerprint, execute, parse_overrides, prepare
from advlib.repro.spec import get_chapter, parse_value, reference_parameters
from advlib.utils import atomic_path, library_fingerprint

EXECUTORS = ("local", "slurm")
UNHASHED = ("scale", "seed", "device", "results_dir")
"""Parameters that do not enter a run's folder hash: the scale and seed are in the path
already, and the device and results folder say where a run executes, not what it computes."""
SLURM_BINARIES = ("sbatch", "squeue", "scancel")


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-9"`` (or a mix, ``"0-4,10"``) -> distinct seeds >= 0, in order."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                first, last = (int(bound) for bound in part.split("-", 1))
                if last < first:
                    raise ValueError
                seeds.extend(range(first, last + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"--seeds takes seeds >= 0 as '0,1,2' or a range '0-9'; could not read {part!r} "
                             f"in {text!r}") from None
    if any(seed < 0 for seed in seeds):
        raise ValueError(f"seeds must be >= 0, got {text!r}")
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ValueError(f"seeds {repeated} are listed twice in {text!r}")
    return seeds


def parse_grid(pairs: Iterable[str]) -> list[tuple[str, list[str]]]:
    """``["eps=0.1,0.3"]`` -> ``[("eps", ["0.1", "0.3"])]``: one sweep dimension per pair
    (values typed and validated per chapter later)."""
    grid = []
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"--vary takes KEY=V1,V2,..., got {pair!r}")
        name, values = pair.split("=", 1)
        options = [value.strip() for value in values.split(",")]
        if not all(options):
            raise ValueError(f"--vary {pair!r}: an empty value")
        if name.strip() in UNHASHED:
            raise ValueError(f"--vary {name.strip()}: scale, seed, device and results_dir are not swept this way "
                             "(use --scale, --seeds, -p device=...)")
        grid.append((name.strip(), options))
    names = [name for name, _ in grid]
    if len(set(names)) != len(names):
        raise ValueError(f"--vary names a parameter twice: {names}")
    return grid


def _canonical(values: Mapping[str, Any]) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class RunSpec:
    """One planned run: which chapter, with which parameters, into which folder.

    Plain data (no model, no tensor), so submitit pickles it in a few hundred bytes.
    """

    slug: str
    scale: str
    seed: int
    varied: dict[str, Any]
    parameters: dict[str, Any]
    folder: str
    fingerprint: str
    threads: int = 0  # CPU threads per run (0: leave the machine's default)

    @property
    def name(self) -> str:
        return f"{self.slug}/{Path(self.folder).name}"

    @property
    def status_path(self) -> Path:
        return Path(self.folder) / "run.json"

    @property
    def notebook_path(self) -> Path:
        return Path(self.folder) / self.scale / f"{self.slug}.ipynb"


def run_folder(runs_dir: Path, scale: str, slug: str, seed: int, varied: Mapping[str, Any]) -> Path:
    """``<runs>/<scale>/sweeps/<slug>/seed<k>[-<hash8>]``."""
    name = f"seed{seed}"
    if varied:
        name += "-" + hashlib.sha256(_canonical(varied).encode()).hexdigest()[:8]
    return runs_dir.resolve() / scale / "sweeps" / slug / name


def sweep_dir(runs_dir: Path, scale: str) -> Path:
    return runs_dir.resolve() / scale / "sweeps"


@dataclass
class Plan:
    """The validated plan of a sweep: every run, and how it will be executed."""

    scale: str
    runs_dir: Path
    runs: list[RunSpec]
    executor: str
    max_parallel: int
    timeout_min: int
    slurm: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"{len(self.runs)} runs at scale {self.scale}, executor {self.executor}, "
                 f"at most {self.max_parallel} at a time:"]
        for spec in self.runs:
            state = "done, will be skipped" if finished(spec) else "to run"
            lines.append(f"  {aggregate.group_label(spec.name, spec.varied)}: {state} -> {spec.folder}")
        if self.executor == "slurm":
            lines.append(f"  slurm: {self.slurm}")
        return "\n".join(lines)


def plan_sweep(
    scale: str,
    *,
    chapters: Sequence[str],
    seeds: Sequence[int],
    overrides: Iterable[str] = (),
    grid: Sequence[tuple[str, Sequence[str]]] = (),
    runs_dir: Path = Path("runs"),
    executor: str = "local",
    max_parallel: int = 0,
    slurm_partition: str | None = None,
    gpus_per_run: int = 0,
    cpus_per_run: int = 0,
    timeout_min: int = 240,
) -> Plan:
    """Validate the whole sweep (chapters x seeds x parameter sets) before anything runs.

    Every run's parameters go through the same checks as a single run
    (:func:`advlib.repro.runner.prepare`), so a parameter set that one chapter rejects
    stops the sweep here, naming the chapter; nothing is written.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {list(EXECUTORS)}")
    if executor == "slurm":
        missing = [binary for binary in SLURM_BINARIES if shutil.which(binary) is None]
        if missing:
            raise RuntimeError(f"--executor slurm needs Slurm's {', '.join(missing)} on the PATH; none found here "
                               "(run on the cluster's login node, or use --executor local)")
    elif slurm_partition or gpus_per_run:
        raise ValueError("--slurm-partition and --gpus-per-run apply to --executor slurm only")
    if not seeds:
        raise ValueError("a sweep needs at least one seed")
    for name, bound in (("max_parallel", max_parallel), ("gpus_per_run", gpus_per_run),
                        ("cpus_per_run", cpus_per_run), ("timeout_min", timeout_min - 1)):
        if bound < 0:
            raise ValueError(f"{name} must be >= {0 if name != 'timeout_min' else 1}")
    overrides = list(overrides)
    for pair in overrides:
        if pair.split("=", 1)[0].strip() == "seed":
            raise ValueError("give the seeds with --seeds, not -p seed=...")
    cores = os.cpu_count() or 1
    parallel = max_parallel or (cores if executor == "local" else len(seeds))
    threads = cpus_per_run or (max(1, cores // parallel) if executor == "local" else 0)
    runs = []
    library = library_fingerprint()
    for name in chapters:
        chapter = get_chapter(name)
        # at reference scale a run starts from the chapter's declared reference parameters
        fixed = {**(reference_parameters(chapter) if scale == "reference" else {}),
                 **parse_overrides(chapter, overrides)}
        fixed.pop("scale", None)
        try:
            dimensions = [[(key, parse_value(chapter.parameter(key), value)) for value in values]
                          for key, values in grid]
        except KeyError as error:
            raise ValueError(f"--vary: unknown parameter {error.args[0]!r} for chapter {chapter.slug}") from None
        code = code_fingerprint(chapter.notebook, library)
        defaults = {parameter.name: parameter.default for parameter in chapter.parameters}
        for combination in itertools.product(*dimensions):
            values = {**fixed, **dict(combination), "scale": scale}
            try:
                for seed in seeds:
                    chapter.parameter("seed").check(seed)
                # the login node of a cluster has no GPU: -p device=cuda is checked on the node that runs it
                _, checked = prepare(chapter.slug, values, Path("."), check_device=executor == "local")
            except ValueError as error:
                raise ValueError(f"chapter {chapter.slug}, {dict(combination)}: {error}") from None
            varied = {key: value for key, value in checked.items() if key not in UNHASHED and value != defaults[key]}
            for seed in seeds:
                folder = run_folder(runs_dir, scale, chapter.slug, seed, varied)
                parameters = {**checked, "seed": seed, "results_dir": str(folder)}
                fingerprint = hashlib.sha256(_canonical(
                    {"chapter": chapter.slug, "scale": scale, "seed": seed, "varied": varied, "code": code}
                ).encode()).hexdigest()
                runs.append(RunSpec(chapter.slug, scale, seed, varied, parameters, str(folder), fingerprint, threads))
    slurm = {}
    if executor == "slurm":
        slurm = {"slurm_partition": slurm_partition, "gpus_per_node": gpus_per_run or None,
                 "cpus_per_task": cpus_per_run or 1}
    return Plan(scale, runs_dir, runs, executor, parallel, timeout_min,
                {key: value for key, value in slurm.items() if value is not None})


def status(spec: RunSpec) -> dict[str, Any] | None:
    """What the run's ``run.json`` says (None when the run never started)."""
    try:
        return json.loads(spec.status_path.read_text())
    except FileNotFoundError:
        return None


def finished(spec: RunSpec) -> bool:
    """Done with identical inputs: skipping it loses nothing."""
    state = status(spec)
    return bool(state) and state["status"] == "done" and state["fingerprint"] == spec.fingerprint


def _log_paths() -> dict[str, str]:
    """submitit's stdout/stderr files of the running job (empty outside submitit)."""
    try:
        import submitit

        paths = submitit.JobEnvironment().paths
        return {"stdout": str(paths.stdout), "stderr": str(paths.stderr)}
    except RuntimeError:
        return {}


def run_one(spec: RunSpec) -> dict[str, Any]:
    """Execute one planned run (the function submitit ships to a job); return its status.

    Writes ``run.json`` as "running", then "done" or "failed". A class-scale run whose
    results contradict the chapter's text (the notebook's final assert) has measured
    everything: it counts as done, with the contradictions listed, because for a sweep
    over seeds a sentence that one seed makes false is a result to report, not a crash.
    """
    from papermill.exceptions import PapermillExecutionError

    if spec.threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(spec.threads)
    base = {**asdict(spec), "host": socket.gethostname(), "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
            "logs": _log_paths(), "notebook": str(spec.notebook_path)}
    Path(spec.folder).mkdir(parents=True, exist_ok=True)
    write_json_atomic(spec.status_path, {**base, "status": "running", "started": time.time()})
    began = time.perf_counter()
    state: dict[str, Any] = {**base, "status": "done", "contradictions": []}
    try:
        execute(get_chapter(spec.slug), spec.parameters, progress=False)
    except PapermillExecutionError as error:
        # execute() removed any older record first: one on disk was written by this run's
        # finish_chapter, which asserts only after recording; what it asserted is in its ledger
        record_file = record_path(spec.folder, spec.scale, spec.slug)
        contradictions = disagreements(load_record(record_file)["ledger"]) if record_file.is_file() else []
        if error.ename == "AssertionError" and contradictions:
            state["contradictions"] = contradictions
        else:
            state.update(status="failed", error=f"cell [{error.exec_count}] raised {error.ename}: {error.evalue}")
    except Exception as error:  # any failure is recorded and reported, not lost
        state.update(status="failed", error=f"{type(error).__name__}: {error}")
    state["seconds"] = round(time.perf_counter() - began, 1)
    write_json_atomic(spec.status_path, state)
    return state


def _executor(plan: Plan) -> Any:
    import submitit

    executor = submitit.AutoExecutor(folder=sweep_dir(plan.runs_dir, plan.scale) / "submitit",
                                     cluster=plan.executor)
    executor.update_parameters(timeout_min=plan.timeout_min, name=f"advlib-{plan.scale}")
    if plan.executor == "slurm":
        executor.update_parameters(slurm_array_parallelism=plan.max_parallel, **plan.slurm)
    return executor


def _wait(jobs: Sequence[Any], poll_seconds: float) -> None:
    while not all(job.done() for job in jobs):
        time.sleep(poll_seconds)


# submitit's local controller signals a job at its time limit and gives it this long to stop
LOCAL_GRACE_S = 120.0


def _reap(in_flight: dict[Any, tuple[RunSpec, float]], limit_s: float, echo: Any) -> None:
    """Forget finished local jobs; cancel those past ``limit_s`` (plus a grace period).

    submitit's local controller enforces the time limit itself; this is the backstop for a
    job that neither finishes nor dies (a kernel that never answers, a lost controller), so
    that one hung run is reported as failed instead of stalling the whole sweep forever.
    """
    now = time.monotonic()
    for job, (spec, started) in list(in_flight.items()):
        if job.done():
            del in_flight[job]
        elif now - started > limit_s + LOCAL_GRACE_S:
            job.cancel(check=False)
            echo(f"cancelled {spec.name}: still running {now - started:.0f} s after it started "
                 f"(limit {limit_s:.0f} s)")
            del in_flight[job]


def execute_plan(plan: Plan, *, poll_seconds: float = 2.0, echo: Any = print) -> dict[str, Any]:
    """Run every unfinished run of ``plan``; return ``{"skipped", "done", "failed"}`` specs
    by name. The local executor keeps at most ``max_parallel`` jobs in flight; on Slurm the
    whole plan is one job array whose parallelism Slurm caps."""
    pending = []
    outcome: dict[str, Any] = {"skipped": [], "done": [], "failed": []}
    for spec in plan.runs:
        if finished(spec):
            echo(f"skipped {spec.name}: done before with identical inputs ({spec.status_path})")
            outcome["skipped"].append(spec)
        else:
            pending.append(spec)
    if pending:
        executor = _executor(plan)
        if plan.executor == "slurm":
            jobs = executor.map_array(run_one, pending)
            echo(f"submitted a Slurm job array of {len(jobs)} runs: {jobs[0].job_id.split('_')[0]}")
            _wait(jobs, poll_seconds)
        else:
            in_flight: dict[Any, tuple[RunSpec, float]] = {}
            limit_s = 60.0 * plan.timeout_min
            for spec in pending:
                while len(in_flight) >= plan.max_parallel:
                    time.sleep(poll_seconds)
                    _reap(in_flight, limit_s, echo)
                in_flight[executor.submit(run_one, spec)] = (spec, time.monotonic())
                echo(f"started {spec.name}")
            while in_flight:
                time.sleep(poll_seconds)
                _reap(in_flight, limit_s, echo)
    for spec in pending:
        state = status(spec) or {}
        if state.get("status") == "done" and state.get("fingerprint") == spec.fingerprint:
            outcome["done"].append(spec)
            if state["contradictions"]:
                echo(f"{spec.name}: this seed contradicts the chapter's text: " + "; ".join(state["contradictions"]))
        else:
            log = state.get("logs", {}).get("stderr") or str(sweep_dir(plan.runs_dir, plan.scale) / "submitit")
            reason = state.get("error") or f"the job ended without finishing (status {state.get('status')!r})"
            echo(f"FAILED {spec.name}: {reason}\n  log: {log}\n  notebook: {spec.notebook_path}")
            outcome["failed"].append(spec)
    return outcome


def collect(plan: Plan) -> dict[str, dict[str, Any]]:
    """The finished runs of the plan, grouped by chapter and parameter set."""
    groups: dict[str, dict[str, Any]] = {}
    for spec in plan.runs:
        if not finished(spec):
            continue
        label = aggregate.group_label(spec.slug, spec.varied)
        group = groups.setdefault(label, {"chapter": spec.slug, "varied": spec.varied, "records": []})
        group["records"].append(load_record(record_path(spec.folder, spec.scale, spec.slug)))
    return groups


def write_report(plan: Plan, outcome: Mapping[str, Any], *, per_seed: bool = False) -> dict[str, Any]:
    """Aggregate the plan's finished runs into ``sweeps/report.{json,md}``; failed runs are
    listed with their logs, so a partial sweep says what it lacks."""
    report = aggregate.aggregate(plan.scale, collect(plan))
    report["failed"] = [{"run": spec.name, **{key: (status(spec) or {}).get(key) for key in ("error", "logs")}}
                        for spec in outcome["failed"]]
    markdown = aggregate.render_markdown(report, per_seed=per_seed)
    if report["failed"]:
        markdown += "\n## Failed runs\n\n" + "\n".join(
            f"- {failure['run']}: {failure['error']} (log: {(failure['logs'] or {}).get('stderr')})"
            for failure in report["failed"]) + "\n"
    folder = sweep_dir(plan.runs_dir, plan.scale)
    write_json_atomic(folder / "report.json", report)
    with atomic_path(folder / "report.md") as temporary:
        temporary.write_text(markdown)
    report["markdown"] = markdown
    return report


def sweep(plan: Plan, *, per_seed: bool = False, poll_seconds: float = 2.0, echo: Any = print) -> dict[str, Any]:
    """Execute a validated plan and write its report; see :func:`plan_sweep`."""
    outcome = execute_plan(plan, poll_seconds=poll_seconds, echo=echo)
    report = write_report(plan, outcome, per_seed=per_seed)
    report["outcome"] = {key: [spec.name for spec in specs] for key, specs in outcome.items()}
    return report


def read_aggregate(slug: str, *, scale: str, runs_dir: str | Path = "runs",
                   varied: Mapping[str, Any] | None = None) -> dict[str, aggregate.Summary]:
    """The mean +- std over seeds of every result of one chapter and parameter set, from the
    last sweep's ``report.json``: what a chapter's table reads to show a sweep instead of
    its own single run (``summary.mean``, ``summary.std``, ``summary.n``, ``summary.values``).

    Raises ``FileNotFoundError`` when no sweep report exists and ``KeyError`` naming the
    groups it has when this chapter and parameter set are not among them.
    """
    path = sweep_dir(Path(runs_dir), scale) / "report.json"
    if not path.is_file():
        raise FileNotFoundError(f"no sweep report at {path}: run advlib reproduce --scale {scale} --seeds ...")
    groups = json.loads(path.read_text())["groups"]
    label = aggregate.group_label(get_chapter(slug).slug, varied or {})
    if label not in groups:
        raise KeyError(f"the sweep report has no group {label!r}; it has {sorted(groups)}")
    return {key: aggregate.summary_from_json(payload) for key, payload in groups[label]["results"].items()}
