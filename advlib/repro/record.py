"""Results records: what a chapter measured, judged against its targets, glued into its prose,
embedded in the executed notebook and written atomically as JSON.

The record embedded in the notebook is the one the reproduction report is rendered from, so
the chapter page and the report cannot come from different executions.
"""

from __future__ import annotations

import itertools
import json
import math
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
import torch

from advlib.intervals import Interval
from advlib.repro.ledger import agrees_with_text, disagreements, judge, outcome
from advlib.repro.spec import READ_FROM_RUN, get_chapter
from advlib.utils import atomic_path, numerics

GLUE_PREFIX = "application/papermill.record/"
"""myst-nb's glue format: a display output whose mime types carry this prefix and whose
metadata names the key under ``scrapbook``. The book pastes such values into the prose with
``{glue:text}`` and shows nothing of the output itself."""

RECORD_KEY = "advlib_record"
RECORD_MIME = "application/vnd.advlib.record+json"


def write_json_atomic(path: str | Path, payload: Any) -> Path:
    """Write JSON through a temporary file and a rename: readers never see half a file."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return Path(path)


def record_path(results_dir: str | Path, scale: str, slug: str) -> Path:
    return Path(results_dir) / scale / f"{slug}.json"


def load_record(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def _split_results(results: Mapping[str, Any]) -> tuple[dict[str, float], list[str]]:
    """Finite results as floats, and the keys of those that are not (NaN or infinite).

    A tiny smoke run can make a ratio undefined (a model at chance has no above-chance
    accuracy to retain). Such a value is recorded as undefined, judged "missing" and never
    pasted into prose; at class scale a missing target contradicts the text and fails.
    """
    finite, undefined = {}, []
    for key, value in results.items():
        number = float(value)
        if math.isfinite(number):
            finite[key] = number
        else:
            undefined.append(key)
    return finite, sorted(undefined)


def _glue(key: str, mime: str, value: Any) -> None:
    """Glue one value into the running notebook (a no-op outside IPython)."""
    from IPython import get_ipython
    from IPython.display import display

    if get_ipython() is None:
        return
    display({GLUE_PREFIX + mime: value}, raw=True,
            metadata={"scrapbook": {"name": key, "mime_prefix": GLUE_PREFIX}})


def environment(device: str) -> dict[str, Any]:
    return {
        **numerics(),
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "device": str(device),
    }


NUMERICS_FIELDS = ("torch", "machine", "cpu", "cpu_threads", "cuda")
"""What decides a chapter's float results besides its code and parameters ("device" is the
parameter as given, often "auto"; "cuda" says whether a GPU was there to take it)."""


def numerics_differ(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The fields of :data:`NUMERICS_FIELDS` in which two environments differ, as
    "field: recorded -> current". Empty means a rerun here can be expected to print the recorded
    digits. A field the record lacks (records older than the field) counts as equal, so old
    notebooks are still compared digit by digit."""
    return [f"{field}: {recorded[field]} -> {current.get(field)}" for field in NUMERICS_FIELDS
            if field in recorded and recorded[field] != current.get(field)]


def run_summary(record: Mapping[str, Any]) -> str:
    """One line of provenance for the chapter's prose: scale, seed, hardware and run time."""
    env = record["environment"]
    hardware = env["cuda"] or f"a CPU with {env['cpu_threads']} threads"
    return (f"{record['parameters']['scale']} scale, seed {record['parameters']['seed']}, {hardware}, "
            f"torch {env['torch']}, {record['seconds']:.0f} s")


