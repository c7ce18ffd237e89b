"""Run chapters with papermill; publish the executed notebooks and render the report from them.

Everything that can be checked is checked before the first cell runs: chapter names,
parameter names (papermill itself silently accepts unknown ones) and values, that the
notebook's ``parameters`` cell declares exactly the parameters of the chapter's spec, and
that a publishing run injects nothing into the notebooks it will commit.

One execution feeds both the book and the report: each chapter embeds its results record
(with the judged ledger) in the executed notebook, ``--publish`` copies those notebooks into
``chapters/``, and the report is rendered from the records inside them.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import nbformat

from advlib import train_cache
from advlib.repro.kernel import PrivateSocketKernelManager
from advlib.repro.ledger import judge, render_markdown
from advlib.repro.prose import solutions
from advlib.repro.record import embedded_record, record_path, recorded_intervals, write_json_atomic
from advlib.repro.spec import CHAPTERS_DIR, Chapter, chapters, check_parameters, get_chapter, parse_value
from advlib.utils import atomic_path, resolve_device

DEFAULT_RUNS_DIR = Path("runs")
REPOSITORY = CHAPTERS_DIR.parent
PUBLISHED_REPORT = REPOSITORY / "book" / "generated" / "report_class.md"
PUBLISHED_SCALE = "class"


def parse_overrides(chapter: Chapter, pairs: Iterable[str]) -> dict[str, Any]:
    """``["eps=0.3", "device=cpu"]`` -> typed values; unknown names and bad values raise."""
    values: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"parameters are given as key=value, got {pair!r}")
        name, text = pair.split("=", 1)
        name = name.strip()
        try:
            parameter = chapter.parameter(name)
        except KeyError:
            known = sorted(p.name for p in chapter.parameters)
            raise ValueError(f"unknown parameter {name!r} for chapter {chapter.slug}; known: {known}") from None
        values[name] = parse_value(parameter, text.strip())
    return values


def declared_parameters(chapter: Chapter) -> dict[str, Any]:
    """The names and defaults the notebook's ``parameters`` cell declares (papermill's view)."""
    import papermill

    inspected = papermill.inspect_notebook(str(chapter.notebook))
    return {name: info["default"] for name, info in inspected.items()}


def _default_results_dir() -> Path:
    """Where a notebook run without parameters writes its record: ``../runs`` from chapters/."""
    return (CHAPTERS_DIR / "../runs").resolve()


def prepare(chapter_name: str, overrides: Mapping[str, Any], runs_dir: Path, *,
            check_device: bool = True) -> tuple[Chapter, dict[str, Any]]:
    """Validate everything about one run; return the chapter and its full parameter set.

    ``check_device=False`` leaves the device's availability to the machine that runs it (a
    Slurm login node has no GPU); its spelling is still checked.
    """
    chapter = get_chapter(chapter_name)
    if not chapter.notebook.is_file():
        raise FileNotFoundError(f"chapter notebook {chapter.notebook} is missing")
    declared = set(declared_parameters(chapter))
    expected = {parameter.name for parameter in chapter.parameters}
    if declared != expected:
        raise RuntimeError(
            f"{chapter.notebook.name}: parameters cell declares {sorted(declared)}, spec has {sorted(expected)}"
        )
    if "results_dir" in overrides:
        raise ValueError("results_dir is set by the runner; choose the folder with --runs-dir")
    values = {**overrides, "results_dir": str(runs_dir.resolve())}
    checked = check_parameters(chapter, values)
    if check_device:
        resolve_device(checked["device"])  # e.g. device=cuda on a machine without a GPU: fail now, not mid-run
    return chapter, checked


def injected(chapter: Chapter, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters papermill must inject: those that differ from the notebook's defaults.

    A run with nothing to inject executes the committed notebook exactly as it is, which is
    what a published notebook must be (no injected-parameters cell).
    """
    defaults = {parameter.name: parameter.default for parameter in chapter.parameters}
    changed = {name: value for name, value in parameters.items() if name != "results_dir" and value != defaults[name]}
    if Path(parameters["results_dir"]).resolve() != _default_results_dir():
        changed["results_dir"] = parameters["results_dir"]
    return changed


