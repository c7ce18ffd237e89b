"""The reference scale: chapters declare their reference runs, the runner publishes them under
reproductions/ (labels and links moved, skipped when unchanged, refused when they contradict
the text), and the committed reference runs are checked without re-executing them."""

from __future__ import annotations

import re

import nbformat
import pytest

from advlib.repro import chapters, check_parameters, get_chapter
from advlib.repro import runner as runner_module
from advlib.repro.ledger import agrees_with_text, judge, label, render_side_by_side
from advlib.repro.prose import check_notebook
from advlib.repro.record import embedded_record, glued_values
from advlib.repro.runner import (
    REPORTS,
    SIDE_BY_SIDE_REPORT,
    for_reproductions,
    published_notebooks,
    report_from_notebooks,
    reproduce,
    run_fingerprint,
    side_by_side_from_notebooks,
    stale_ledgers,
    unchanged_since_published,
)
from advlib.repro.spec import Chapter, reference_parameters

WITH_REFERENCE = [chapter for chapter in chapters() if chapter.reference is not None]
COMMITTED = published_notebooks("reference")


def test_a_chapter_without_a_reference_run_refuses_the_reference_scale_before_any_work(tmp_path):
    without = next(chapter for chapter in chapters() if chapter.reference is None)
    with pytest.raises(ValueError, match=f"{without.slug} has no reference run; chapters with one"):
        check_parameters(without, {"scale": "reference"})
    with pytest.raises(ValueError, match="has no reference run"):
        reproduce("reference", only=[without.slug], runs_dir=tmp_path / "runs")
    with pytest.raises(ValueError, match="has no reference run"):
        reference_parameters(without)
    assert not (tmp_path / "runs").exists()


def test_reference_parameters_must_be_parameters_of_the_chapter():
    with pytest.raises(ValueError, match=r"reference parameters \['n_images'\]"):
        Chapter("99_demo", "Demo", get_chapter("01").parameters, reference={"n_images": 5})
    assert reference_parameters(get_chapter("01")) == {**get_chapter("01").reference, "scale": "reference"}


def test_a_reference_page_moves_its_labels_and_points_its_doc_links_at_the_chapters():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("(sec-x)=\n## X\nSee {ref}`sec-x` and {doc}`09_transfer`, "
                                      "{doc}`../book/bibliography`; not sec-xy."),
        nbformat.v4.new_markdown_cell("```{exercise}\n:label: ch01-ex-a\nText.\n```\n"
                                      "````{solution} ch01-ex-a\n:class: dropdown\n````"),
        nbformat.v4.new_code_cell("label = 'sec-x'"),
    ]
    moved = for_reproductions(notebook)
    assert moved.cells[0].source == ("(reference-sec-x)=\n## X\nSee {ref}`reference-sec-x` and "
                                     "{doc}`../chapters/09_transfer`, {doc}`../book/bibliography`; not sec-xy.")
    assert ":label: reference-ch01-ex-a" in moved.cells[1].source
    assert "{solution} reference-ch01-ex-a" in moved.cells[1].source
    assert moved.cells[2].source == "label = 'sec-x'", "code is executed as it ran, never rewritten"
    assert notebook.cells[0].source.startswith("(sec-x)="), "the input is left as it was"


def test_ledger_labels_of_the_reference_report_differ_from_the_class_ones():
    assert label("01_a", "x_y") == "ledger-01-a-x-y"
    assert label("01_a", "x_y", "reference") == "ledger-reference-01-a-x-y"


def test_an_unchanged_reference_run_is_skipped_and_a_changed_one_is_not(tmp_path, monkeypatch):
    chapter = get_chapter("01")
    parameters = check_parameters(chapter, reference_parameters(chapter))
    monkeypatch.setattr(runner_module, "REPRODUCTIONS_DIR", tmp_path)
    assert not unchanged_since_published(chapter, parameters), "nothing committed yet"
    notebook = nbformat.v4.new_notebook(metadata={runner_module.FINGERPRINT_KEY: run_fingerprint(chapter, parameters)})
    nbformat.write(notebook, tmp_path / f"{chapter.slug}.ipynb")
    assert unchanged_since_published(chapter, parameters)
    assert not unchanged_since_published(chapter, {**parameters, "n_eval": 20}), "other parameters: run again"
    assert run_fingerprint(chapter, parameters) == run_fingerprint(chapter, {**parameters, "results_dir": "/x"})


def test_a_run_that_contradicts_its_text_publishes_nothing():
    chapter = get_chapter("01")
    values = {target.key: target.value - 1.0 for target in chapter.targets["reference"]}  # below every bound
    record = {"ledger": judge(chapter, values, "reference")}
    with pytest.raises(RuntimeError, match="nothing published: these reference-scale runs contradict"):
        runner_module._refuse_contradicted({chapter.slug: record}, "reference")


# --- the committed reference runs, checked without running them -------------------------------


def test_every_committed_reference_run_belongs_to_a_chapter_that_declares_one():
    """Chapter 1 declares a reference run that is not committed yet (its first run, with all
    attacks on 10,000 digits in one batch each, outgrew the hour; see the issue's note)."""
    assert set(COMMITTED) <= {chapter.slug for chapter in WITH_REFERENCE}
    assert WITH_REFERENCE, "at least one chapter declares a reference run"