def finish_chapter(
    slug: str,
    parameters: Mapping[str, Any],
    results: Mapping[str, float],
    *,
    started: float,
    texts: Mapping[str, str] | None = None,
    intervals: Mapping[str, Interval] | None = None,
    settings: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """End a chapter's run: judge its targets, record everything, make its numbers available
    to the prose, and fail if the run contradicts the text.

    1. Every target of the chapter at this scale is judged (:func:`advlib.repro.ledger.judge`)
       and printed; a result given with a bootstrap interval (``intervals``, by result key,
       each estimating exactly that result) is judged on its interval.
    2. The record (parameters, results, texts, ledger, hardware, run time) is written to
       ``<results_dir>/<scale>/<slug>.json`` and embedded in the notebook.
    3. Every result and text is glued under its key, together with ``run_summary``, and each
       interval's limits as ``<key>_low`` and ``<key>_high``; the markdown cites them as
       ``{glue:text}`key:.3f```, so no measured number is typed. ``settings`` are the
       scale-dependent settings the prose names (a budget, a number of steps or images): they
       are recorded and glued too, and the prose check refuses them typed
       (:func:`advlib.repro.prose.check_markdown`), so the text follows the scale it ran at.
    4. At class scale (the scale of the committed book) a target whose outcome disagrees with
       what the text says about it raises ``AssertionError``: a rerun that makes a sentence
       false fails loudly. Other scales report disagreements in the ledger only.
    """
    chapter = get_chapter(slug)
    scale = parameters["scale"]
    measured, undefined = _split_results(results)
    words = {key: str(value) for key, value in (texts or {}).items()}
    settings = dict(settings or {})
    for (first, keys), (second, others) in itertools.combinations(
            (("results", results), ("texts", words), ("settings", settings)), 2):
        overlap = sorted(set(keys) & set(others))
        if overlap:
            raise ValueError(f"{overlap} are given both as {first} and as {second}")
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"setting {key!r} must be a finite number, got {value!r}")
    intervals = dict(intervals or {})
    _check_intervals(intervals, measured)
    rows = judge(chapter, measured, scale, {key: (found.low, found.high) for key, found in intervals.items()})
    unread = [row["key"] for row in rows
              if row["text_says_holds"] == READ_FROM_RUN and row["key"] in measured and row["key"] not in intervals]
    if unread:
        raise ValueError(f"{slug}: the text reads {unread} from the run's interval, but no interval is given")
    record = {
        "chapter": slug,
        "parameters": dict(parameters),
        "results": measured,
        "undefined": undefined,
        "texts": words,
        **({"settings": settings} if settings else {}),  # absent where none: older records read the same
        "ledger": rows,
        "environment": environment(parameters.get("device", "cpu")),
        "seconds": round(time.perf_counter() - started, 1),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if intervals:  # absent, not empty, where no result has one: older records read the same
        record["intervals"] = {key: found.to_json() for key, found in intervals.items()}
    write_json_atomic(record_path(parameters["results_dir"], scale, slug), record)
    if undefined:
        print(f"undefined in this run (NaN or infinite), not recorded: {', '.join(undefined)}")
    for row in rows:
        said = "" if row["category"] == "missing" or agrees_with_text(row) else "  <-- contradicts the text"
        print(f"{row['key']:>40} {row['expected']:>12}: {outcome(row)} ({row['category']}){said}")
    for key, value in {**measured, **settings}.items():
        _glue(key, "text/plain", repr(value))
    for key, found in intervals.items():
        _glue(f"{key}_low", "text/plain", repr(found.low))
        _glue(f"{key}_high", "text/plain", repr(found.high))
    for key, value in {**words, "run_summary": run_summary(record)}.items():
        _glue(key, "text/plain", repr(value))
    _glue(RECORD_KEY, RECORD_MIME, record)
    if scale == "class":
        problems = disagreements(rows)
        if problems:
            raise AssertionError(f"{slug}: this run contradicts the chapter's text:\n  " + "\n  ".join(problems))
    return record


def _check_intervals(intervals: Mapping[str, Interval], measured: Mapping[str, float]) -> None:
    """Each interval belongs to a recorded result and estimates that value."""
    for key, found in intervals.items():
        if not isinstance(found, Interval):
            raise TypeError(f"the interval of {key!r} must be an advlib.intervals.Interval, got {type(found).__name__}")
        if key not in measured:
            raise ValueError(f"an interval is given for {key!r}, which is not a finite recorded result")
        # float32 rounding apart (a chapter's accuracies are float32 means, intervals float64)
        if not math.isclose(found.estimate, measured[key], rel_tol=1e-6, abs_tol=1e-6):
            raise ValueError(f"the interval of {key!r} estimates {found.estimate}, but the result is {measured[key]}")


def recorded_intervals(record: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """The (low, high) interval of each result a record has one for (none in older records)."""
    return {key: (found["low"], found["high"]) for key, found in record.get("intervals", {}).items()}


def glued_values(notebook: nbformat.NotebookNode) -> dict[str, Any]:
    """Every glued value of an executed notebook, by key (text values as their text)."""
    import ast

    values: dict[str, Any] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if not scrapbook:
                continue
            prefix = scrapbook.get("mime_prefix", "")
            data = {mime[len(prefix):]: value for mime, value in output.get("data", {}).items()}
            if "text/plain" in data:
                values[scrapbook["name"]] = ast.literal_eval(data["text/plain"])
            elif RECORD_MIME in data:
                values[scrapbook["name"]] = data[RECORD_MIME]
    return values


def embedded_record(notebook: nbformat.NotebookNode | str | Path) -> dict[str, Any]:
    """The results record embedded in an executed chapter notebook (by :func:`finish_chapter`)."""
    if not isinstance(notebook, nbformat.NotebookNode):
        path = Path(notebook)
        notebook = nbformat.read(path, as_version=4)
    found = [
        output["data"][GLUE_PREFIX + RECORD_MIME]
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("metadata", {}).get("scrapbook", {}).get("name") == RECORD_KEY
    ]
    if len(found) != 1:
        raise ValueError(f"expected one embedded results record, found {len(found)}: "
                         "was the notebook executed to the end (finish_chapter)?")
    return json.loads(json.dumps(found[0]))