def with_solutions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The chapter followed by one code cell per exercise solution, in order.

    Solutions are written in the markdown (so the book shows them folded); appending them as
    cells runs them in the chapter's own state, which is how the tests keep them working.
    """
    extended = copy.deepcopy(notebook)
    code = solutions(notebook)
    extended.cells.append(nbformat.v4.new_markdown_cell("## Solutions (appended by `advlib run --with-solutions`)"))
    for label, source in code.items():
        extended.cells.append(nbformat.v4.new_code_cell(f"# solution to {label}\n{source}"))
    return extended


def execute(chapter: Chapter, parameters: Mapping[str, Any], *, progress: bool = True,
            run_solutions: bool = False) -> tuple[dict, Path]:
    """Execute one validated chapter into ``<runs>/<scale>/<slug>.ipynb`` (``.solutions.ipynb``
    with the solutions appended); return the record embedded in it and its path."""
    import papermill

    runs_dir, scale = Path(parameters["results_dir"]), parameters["scale"]
    suffix = ".solutions.ipynb" if run_solutions else ".ipynb"
    output = runs_dir / scale / f"{chapter.slug}{suffix}"
    output.parent.mkdir(parents=True, exist_ok=True)
    record_path(runs_dir, scale, chapter.slug).unlink(missing_ok=True)  # never mistake a stale record for this run's
    output.unlink(missing_ok=True)
    source: Any = str(chapter.notebook)
    if run_solutions:
        source = with_solutions(nbformat.read(chapter.notebook, as_version=4))
    began = time.perf_counter()
    papermill.execute_notebook(
        source, str(output), parameters=injected(chapter, parameters), cwd=str(chapter.notebook.parent),
        progress_bar=progress, kernel_name="python3", kernel_manager_class=PrivateSocketKernelManager,
    )
    record = embedded_record(output)
    record["wall_seconds"] = round(time.perf_counter() - began, 1)
    return record, output


def publishable(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """An executed notebook as it is committed: outputs kept, run-time noise dropped
    (papermill's paths and timings, the kernel's per-cell timestamps), so that a diff of a
    published notebook shows what changed in its results."""
    clean = copy.deepcopy(notebook)
    clean.metadata.pop("papermill", None)
    for cell in clean.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    return clean


def stale_ledgers(notebooks: Mapping[str, Path], scale: str = PUBLISHED_SCALE) -> list[str]:
    """Chapters whose embedded ledger differs from judging their recorded results against the
    catalog now: the targets changed since the run, so the committed outputs must be
    regenerated (``make reproduce``)."""
    stale = []
    for slug, path in notebooks.items():
        record = embedded_record(path)
        if record["ledger"] != judge(get_chapter(slug), record["results"], scale, recorded_intervals(record)):
            stale.append(slug)
    return stale


def report_from_notebooks(notebooks: Mapping[str, Path], scale: str) -> dict[str, Any]:
    """The report (records and their markdown) rendered from executed notebooks, by slug."""
    records = {slug: embedded_record(path) for slug, path in notebooks.items()}
    for slug, record in records.items():
        if record["parameters"]["scale"] != scale:
            raise ValueError(f"{slug}: the notebook was run at scale {record['parameters']['scale']!r}, not {scale!r}")
    return {"scale": scale, "records": records, "markdown": render_markdown(scale, records)}


def published_notebooks() -> dict[str, Path]:
    return {chapter.slug: chapter.notebook for chapter in chapters()}


def check_publishable(scale: str, overrides: Iterable[str], runs_dir: Path) -> None:
    """A published notebook must be the committed notebook, executed as it is."""
    if scale != PUBLISHED_SCALE:
        raise ValueError(f"--publish writes the committed {PUBLISHED_SCALE}-scale outputs; got --scale {scale}")
    if list(overrides):
        raise ValueError("--publish runs the chapters with their default parameters; drop the -p options")
    if runs_dir.resolve() != _default_results_dir():
        raise ValueError(f"--publish keeps its records in {_default_results_dir()}: run it from the repository "
                         "root, without --runs-dir")


def reproduce(
    scale: str,
    *,
    runs_dir: Path = DEFAULT_RUNS_DIR,
    only: Iterable[str] | None = None,
    overrides: Iterable[str] = (),
    publish: bool = False,
    progress: bool = True,
    run_solutions: bool = False,
) -> dict[str, Any]:
    """Run the chapters at ``scale`` and write the report to ``<runs>/<scale>/report.{json,md}``.

    Every chapter's parameters are validated before the first one starts. With ``publish``,
    once every selected chapter has run, their executed notebooks replace the committed ones
    in ``chapters/`` and the book's report page is rendered from the committed notebooks, so
    the pages and the report show the same execution. Nothing is published if a chapter fails.
    """
    overrides = list(overrides)
    if publish:
        check_publishable(scale, overrides, runs_dir)
    selected = [get_chapter(name) for name in only] if only else list(chapters())
    plans = []
    for chapter in selected:
        values = {**parse_overrides(chapter, overrides), "scale": scale}
        plans.append(prepare(chapter.slug, values, runs_dir))
    executed = {}
    # A published run trains for real (its notebooks show the training's own timings) and
    # only stores its runs in the training cache, for the tests and re-runs that follow.
    with mock.patch.dict(os.environ, {train_cache.MODE_VARIABLE: "write"} if publish else {}):
        for chapter, parameters in plans:
            _, executed[chapter.slug] = execute(chapter, parameters, progress=progress, run_solutions=run_solutions)
    report = report_from_notebooks(executed, scale)
    folder = runs_dir / scale
    write_json_atomic(folder / "report.json", {"scale": scale, "records": report["records"]})
    with atomic_path(folder / "report.md") as temporary:
        temporary.write_text(report["markdown"])
    if publish:
        for chapter in selected:
            with atomic_path(chapter.notebook) as temporary:
                nbformat.write(publishable(nbformat.read(executed[chapter.slug], as_version=4)), temporary)
        published = report_from_notebooks(published_notebooks(), scale)
        with atomic_path(PUBLISHED_REPORT) as temporary:
            temporary.write_text(published["markdown"])
    return report
