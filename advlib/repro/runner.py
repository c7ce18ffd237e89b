"""Run chapters with papermill; publish the executed notebooks and render the report from them.

Everything that can be checked is checked before the first cell runs: chapter names,
parameter names (papermill itself silently accepts unknown ones) and values, that the
notebook's ``parameters`` cell declares exactly the parameters of the chapter's spec, and
that a publishing run injects nothing into the notebooks it will commit.

One execution feeds both the book and the report: each chapter embeds its results record
(with the judged ledger) in the executed notebook, ``--publish`` copies those notebooks into
``chapters/`` (class scale) or ``reproductions/`` (reference scale), and each scale's report
is rendered from the records inside them. A reference chapter whose notebook code, library and
parameters are unchanged since its committed run is skipped: such a run takes up to an hour.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

import nbformat

from advlib import train_cache
from advlib.repro.kernel import PrivateSocketKernelManager
from advlib.repro.ledger import disagreements, judge, render_markdown, render_side_by_side
from advlib.repro.prose import solutions
from advlib.repro.record import embedded_record, record_path, recorded_intervals, write_json_atomic
from advlib.repro.spec import (
    CHAPTERS_DIR,
    Chapter,
    chapters,
    check_parameters,
    get_chapter,
    parse_value,
    reference_parameters,
)
from advlib.utils import atomic_path, library_fingerprint, resolve_device

DEFAULT_RUNS_DIR = Path("runs")
REPOSITORY = CHAPTERS_DIR.parent
REPRODUCTIONS_DIR = REPOSITORY / "reproductions"
PUBLISHED_SCALE = "class"
PUBLISHED_SCALES = ("class", "reference")
REPORTS = {scale: REPOSITORY / "book" / "generated" / f"report_{scale}.md" for scale in PUBLISHED_SCALES}
PUBLISHED_REPORT = REPORTS[PUBLISHED_SCALE]
# Both published scales side by side, for the chapters with a committed reference run.
SIDE_BY_SIDE_REPORT = REPOSITORY / "book" / "generated" / "report_side_by_side.md"
FINGERPRINT_KEY = "advlib_fingerprint"  # in a published reference notebook's metadata


def code_fingerprint(notebook: Path, library: str) -> str:
    """A hash of what a run executes: the notebook's code cells and the library's sources."""
    digest = hashlib.sha256(library.encode())
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode())
    return digest.hexdigest()


def published_path(chapter: Chapter, scale: str) -> Path:
    """Where a chapter's published run of ``scale`` is committed."""
    if scale not in PUBLISHED_SCALES:
        raise ValueError(f"only the scales {PUBLISHED_SCALES} are published, not {scale!r}")
    return chapter.notebook if scale == "class" else REPRODUCTIONS_DIR / f"{chapter.slug}.ipynb"


def run_fingerprint(chapter: Chapter, parameters: Mapping[str, Any]) -> str:
    """What a published run depends on: its code (notebook and library) and its parameters."""
    values = {name: value for name, value in parameters.items() if name != "results_dir"}
    return hashlib.sha256((code_fingerprint(chapter.notebook, library_fingerprint())
                           + repr(sorted(values.items()))).encode()).hexdigest()


def unchanged_since_published(chapter: Chapter, parameters: Mapping[str, Any]) -> bool:
    """True when the committed reference run was made by this code with these parameters."""
    path = published_path(chapter, "reference")
    if not path.is_file():
        return False
    recorded = nbformat.read(path, as_version=4).metadata.get(FINGERPRINT_KEY)
    return recorded == run_fingerprint(chapter, parameters)


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


_LABEL = re.compile(r"^:label:\s*(\S+)\s*$|^\(([\w-]+)\)=\s*$", re.MULTILINE)
_RELATIVE_DOC = re.compile(r"\{doc\}`(?![./])([^`<>]+)`")


