"""The nbval plugin compares a chapter's digits where they can repeat, and only there."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from advlib.repro.record import GLUE_PREFIX, RECORD_KEY, RECORD_MIME, environment

TESTS = Path(__file__).resolve().parent


def _chapter_like(path: Path, recorded_environment: dict) -> Path:
    """A notebook with one result cell whose committed digits are wrong, and a record."""
    result = nbformat.v4.new_code_cell("print(1 + 1)", execution_count=1,
                                       outputs=[nbformat.v4.new_output("stream", name="stdout", text="3\n")])
    result.metadata["tags"] = ["nbval-check-output"]
    record = nbformat.v4.new_code_cell("pass", execution_count=2, outputs=[nbformat.v4.new_output(
        "display_data", data={GLUE_PREFIX + RECORD_MIME: {"environment": recorded_environment}},
        metadata={"scrapbook": {"name": RECORD_KEY, "mime_prefix": GLUE_PREFIX}})])
    notebook = nbformat.v4.new_notebook(cells=[result, record])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_digits_are_compared_only_with_the_publishing_numerics(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    here = environment("auto")
    same = _chapter_like(pytester.path / "same.ipynb", here)
    other = _chapter_like(pytester.path / "other.ipynb", {**here, "cpu": "GenuineIntel family 6 model 85 (Xeon)"})
    run = pytester.runpytest_subprocess("--nbval-lax", "-p", "nbval_numerics", "-p", "no:cacheprovider",
                                        str(same), str(other))
    run.assert_outcomes(passed=3, failed=1)  # the wrong digits fail where they were published
    run.stdout.fnmatch_lines(["*chapters run but not compared*",
                             "other.ipynb: published with other numerics (cpu: GenuineIntel family 6 model 85 (Xeon)*"])
    assert "same.ipynb: published" not in run.stdout.str()
