"""Run chapters with papermill and turn their records into a reproduction report.

Everything that can be checked is checked before the first cell runs: chapter names,
parameter names (papermill itself silently accepts unknown ones) and values, and that the
notebook's ``parameters`` cell declares exactly the parameters of the chapter's spec.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from advlib.repro.record import load_record, record_path, write_json_atomic
from advlib.repro.spec import Chapter, chapters, check_parameters, get_chapter, parse_value
from advlib.utils import atomic_path, resolve_device

DEFAULT_RUNS_DIR = Path("runs")


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


def prepare(chapter_name: str, overrides: Mapping[str, Any], runs_dir: Path) -> tuple[Chapter, dict[str, Any]]:
    """Validate everything about one run; return the chapter and its full parameter set."""
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
    resolve_device(checked["device"])  # e.g. device=cuda on a machine without a GPU: fail now, not mid-run
    return chapter, checked


def execute(chapter: Chapter, parameters: Mapping[str, Any], *, progress: bool = True) -> dict:
    """Execute one validated chapter into ``<runs>/<scale>/<slug>.ipynb``; return its record."""
    import papermill

    runs_dir, scale = Path(parameters["results_dir"]), parameters["scale"]
    output = runs_dir / scale / f"{chapter.slug}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    path = record_path(runs_dir, scale, chapter.slug)
    path.unlink(missing_ok=True)  # a stale record must never pass for this run's
    began = time.perf_counter()
    papermill.execute_notebook(
        str(chapter.notebook), str(output), parameters=dict(parameters), cwd=str(chapter.notebook.parent),
        progress_bar=progress, kernel_name="python3",
    )
    if not path.is_file():
        raise RuntimeError(f"{chapter.slug} ran but wrote no record at {path}")
    record = load_record(path)
    record["wall_seconds"] = round(time.perf_counter() - began, 1)
    return record


def compare(chapter: Chapter, record: Mapping[str, Any], scale: str) -> list[dict[str, Any]]:
    """One row per target: expected, measured, provenance, and whether it was reproduced."""
    rows = []
    for target in chapter.targets.get(scale, ()):
        measured = record.get("results", {}).get(target.key)
        status = "missing" if measured is None else ("reproduced" if target.holds(measured) else "not reproduced")
        rows.append({
            "chapter": chapter.slug, "key": target.key, "expected": target.describe(), "measured": measured,
            "provenance": target.provenance, "source": target.source, "status": status,
        })
    return rows


def _format_measured(value: float) -> str:
    """Three decimals, or three significant digits for small non-zero values (1e-5 is not 0.000)."""
    return f"{value:.3g}" if value != 0 and abs(value) < 0.001 else f"{value:.3f}"


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as markdown: per chapter, one line per result (a list, not a wide table,
    so the long provenance text reads well on narrow pages); then run times and hardware."""
    lines = [f"Scale `{report['scale']}`; generated by `advlib reproduce --scale {report['scale']}`.", ""]
    for slug in report["records"]:
        lines += [f"## {slug}", ""]
        for row in (row for row in report["rows"] if row["chapter"] == slug):
            measured = "missing" if row["measured"] is None else _format_measured(row["measured"])
            status = row["status"] if row["status"] == "reproduced" else f"**{row['status']}**"
            lines.append(
                f"- `{row['key']}`: expected {row['expected']}, measured {measured}: {status}. "
                f"*{row['provenance'].capitalize()}: {row['source']}.*"
            )
        lines.append("")
    lines += ["## Runs", "", "| chapter | run time (s) | hardware | torch | seed |", "|---|---|---|---|---|"]
    for slug, record in report["records"].items():
        environment = record["environment"]
        hardware = environment["cuda"] or f"CPU, {environment['cpu_threads']} threads"
        lines.append(
            f"| {slug} | {record['wall_seconds']} | {hardware} | {environment['torch']} | "
            f"{record['parameters']['seed']} |"
        )
    counts = report["summary"]
    lines += ["", f"**{counts['reproduced']} of {counts['total']} results reproduced.**", ""]
    return "\n".join(lines)


def reproduce(
    scale: str,
    *,
    runs_dir: Path = DEFAULT_RUNS_DIR,
    only: Iterable[str] | None = None,
    overrides: Iterable[str] = (),
    publish: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the chapters at ``scale``, compare with the targets, write the report.

    Every chapter's parameters are validated before the first one starts. The report goes
    to ``<runs>/<scale>/report.{json,md}`` (atomically) and, with ``publish``, the markdown is
    copied there too (the book's reproduction page includes it).
    """
    selected = [get_chapter(name) for name in only] if only else list(chapters())
    plans = []
    for chapter in selected:
        values = {**parse_overrides(chapter, overrides), "scale": scale}
        plans.append(prepare(chapter.slug, values, runs_dir))
    records, rows = {}, []
    for chapter, parameters in plans:
        record = execute(chapter, parameters, progress=progress)
        records[chapter.slug] = record
        rows += compare(chapter, record, scale)
    report = {
        "scale": scale,
        "rows": rows,
        "records": records,
        "summary": {"total": len(rows), "reproduced": sum(row["status"] == "reproduced" for row in rows)},
    }
    folder = runs_dir / scale
    write_json_atomic(folder / "report.json", report)
    with atomic_path(folder / "report.md") as temporary:
        temporary.write_text(render_markdown(report))
    if publish is not None:
        publish.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / "report.md", publish)
    return report
