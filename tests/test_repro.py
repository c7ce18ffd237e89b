"""The chapter runner: parameter validation before any work, notebook/spec consistency,
records, the report, and one end-to-end smoke run through papermill."""

from __future__ import annotations

import ast
import json
import os

import nbformat
import pytest
import torch

from advlib import cli
from advlib.repro import chapters, check_parameters, get_chapter
from advlib.repro.prose import exercises
from advlib.repro.record import embedded_record, environment, numerics_differ, write_json_atomic
from advlib.repro.runner import (
    PUBLISHED_REPORT,
    PUBLISHED_SCALE,
    declared_parameters,
    parse_overrides,
    publishable,
    published_notebooks,
    report_from_notebooks,
    reproduce,
    stale_ledgers,
    with_solutions,
)
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
    assert "set_num_threads(min(torch.get_num_threads(), 2)" in code[position + 1].source, (
        "below full scale a chapter pins its CPU threads to at most 2 (tests/nbval_numerics.py relies on it)")
    assert any("nbval-check-output" in t for t in tags), "a results cell must be checked by nbval"
    assert any("finish_chapter(" in cell.source for cell in code), "the chapter must judge and record its run"
    executed = [cell.execution_count is not None for cell in code]
    assert all(executed), "notebooks are committed executed, with their class-scale outputs (make reproduce)"
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


def test_json_records_are_written_atomically(tmp_path):
    path = write_json_atomic(tmp_path / "a" / "r.json", {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    with pytest.raises(TypeError):
        write_json_atomic(path, {"x": object()})
    assert json.loads(path.read_text()) == {"x": 1}, "a failed write leaves the old record intact"
    assert not list(path.parent.glob("*.tmp"))


@pytest.mark.slow
def test_a_record_names_the_numerics_that_decide_its_digits():
    here = environment("cpu")
    assert here["cpu"].endswith(torch.backends.cpu.get_cpu_capability())
    assert numerics_differ(here, here) == []
    elsewhere = {**here, "cpu": "GenuineIntel family 6 model 143 (Intel Xeon), AVX512", "cpu_threads": 16}
    assert numerics_differ(elsewhere, here) == [
        f"cpu: GenuineIntel family 6 model 143 (Intel Xeon), AVX512 -> {here['cpu']}",
        f"cpu_threads: 16 -> {here['cpu_threads']}",
    ]
    older = {key: value for key, value in here.items() if key != "cpu"}  # records before the field
    assert numerics_differ(older, here) == []


# The smoke runs check code paths, not numbers, so they evaluate few items: n_eval at its
# catalog minimum where its default is a class-scale count (chapters 1-4 and 6, defaults 100 to
# 1,000), 2 photos in chapters 8 and 9 (smoke defaults 8 and 6). Chapter 6 trains its crackers
# for one epoch on 200 CAPTCHAs: still several training batches of 64 (the last one partial, and
# both phases of the warm-up schedule run) and two crafting batches of 100 in the solution to its
# adaptive-cracker exercise. Chapters 5 and 7 keep the smoke defaults.
SMOKE_SHRINK = {
    "01": {"n_eval": 10}, "02": {"n_eval": 10}, "03": {"n_eval": 10}, "04": {"n_eval": 10},
    "06": {"n_eval": 10, "n_train": 200, "epochs": 1}, "08": {"n_eval": 2}, "09": {"n_eval": 2},
}


def test_the_smoke_shrink_table_names_real_chapters_and_parameters():
    for number, shrink in SMOKE_SHRINK.items():
        chapter = get_chapter(number)
        assert set(shrink) <= {parameter.name for parameter in chapter.parameters}, number


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.slug)
def test_reproduce_smoke_runs_a_chapter_and_its_solutions_end_to_end(chapter, tmp_path):
    """Each chapter at smoke scale through papermill, with its exercises' solutions appended
    and executed in the chapter's state: a solution that stops working fails here, in the
    test named after its chapter."""
    runs = tmp_path / "runs"
    shrink = SMOKE_SHRINK.get(chapter.slug[:2], {})
    report = reproduce("smoke", runs_dir=runs, only=[chapter.slug],
                       overrides=[f"{name}={value}" for name, value in shrink.items()], progress=False,
                       run_solutions=True)
    assert set(report["records"]) == {chapter.slug}
    record = report["records"][chapter.slug]
    defaults = {p.name: p.default for p in chapter.parameters if p.name in ("n_eval", "n_train", "epochs")}
    expected = defaults | shrink  # the shrunk parameters as given, the others at their defaults
    assert record["parameters"]["scale"] == "smoke"
    assert {name: record["parameters"][name] for name in expected} == expected
    computed = set(record["results"]) | set(record["undefined"])  # a smoke run may leave ratios undefined
    assert computed >= {target.key for target in chapter.targets["class"]}
    executed = nbformat.read(runs / "smoke" / f"{chapter.slug}.solutions.ipynb", as_version=4)
    solution_cells = [cell for cell in executed.cells if cell.source.startswith("# solution to ")]
    assert len(solution_cells) == len(exercises(executed)) > 0
    assert all(cell.execution_count is not None for cell in solution_cells)
    assert json.loads((runs / "smoke" / "report.json").read_text())["scale"] == "smoke"
    assert f"## {chapter.slug}" in (runs / "smoke" / "report.md").read_text()


def test_the_report_page_is_rendered_from_the_committed_notebooks_value_for_value():
    """One execution: the book's report page is exactly what the records embedded in the
    committed notebooks render to, so a page and its report cannot disagree."""
    rendered = report_from_notebooks(published_notebooks(), PUBLISHED_SCALE)["markdown"]
    assert rendered == PUBLISHED_REPORT.read_text(), "regenerate both with `make reproduce`"


def test_the_committed_ledgers_match_the_catalog():
    assert stale_ledgers(published_notebooks()) == [], "the targets changed since the committed run: make reproduce"


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.slug)
def test_committed_notebooks_are_a_default_class_run_without_run_time_noise(chapter):
    notebook = nbformat.read(chapter.notebook, as_version=4)
    record = embedded_record(notebook)
    defaults = {p.name: p.default for p in chapter.parameters if p.name != "results_dir"}
    assert {name: record["parameters"][name] for name in defaults} == defaults
    assert "papermill" not in notebook.metadata
    assert not any("papermill" in cell.metadata or "execution" in cell.metadata for cell in notebook.cells)