def for_reproductions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A chapter's executed notebook as a page beside the chapters: the labels it defines
    (exercises, section targets) are prefixed with ``reference-`` wherever the notebook uses
    them, so that they do not collide with the class page's, and ``{doc}`` links relative to
    ``chapters/`` point there from ``reproductions/``."""
    moved = copy.deepcopy(notebook)
    markdown = [cell for cell in moved.cells if cell.cell_type == "markdown"]
    defined = {name for cell in markdown for match in _LABEL.finditer(cell.source) for name in match.groups() if name}
    for cell in markdown:
        for name in sorted(defined, key=len, reverse=True):
            cell.source = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", f"reference-{name}", cell.source)
        cell.source = _RELATIVE_DOC.sub(lambda match: f"{{doc}}`../chapters/{match.group(1)}`", cell.source)
    return moved


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


def side_by_side_from_notebooks() -> str | None:
    """The class and reference reports side by side, rendered from the committed notebooks;
    None while no reference run is committed."""
    reference = published_notebooks("reference")
    if not reference:
        return None
    return render_side_by_side({scale: report_from_notebooks(published_notebooks(scale), scale)["records"]
                                for scale in PUBLISHED_SCALES})


def published_notebooks(scale: str = PUBLISHED_SCALE) -> dict[str, Path]:
    """The committed runs of ``scale``: every chapter at class scale; at reference scale
    those chapters that have a reference run committed."""
    paths = {chapter.slug: published_path(chapter, scale) for chapter in chapters()
             if scale == "class" or chapter.reference is not None}
    return {slug: path for slug, path in paths.items() if scale == "class" or path.is_file()}


def check_publishable(scale: str, overrides: Iterable[str], runs_dir: Path) -> None:
    """A published notebook must be the committed notebook, executed as it is (at reference
    scale: with the chapter's declared reference parameters)."""
    if scale not in PUBLISHED_SCALES:
        raise ValueError(f"--publish writes the committed outputs of the scales {PUBLISHED_SCALES}; "
                         f"got --scale {scale}")
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

    Every chapter's parameters are validated before the first one starts. At reference
    scale each chapter runs with its declared reference parameters (``-p`` overrides them),
    and without ``only`` the chapters that have a reference run are selected. With
    ``publish``, once every selected chapter has run, their executed notebooks replace the
    committed ones (``chapters/`` or ``reproductions/``) and the book's report page of that
    scale is rendered from the committed notebooks, so the pages and the report show the
    same execution. Nothing is published if a chapter fails. A reference chapter unchanged
    since its committed run (same notebook code, library and parameters) is skipped.
    """
    overrides = list(overrides)
    if publish:
        check_publishable(scale, overrides, runs_dir)
    if only:
        selected = [get_chapter(name) for name in only]
    else:
        selected = [chapter for chapter in chapters() if scale != "reference" or chapter.reference is not None]
    plans = []
    for chapter in selected:
        values = {**(reference_parameters(chapter) if scale == "reference" else {}),
                  **parse_overrides(chapter, overrides), "scale": scale}
        plans.append(prepare(chapter.slug, values, runs_dir))
    # what each run depends on, taken before it starts (the files may change while it runs)
    fingerprints = {chapter.slug: run_fingerprint(chapter, parameters) for chapter, parameters in plans}
    if publish and scale == "reference":
        skipped = [chapter.slug for chapter, parameters in plans if unchanged_since_published(chapter, parameters)]
        for slug in skipped:
            print(f"{slug}: unchanged since its committed reference run, skipped")
        plans = [(chapter, parameters) for chapter, parameters in plans if chapter.slug not in skipped]
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
        _refuse_contradicted(report["records"], scale)
        for chapter, _ in plans:
            notebook = publishable(nbformat.read(executed[chapter.slug], as_version=4))
            if scale == "reference":
                notebook = for_reproductions(notebook)
                notebook.metadata[FINGERPRINT_KEY] = fingerprints[chapter.slug]
            path = published_path(chapter, scale)
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as temporary:
                nbformat.write(notebook, temporary)
        published = report_from_notebooks(published_notebooks(scale), scale)
        with atomic_path(REPORTS[scale]) as temporary:
            temporary.write_text(published["markdown"])
        side_by_side = side_by_side_from_notebooks()
        if side_by_side is not None:
            with atomic_path(SIDE_BY_SIDE_REPORT) as temporary:
                temporary.write_text(side_by_side)
    return report


def _refuse_contradicted(records: Mapping[str, Mapping[str, Any]], scale: str) -> None:
    """A published run agrees with its chapter's text (the class run asserts it in its last
    cell; this checks every published scale before anything is written)."""
    problems = [f"{slug}: {problem}" for slug, record in records.items() for problem in disagreements(record["ledger"])]
    if problems:
        raise RuntimeError(f"nothing published: these {scale}-scale runs contradict their chapters' text:\n  "
                           + "\n  ".join(problems))
