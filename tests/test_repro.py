"""The chapter runner: parameter validation before any work, notebook/spec consistency,
records, the report, and one end-to-end smoke run through papermill."""

from __future__ import annotations

import ast
import json

import nbformat
import pytest
import torch

from advlib import cli
from advlib.repro import chapters, check_parameters, get_chapter
from advlib.repro.record import write_json_atomic
from advlib.repro.runner import compare, declared_parameters, parse_overrides, render_markdown, reproduce
from advlib.repro.spec import Parameter, parse_value


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"sed": 1}, "unknown parameter"),
        ({"scale": "huge"}, "'scale' got 'huge'; allowed: one of"),
        ({"device": "gpu"}, "'device' got 'gpu'"),
        ({"seed": -1}, "'seed' got -1"),
        ({"seed": 1.5}, "'seed' got 1.5"),
        ({"seed": True}, "'seed' got True"),
        ({"n_eval": 5}, "'n_eval' got 5"),
    ],
)
def test_bad_parameters_name_the_parameter_value_and_what_is_allowed(values, match):
    with pytest.raises(ValueError, match=match):
        check_parameters("01", values)


def test_defaults_are_filled_in_and_chapters_found_by_number():
    checked = check_parameters("1", {"seed": 3})
    assert checked["seed"] == 3 and checked["scale"] == "class" and checked["device"] == "auto"
    assert get_chapter("01").slug == "01_adversarial_examples"
    with pytest.raises(ValueError, match="unknown chapter"):
        get_chapter("99")


def test_command_line_values_are_typed():
    assert parse_value(Parameter("n", int, 1, ""), "12") == 12
    assert parse_value(Parameter("f", float, 1.0, ""), "0.5") == 0.5
    assert parse_value(Parameter("b", bool, True, ""), "false") is False
    with pytest.raises(ValueError, match="'n' got 'ten'"):
        parse_value(Parameter("n", int, 1, "", minimum=0), "ten")
    chapter = get_chapter("01")
    assert parse_overrides(chapter, ["seed=4", "device=cpu"]) == {"seed": 4, "device": "cpu"}
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(chapter, ["seed"])


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.slug)
def test_notebook_declares_exactly_the_spec_parameters(chapter):
    declared = declared_parameters(chapter)
    assert list(declared) == [p.name for p in chapter.parameters]
    for parameter in chapter.parameters:
        assert ast.literal_eval(declared[parameter.name]) == parameter.default, parameter.name


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.slug)
def test_notebook_follows_the_chapter_template(chapter):
    notebook = nbformat.read(chapter.notebook, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    tags = [cell.metadata.get("tags", []) for cell in code]
    position = next(i for i, t in enumerate(tags) if "parameters" in t)
    assert "check_parameters(" in code[position + 1].source, "the cell after the parameters must validate them"
    assert any("nbval-check-output" in t for t in tags), "a results cell must be checked by nbval"
    assert any("save_record(" in cell.source for cell in code), "the chapter must write its record"
    executed = [cell.execution_count is not None for cell in code]
    assert all(executed), "notebooks are committed executed, with their class-scale outputs (make notebooks)"
    results_cell = next(cell for cell, t in zip(code, tags, strict=True) if "nbval-check-output" in t)
    assert results_cell.outputs, "the results cell must carry its committed output"
    assert "injected-parameters" not in str(tags), "committed notebooks are run without injected parameters"


def test_run_rejects_bad_input_before_any_work(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert cli.main(["run", "01", "-p", "sed=1", "--runs-dir", str(runs)]) == 2
    assert "unknown parameter 'sed'" in capsys.readouterr().err
    assert cli.main(["run", "01", "-p", "n_eval=3", "--runs-dir", str(runs)]) == 2
    assert cli.main(["run", "01", "-p", "results_dir=/tmp", "--runs-dir", str(runs)]) == 2
    assert cli.main(["run", "42", "--runs-dir", str(runs)]) == 2
    assert cli.main(["reproduce", "-p", "seed=x", "--runs-dir", str(runs)]) == 2
    if not torch.cuda.is_available():
        assert cli.main(["run", "02", "-p", "device=cuda", "--runs-dir", str(runs)]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err
    assert not runs.exists(), "nothing may be written when the input is rejected"


def test_compare_and_report_on_a_record():
    chapter = get_chapter("01")
    record = {"results": {"pgd_accuracy_max_eps": 0.01, "clean_accuracy": 0.5}}
    rows = compare(chapter, record, "class")
    status = {row["key"]: row["status"] for row in rows}
    assert status["pgd_accuracy_max_eps"] == "reproduced"
    assert status["clean_accuracy"] == "not reproduced"
    assert status["cw_success"] == "missing"
    report = {
        "scale": "class", "rows": rows, "summary": {"total": len(rows), "reproduced": 1},
        "records": {chapter.slug: {"wall_seconds": 1.0, "environment": {"cuda": None, "cpu_threads": 2,
                                                                           "torch": "x"}, "parameters": {"seed": 0}}},
    }
    markdown = render_markdown(report)
    assert "## 01_adversarial_examples" in markdown
    assert "- `pgd_accuracy_max_eps`: expected < 0.05, measured 0.010: reproduced. *Seed: S2" in markdown
    assert "- `clean_accuracy`: expected > 0.97, measured 0.500: **not reproduced**." in markdown
    assert "- `cw_success`: expected > 0.95, measured missing: **missing**." in markdown
    assert "1 of" in markdown


def test_json_records_are_written_atomically(tmp_path):
    path = write_json_atomic(tmp_path / "a" / "r.json", {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(TypeError):
        write_json_atomic(path, {"x": object()})
    assert json.loads(path.read_text()) == {"x": 1}, "a failed write leaves the old record intact"
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.slow
def test_reproduce_smoke_runs_every_chapter_end_to_end(tmp_path):
    runs = tmp_path / "runs"
    publish = tmp_path / "report.md"
    report = reproduce("smoke", runs_dir=runs, overrides=["n_eval=20"], publish=publish, progress=False)
    assert set(report["records"]) == {chapter.slug for chapter in chapters()}
    for chapter in chapters():
        record = report["records"][chapter.slug]
        assert record["parameters"]["scale"] == "smoke" and record["parameters"]["n_eval"] == 20
        assert set(record["results"]) >= {target.key for target in chapter.targets["class"]}
        assert (runs / "smoke" / f"{chapter.slug}.ipynb").is_file()
    assert json.loads((runs / "smoke" / "report.json").read_text())["scale"] == "smoke"
    assert publish.read_text() == (runs / "smoke" / "report.md").read_text()