def test_publishing_refuses_anything_but_a_default_class_run_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="outputs of the scales"):
        reproduce("smoke", publish=True)
    with pytest.raises(ValueError, match="outputs of the scales"):
        reproduce("full", publish=True)
    with pytest.raises(ValueError, match="default parameters"):
        reproduce("class", publish=True, overrides=["seed=1"])
    with pytest.raises(ValueError, match="repository root"):
        reproduce("class", publish=True, runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_publishable_drops_run_time_noise_and_keeps_outputs():
    kernel = {"name": "python3", "display_name": "Python 3"}
    notebook = nbformat.v4.new_notebook(metadata={"papermill": {"duration": 1.0}, "kernelspec": kernel})
    cell = nbformat.v4.new_code_cell("1", metadata={"papermill": {}, "execution": {}, "tags": ["x"]})
    cell.outputs = [nbformat.v4.new_output("stream", text="1")]
    notebook.cells = [cell]
    clean = publishable(notebook)
    assert "papermill" not in clean.metadata and clean.metadata["kernelspec"]["name"] == "python3"
    assert clean.cells[0].metadata == {"tags": ["x"]} and clean.cells[0].outputs == cell.outputs
    assert "papermill" in notebook.metadata, "the input is not modified"


def test_solutions_are_appended_as_cells_after_the_chapter():
    chapter = get_chapter("01")
    notebook = nbformat.read(chapter.notebook, as_version=4)
    extended = with_solutions(notebook)
    appended = extended.cells[len(notebook.cells):]
    assert [cell.source.splitlines()[0] for cell in appended[1:]] == [
        f"# solution to {label}" for label in exercises(notebook)]


def test_a_publishing_run_tells_the_kernels_to_train_for_real(monkeypatch, tmp_path):
    """Its notebooks show the training's own timings: the training cache is write-only there."""
    from advlib import train_cache
    from advlib.repro import runner

    seen = []

    def fake_execute(chapter, parameters, **kwargs):
        seen.append(os.environ.get(train_cache.MODE_VARIABLE))
        raise RuntimeError("stop before publishing anything")

    monkeypatch.setattr(runner, "execute", fake_execute)
    monkeypatch.delenv(train_cache.MODE_VARIABLE, raising=False)
    with pytest.raises(RuntimeError, match="stop before"):
        reproduce("class", publish=True, only=["01"])
    with pytest.raises(RuntimeError, match="stop before"):
        reproduce("smoke", runs_dir=tmp_path / "runs", only=["01"])
    assert seen == ["write", None]
    assert train_cache.MODE_VARIABLE not in os.environ, "restored afterwards"
