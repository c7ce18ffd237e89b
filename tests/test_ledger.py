"""Sources, targets, the ledger's categories, and finish_chapter: a run that contradicts the
text fails at class scale, and its record is embedded in the notebook in myst-nb's glue format."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from advlib.repro import get_chapter
from advlib.repro.ledger import CATEGORIES, category, count, disagreements, judge, label, render_markdown
from advlib.repro.record import GLUE_PREFIX, RECORD_KEY, embedded_record, finish_chapter, glued_values
from advlib.repro.spec import Source, Target, abstract, data, design, readme, talk


def test_sources_name_their_kind_and_what_they_say():
    assert talk("talk S0", "a claim").describe() == "talk S0 (talk): a claim"
    with pytest.raises(ValueError, match="source kind 'paper'"):
        Source("paper", "Someone 2020", "something")
    with pytest.raises(ValueError, match="this book"):
        Source("design", "Someone 2020", "something")
    with pytest.raises(ValueError, match="must say"):
        readme("repo", "")


def test_targets_reject_bad_relations_and_misplaced_tolerances():
    with pytest.raises(ValueError, match="relation"):
        Target("x", "=", 1.0, design("x"))
    with pytest.raises(ValueError, match="tolerance"):
        Target("x", "~=", 1.0, design("x"))
    with pytest.raises(ValueError, match="tolerance"):
        Target("x", ">", 1.0, design("x"), tolerance=0.1)
    assert Target("x", ">=", 1.0, design("x")).holds(1.0) and not Target("x", ">", 1.0, design("x")).holds(1.0)
    assert Target("x", "<=", 1.0, design("x")).holds(1.0) and not Target("x", "<", 1.0, design("x")).holds(1.0)


def test_every_category_is_reachable():
    published = Target("a", "~=", 0.5, readme("r", "0.5"), tolerance=0.1)
    direction = Target("b", ">", 0.0, abstract("p", "more"))
    own = Target("c", "<", 1.0, design("less than one"))
    recomputed = Target("d", "~=", 0.9, data("raw", "0.9"), tolerance=0.01)
    assert category(published, 0.55) == "reproduced"
    assert category(direction, 0.1) == "direction"
    assert category(own, 0.5) == "own claim"
    assert category(recomputed, 0.9) == "recomputed"
    assert category(direction, -0.1) == category(own, 2.0) == "not reproduced"
    assert category(own, None) == category(own, float("nan")) == "missing"
    assert set(CATEGORIES) == {"reproduced", "direction", "own claim", "recomputed", "not reproduced", "missing"}


def _passing_results(slug: str) -> dict[str, float]:
    """Values that make every class target of a chapter come out as its text says."""
    values = {}
    for target in get_chapter(slug).targets["class"]:
        value = target.value
        if target.relation in (">", ">="):
            value += 1.0 if target.expect else -1.0
        elif target.relation in ("<", "<="):
            value -= 1.0 if target.expect else -1.0
        values[target.key] = value
    return values


def test_a_flipped_claim_is_a_disagreement_and_a_stated_failure_is_not():
    chapter = get_chapter("01")
    results = _passing_results(chapter.slug)
    assert disagreements(judge(chapter, results, "class")) == []
    flipped = {**results, "pgd_accuracy_min_eps": 0.2}  # the text says PGD at eps 0.1 leaves over half
    problems = disagreements(judge(chapter, flipped, "class"))
    assert len(problems) == 1 and problems[0].startswith("pgd_accuracy_min_eps: the text says it holds")
    reproduced_after_all = {**results, "mi_transfer_gain": 0.1}  # the text says momentum does not transfer better
    assert "mi_transfer_gain: the text says it does not hold" in disagreements(
        judge(chapter, reproduced_after_all, "class"))[0]
    missing = dict(results)
    del missing["cw_success"]
    assert disagreements(judge(chapter, missing, "class")) == ["cw_success: not measured (expected > 0.95)"]


def test_counts_and_markdown_carry_every_category_and_a_label_per_target():
    chapter = get_chapter("01")
    rows = judge(chapter, _passing_results(chapter.slug), "class")
    totals = count(rows)
    assert totals["not reproduced"] == 2 and sum(totals.values()) == len(rows)
    record = {"ledger": rows, "seconds": 1.0, "parameters": {"seed": 0},
              "environment": {"cuda": None, "cpu_threads": 2, "torch": "x"}}
    markdown = render_markdown("class", {chapter.slug: record})
    assert f"| {CATEGORIES['not reproduced']} | 2 |" in markdown
    assert f"- ({label(chapter.slug, 'cw_success')})=" in markdown
    assert label(chapter.slug, "cw_success") == "ledger-01-adversarial-examples-cw-success"
    assert "**not reproduced**" in markdown and "Source: Dong et al. 2018 (abstract)" in markdown


def _parameters(tmp_path, scale: str) -> dict:
    return {"scale": scale, "device": "cpu", "seed": 0, "results_dir": str(tmp_path), "n_eval": 300,
            "attack_steps": 10, "epochs": 0}


def test_finish_chapter_fails_at_class_scale_when_the_run_contradicts_the_text(tmp_path):
    results = {**_passing_results("01_adversarial_examples"), "pgd_accuracy_min_eps": 0.2}
    with pytest.raises(AssertionError, match="contradicts the chapter's text:\n  pgd_accuracy_min_eps"):
        finish_chapter("01_adversarial_examples", _parameters(tmp_path, "class"), results, started=time.perf_counter())
    record = json.loads((tmp_path / "class" / "01_adversarial_examples.json").read_text())
    assert record["results"]["pgd_accuracy_min_eps"] == 0.2, "the failing run is still recorded, for the reader"
    finish_chapter("01_adversarial_examples", _parameters(tmp_path, "full"), results, started=time.perf_counter())


def test_finish_chapter_records_undefined_results_as_missing(tmp_path):
    results = {**_passing_results("01_adversarial_examples"), "cw_success": float("nan")}
    record = finish_chapter("01", _parameters(tmp_path, "full"), results, started=0.0)
    assert record["undefined"] == ["cw_success"] and "cw_success" not in record["results"]
    with pytest.raises(AssertionError, match="cw_success: not measured"):
        finish_chapter("01", _parameters(tmp_path, "class"), results, started=0.0)
    with pytest.raises(ValueError, match="both as results and as texts"):
        finish_chapter("01", _parameters(tmp_path, "smoke"), {"x": 1.0}, started=0.0, texts={"x": "one"})


@pytest.mark.slow
def test_record_and_glue_are_embedded_in_the_notebook_as_myst_nb_reads_them(tmp_path):
    from myst_nb.ext.glue import extract_glue_data
    from nbclient import NotebookClient

    from advlib.repro.kernel import PrivateSocketKernelManager

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import time\nfrom advlib.repro import finish_chapter\n"
        f"record = finish_chapter('01', {_parameters(tmp_path, 'smoke')!r}, {{'clean_accuracy': 0.975}}, "
        "started=time.perf_counter(), texts={'label': 'tabby'})"
    )]
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   kernel_manager_class=PrivateSocketKernelManager).execute()
    record = embedded_record(notebook)
    assert record["results"] == {"clean_accuracy": 0.975} and record["texts"] == {"label": "tabby"}
    values = glued_values(notebook)
    assert values["clean_accuracy"] == 0.975 and values["label"] == "tabby"
    assert values["run_summary"].startswith("smoke scale, seed 0, a CPU with")
    assert all(mime.startswith(GLUE_PREFIX) for output in notebook.cells[0].outputs for mime in output.get("data", {}))
    glued = extract_glue_data(notebook, [0], type("Logger", (), {"warning": lambda *a, **k: None})())
    assert {"clean_accuracy", "label", "run_summary", RECORD_KEY} <= set(glued)


def test_embedded_record_needs_exactly_one_record():
    with pytest.raises(ValueError, match="found 0"):
        embedded_record(nbformat.v4.new_notebook())