def test_a_sweep_at_reference_scale_starts_from_the_declared_reference_parameters(tmp_path):
    from advlib.repro.sweep import plan_sweep

    plan = plan_sweep("reference", chapters=["01"], seeds=[0, 1], runs_dir=tmp_path / "runs")
    assert [run.parameters["n_eval"] for run in plan.runs] == [10000, 10000]
    assert all(run.parameters["scale"] == "reference" for run in plan.runs)
    assert plan_sweep("reference", chapters=["01"], seeds=[0], overrides=["n_eval=500"],
                      runs_dir=tmp_path / "runs").runs[0].parameters["n_eval"] == 500
    without = next(chapter for chapter in chapters() if chapter.reference is None)
    with pytest.raises(ValueError, match="has no reference run"):
        plan_sweep("reference", chapters=[without.slug], seeds=[0], runs_dir=tmp_path / "runs")


@pytest.mark.parametrize("slug", sorted(COMMITTED))
def test_a_committed_reference_run_is_the_declared_one_without_run_time_noise(slug):
    chapter = get_chapter(slug)
    notebook = nbformat.read(COMMITTED[slug], as_version=4)
    record = embedded_record(notebook)
    expected = check_parameters(chapter, reference_parameters(chapter))
    assert {name: record["parameters"][name] for name in expected if name != "results_dir"} == {
        name: value for name, value in expected.items() if name != "results_dir"}
    assert "papermill" not in notebook.metadata and runner_module.FINGERPRINT_KEY in notebook.metadata
    assert not any("papermill" in cell.metadata or "execution" in cell.metadata for cell in notebook.cells)


def test_the_committed_reference_ledgers_are_the_catalogs_verdict_and_agree_with_the_text():
    assert stale_ledgers(COMMITTED, "reference") == [], "the targets changed since the run: make reference"
    report = report_from_notebooks(COMMITTED, "reference")
    for slug, record in report["records"].items():
        assert all(agrees_with_text(row) for row in record["ledger"]), slug


def test_the_reference_report_page_is_rendered_from_the_committed_runs_value_for_value():
    if not COMMITTED:
        assert not REPORTS["reference"].exists(), "a reference report without any committed reference run"
        return
    assert report_from_notebooks(COMMITTED, "reference")["markdown"] == REPORTS["reference"].read_text(), (
        "regenerate both with `make reference`")


def test_every_committed_reference_run_is_a_page_of_the_book():
    """The book builds only the files its table of contents names (only_build_toc_files)."""
    toc = (runner_module.REPOSITORY / "_toc.yml").read_text()
    listed = set(re.findall(r"file:\s*(reproductions/\S+)", toc))
    assert listed == {f"reproductions/{path.stem}" for path in COMMITTED.values()}
    assert ("file: book/reference_runs" in toc) == bool(COMMITTED)


def test_the_side_by_side_page_is_rendered_from_both_scales_committed_runs():
    if not COMMITTED:
        assert not SIDE_BY_SIDE_REPORT.exists(), "a side-by-side report without any committed reference run"
        return
    assert side_by_side_from_notebooks() == SIDE_BY_SIDE_REPORT.read_text(), (
        "regenerate it with `make reference` (or `make reproduce`)")


def _ledger_row(key: str, measured: float, holds, category: str, interval=None) -> dict:
    row = {"key": key, "expected": "> 0", "measured": measured, "holds": holds, "category": category}
    return {**row, "interval": list(interval)} if interval else row


def test_side_by_side_shows_each_scale_per_target_and_counts_only_the_shared_chapters():
    gain_class = _ledger_row("gain", -0.017, None, "inconclusive", (-0.04, 0.003))
    gain_reference = _ledger_row("gain", 0.012, True, "direction", (0.004, 0.02))
    only_class = _ledger_row("typed", 1.0, True, "own claim")
    records = {
        "class": {"01_demo": {"ledger": [gain_class, only_class]}, "02_other": {"ledger": [gain_class]}},
        "reference": {"01_demo": {"ledger": [gain_reference]}},
    }
    page = render_side_by_side(records)
    assert "| the direction of a published claim, reproduced on this scale's proxy | 0 | 1 |" in page
    assert "| its 95 % interval straddles the bound: this scale cannot decide it | 1 | 0 |" in page, (
        "02_other has no reference run, so its class row is not counted")
    assert "| `gain` | > 0 | -0.017 (-0.040 to 0.003): **inconclusive** | 0.012 (0.004 to 0.020): direction |" in page
    assert "| `typed` | > 0 | 1.000: own claim | not a target here |" in page
    assert "02_other" not in page
    with pytest.raises(ValueError, match="two scales"):
        render_side_by_side({"class": records["class"]})


@pytest.mark.parametrize("slug", sorted(COMMITTED))
def test_the_prose_of_a_reference_page_is_bound_to_its_run(slug):
    """Every glued key resolves in the run, no measured number is typed, every claim is a target."""
    notebook = nbformat.read(COMMITTED[slug], as_version=4)
    claim_keys = {target.key for target in get_chapter(slug).targets["reference"]}
    assert check_notebook(notebook, embedded_record(notebook), claim_keys) == []
    assert glued_values(notebook).keys() >= set(embedded_record(notebook)["results"])
