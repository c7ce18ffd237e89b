"""Sources, targets, the ledger's categories, and finish_chapter: a run that contradicts the
text fails at class scale, and its record is embedded in the notebook in myst-nb's glue format."""

from __future__ import annotations

import json
import time

import nbformat
import pytest

from advlib.intervals import Interval
from advlib.repro import get_chapter
from advlib.repro.ledger import CATEGORIES, category, count, disagreements, judge, label, outcome, render_markdown
from advlib.repro.record import GLUE_PREFIX, RECORD_KEY, embedded_record, finish_chapter, glued_values
from advlib.repro.runner import stale_ledgers
from advlib.repro.spec import (
    INCONCLUSIVE,
    NOT_SHOWN,
    READ_FROM_RUN,
    Chapter,
    Source,
    Target,
    abstract,
    data,
    design,
    readme,
    talk,
)


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
    assert category(direction, 0.1, (-0.05, 0.2)) == category(published, 0.55, (0.35, 0.65)) == "inconclusive"
    assert set(CATEGORIES) == {"reproduced", "direction", "own claim", "recomputed", "inconclusive",
                               "not reproduced", "missing"}


def test_an_interval_decides_a_comparison_only_when_it_lies_wholly_on_one_side():
    more = Target("gain", ">", 0.0, abstract("p", "A beats B"))
    assert more.verdict(0.1) is True and more.verdict(0.1, (0.02, 0.2)) is True
    assert more.verdict(0.1, (-0.02, 0.2)) is None, "straddles 0: inconclusive, though the value is above"
    assert more.verdict(-0.1, (-0.2, -0.01)) is False and more.verdict(-0.1, (-0.2, 0.0)) is False
    at_least = Target("gain", ">=", 0.0, abstract("p", "A at least B"))
    assert at_least.verdict(0.1, (0.0, 0.2)) is True and at_least.verdict(0.0, (-0.01, 0.01)) is None
    less = Target("rate", "<", 0.05, design("almost none"))
    assert less.verdict(0.01, (0.0, 0.04)) is True and less.verdict(0.01, (0.0, 0.08)) is None
    assert less.verdict(0.1, (0.06, 0.2)) is False
    published = Target("acc", "~=", 0.9, readme("r", "0.9"), tolerance=0.02)
    assert published.verdict(0.9, (0.885, 0.915)) is True, "the whole interval inside the tolerance band"
    assert published.verdict(0.9, (0.87, 0.93)) is None and published.verdict(0.8, (0.78, 0.87)) is False
    with pytest.raises(ValueError, match="outside its interval"):
        more.verdict(0.3, (0.0, 0.2))
    with pytest.raises(ValueError, match="expect must be"):
        Target("gain", ">", 0.0, design("x"), expect="maybe")


def _two_target_chapter(expect_gain) -> Chapter:
    return Chapter("99_demo", "Demo", (), {"class": (
        Target("gain", ">", 0.0, abstract("Someone 2020", "A beats B"), expect=expect_gain),
        Target("rate", "<", 0.5, design("under half")),
    )})


def test_an_inconclusive_comparison_must_be_what_the_text_says():
    """A text that claims the gain contradicts a run whose interval straddles 0; a text that
    says the scale cannot decide it agrees; a target without an interval is judged as before."""
    results, intervals = {"gain": 0.04, "rate": 0.2}, {"gain": (-0.01, 0.09)}
    rows = judge(_two_target_chapter(True), results, "class", intervals)
    assert rows[0]["interval"] == [-0.01, 0.09] and rows[0]["holds"] is None
    assert rows[0]["category"] == "inconclusive" and outcome(rows[0]) == INCONCLUSIVE
    assert "interval" not in rows[1] and rows[1]["holds"] is True
    assert disagreements(rows) == [
        "gain: the text says it holds, but measured 0.04 [-0.01, 0.09] vs > 0: inconclusive"]
    honest = judge(_two_target_chapter(INCONCLUSIVE), results, "class", intervals)
    assert disagreements(honest) == []
    decided = judge(_two_target_chapter(INCONCLUSIVE), results, "class", {"gain": (0.01, 0.09)})
    assert disagreements(decided) == [
        "gain: the text says it is inconclusive, but measured 0.04 [0.01, 0.09] vs > 0: holds"]
    record = {"ledger": honest, "seconds": 1.0, "parameters": {"seed": 0},
              "environment": {"cuda": None, "cpu_threads": 2, "torch": "x"}}
    markdown = render_markdown("class", {"99_demo": record})
    assert f"| {CATEGORIES['inconclusive']} | 1 |" in markdown
    assert "measured 0.040 (95 % interval -0.010 to 0.090): **inconclusive** (the chapter says so)" in markdown
    without = render_markdown("class", {"99_demo": {**record, "ledger": judge(
        _two_target_chapter(True), results, "class")}})
    assert CATEGORIES["inconclusive"] not in without, "no intervals, no inconclusive row to count"


def test_a_text_that_says_not_shown_agrees_with_any_outcome_but_holds():
    """'Not shown' is what a text that glues the interval's reading claims: it stays true
    whether the interval straddles the bound or lies on the other side, and only a run that
    shows the claim (the whole interval on the claimed side) contradicts it."""
    chapter = _two_target_chapter(NOT_SHOWN)
    results = {"gain": 0.0, "rate": 0.2}
    for interval, category_found in (((-0.04, 0.03), "inconclusive"), ((-0.04, 0.0), "not reproduced")):
        rows = judge(chapter, results, "class", {"gain": interval})
        assert rows[0]["category"] == category_found and disagreements(rows) == []
    shown = judge(chapter, {"gain": 0.02, "rate": 0.2}, "class", {"gain": (0.01, 0.05)})
    assert disagreements(shown) == [
        "gain: the text says it is not shown, but measured 0.02 [0.01, 0.05] vs > 0: holds"]
    record = {"ledger": judge(chapter, results, "class", {"gain": (-0.04, 0.0)}), "seconds": 1.0,
              "parameters": {"seed": 0}, "environment": {"cuda": None, "cpu_threads": 2, "torch": "x"}}
    assert "**not reproduced** (the chapter says so)" in render_markdown("class", {"99_demo": record})
    with pytest.raises(ValueError, match="expect must be one of"):
        Target("gain", ">", 0.0, design("x"), expect="maybe")


def test_a_text_that_reads_the_interval_from_the_run_agrees_with_every_outcome_but_needs_an_interval(tmp_path):
    """A text that glues the run's reading of the interval pins no side: every outcome agrees
    with it. finish_chapter refuses such a target measured without an interval, since its
    reading would then come from a point value."""
    chapter = _two_target_chapter(READ_FROM_RUN)
    for gain, interval in ((0.02, (0.01, 0.05)), (0.0, (-0.04, 0.03)), (-0.02, (-0.04, -0.01))):
        assert disagreements(judge(chapter, {"gain": gain, "rate": 0.2}, "class", {"gain": interval})) == []
    results, intervals = _passing("06_adversarial_captcha")
    key = "ensemble_gain_adv_trained"
    targets = get_chapter("06_adversarial_captcha").targets["class"]
    assert next(target for target in targets if target.key == key).expect == READ_FROM_RUN
    finish_chapter("06_adversarial_captcha", _parameters(tmp_path, "class"), results, started=0.0,
                   intervals=intervals)
    with pytest.raises(ValueError, match=f"reads \\['{key}'\\] from the run's interval, but no interval"):
        finish_chapter("06_adversarial_captcha", _parameters(tmp_path, "class"), results, started=0.0,
                       intervals={k: v for k, v in intervals.items() if k != key})


def _passing(slug: str) -> tuple[dict[str, float], dict[str, Interval]]:
    """Values that make every class target of a chapter come out as its text says, and for each
    target the text calls inconclusive an interval that straddles its bound."""
    values, intervals = {}, {}
    for target in get_chapter(slug).targets["class"]:
        value = target.value
        if target.expect in (INCONCLUSIVE, NOT_SHOWN, READ_FROM_RUN):
            intervals[target.key] = Interval(value, value - 1.0, value + 1.0, 0.95, 100)
        elif target.relation in (">", ">="):
            value += 1.0 if target.expect else -1.0
        elif target.relation in ("<", "<="):
            value -= 1.0 if target.expect else -1.0
        values[target.key] = value
    return values, intervals


def _bounds(intervals: dict[str, Interval]) -> dict[str, tuple[float, float]]:
    return {key: (found.low, found.high) for key, found in intervals.items()}


def test_a_flipped_claim_is_a_disagreement_and_a_stated_failure_is_not():
    chapter = get_chapter("01")
    results, intervals = _passing(chapter.slug)
    bounds = _bounds(intervals)
    assert disagreements(judge(chapter, results, "class", bounds)) == []
    flipped = {**results, "pgd_accuracy_min_eps": 0.2}  # the text says PGD at eps 0.1 leaves over half
    problems = disagreements(judge(chapter, flipped, "class", bounds))
    assert len(problems) == 1 and problems[0].startswith("pgd_accuracy_min_eps: the text says it holds")
    reproduced_after_all = {**results, "di_transfer_gain": 0.1}  # the text says diversity does not transfer better
    assert "di_transfer_gain: the text says it does not hold" in disagreements(
        judge(chapter, reproduced_after_all, "class", bounds))[0]
    shown_after_all = judge(chapter, {**results, "mi_transfer_gain": 0.03}, "class",
                            {**bounds, "mi_transfer_gain": (0.01, 0.05)})  # the text: momentum not shown
    assert disagreements(shown_after_all) == [
        "mi_transfer_gain: the text says it is not shown, but measured 0.03 [0.01, 0.05] vs > 0: holds"]
    assert disagreements(judge(_two_target_chapter(INCONCLUSIVE), {"gain": 0.0, "rate": 0.2}, "class")) == [
        "gain: the text says it is inconclusive, but measured 0 vs > 0: does not hold"], (
        "without its interval, a target the text calls inconclusive is judged on its value")
    missing = dict(results)
    del missing["cw_success"]
    assert disagreements(judge(chapter, missing, "class", bounds)) == ["cw_success: not measured (expected > 0.95)"]


def test_counts_and_markdown_carry_every_category_and_a_label_per_target():
    chapter = get_chapter("01")
    results, intervals = _passing(chapter.slug)
    rows = judge(chapter, results, "class", _bounds(intervals))
    totals = count(rows)
    assert totals["not reproduced"] == totals["inconclusive"] == 1 and sum(totals.values()) == len(rows)
    record = {"ledger": rows, "seconds": 1.0, "parameters": {"seed": 0},
              "environment": {"cuda": None, "cpu_threads": 2, "torch": "x"}}
    markdown = render_markdown("class", {chapter.slug: record})
    assert f"| {CATEGORIES['not reproduced']} | 1 |" in markdown
    assert f"- ({label(chapter.slug, 'cw_success')})=" in markdown
    assert label(chapter.slug, "cw_success") == "ledger-01-adversarial-examples-cw-success"
    assert "**not reproduced**" in markdown and "Source: Dong et al. 2018 (abstract)" in markdown


def _parameters(tmp_path, scale: str) -> dict:
    return {"scale": scale, "device": "cpu", "seed": 0, "results_dir": str(tmp_path), "n_eval": 300,
            "attack_steps": 10, "epochs": 0}


def test_finish_chapter_fails_at_class_scale_when_the_run_contradicts_the_text(tmp_path):
    results, intervals = _passing("01_adversarial_examples")
    results["pgd_accuracy_min_eps"] = 0.2
    with pytest.raises(AssertionError, match="contradicts the chapter's text:\n  pgd_accuracy_min_eps"):
        finish_chapter("01_adversarial_examples", _parameters(tmp_path, "class"), results, started=time.perf_counter(),
                       intervals=intervals)
    record = json.loads((tmp_path / "class" / "01_adversarial_examples.json").read_text())
    assert record["results"]["pgd_accuracy_min_eps"] == 0.2, "the failing run is still recorded, for the reader"
    finish_chapter("01_adversarial_examples", _parameters(tmp_path, "full"), results, started=time.perf_counter())


def test_finish_chapter_judges_on_intervals_records_them_and_refuses_ones_that_do_not_fit(tmp_path):
    results, required = _passing("01_adversarial_examples")
    key = "di_transfer_gain"  # the text says diversity does not transfer better (value below 0)
    value = results[key]
    straddling = {**required, key: Interval(value, value - 0.5, 2.0, 0.95, 100)}
    with pytest.raises(AssertionError, match=f"{key}: the text says it does not hold.*inconclusive"):
        finish_chapter("01_adversarial_examples", _parameters(tmp_path, "class"), results, started=0.0,
                       intervals=straddling)
    record = json.loads((tmp_path / "class" / "01_adversarial_examples.json").read_text())
    assert record["intervals"][key] == straddling[key].to_json()
    assert next(row for row in record["ledger"] if row["key"] == key)["category"] == "inconclusive"
    below = {**required, key: Interval(value, value - 0.5, value + 0.5, 0.95, 100)}
    record = finish_chapter("01", _parameters(tmp_path, "class"), results, started=0.0, intervals=below)
    assert next(row for row in record["ledger"] if row["key"] == key)["interval"] == [value - 0.5, value + 0.5]
    plain = finish_chapter("01", _parameters(tmp_path, "full"), results, started=0.0)
    assert "intervals" not in plain and all("interval" not in row for row in plain["ledger"])
    with pytest.raises(ValueError, match=r"estimates 0\.5, but the result is"):
        finish_chapter("01", _parameters(tmp_path, "class"), results, started=0.0,
                       intervals={key: Interval(0.5, 0.0, 1.0, 0.95, 10)})
    with pytest.raises(ValueError, match="not a finite recorded result"):
        finish_chapter("01", _parameters(tmp_path, "class"), results, started=0.0,
                       intervals={"unknown": Interval(0.5, 0.0, 1.0, 0.95, 10)})
    with pytest.raises(TypeError, match=r"must be an advlib\.intervals\.Interval"):
        finish_chapter("01", _parameters(tmp_path, "class"), results, started=0.0, intervals={key: (0.0, 1.0)})


def test_a_committed_ledger_with_intervals_is_stale_only_when_its_verdicts_change(tmp_path):
    """stale_ledgers re-judges a record with the intervals it recorded."""
    import nbformat as nbf

    results, required = _passing("01_adversarial_examples")
    key = "di_transfer_gain"
    below = {**required, key: Interval(results[key], results[key] - 0.5, results[key] + 0.5, 0.95, 100)}
    record = finish_chapter("01", _parameters(tmp_path, "class"), results, started=0.0, intervals=below)
    notebook = nbf.v4.new_notebook()
    notebook.cells = [nbf.v4.new_code_cell("", outputs=[nbf.v4.new_output(
        "display_data", data={GLUE_PREFIX + "application/vnd.advlib.record+json": record},
        metadata={"scrapbook": {"name": RECORD_KEY, "mime_prefix": GLUE_PREFIX}})])]
    path = tmp_path / "01.ipynb"
    nbf.write(notebook, path)
    assert stale_ledgers({"01_adversarial_examples": path}, "class") == []
    record["intervals"][key]["high"] = 2.0  # now it straddles: the recorded verdict is stale
    notebook.cells[0].outputs[0]["data"][GLUE_PREFIX + "application/vnd.advlib.record+json"] = record
    nbf.write(notebook, path)
    assert stale_ledgers({"01_adversarial_examples": path}, "class") == ["01_adversarial_examples"]


def test_finish_chapter_records_undefined_results_as_missing(tmp_path):
    results = {**_passing("01_adversarial_examples")[0], "cw_success": float("nan")}
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
        "from advlib.intervals import Interval\n"
        f"record = finish_chapter('01', {_parameters(tmp_path, 'smoke')!r}, {{'clean_accuracy': 0.975}}, "
        "started=time.perf_counter(), texts={'label': 'tabby'}, settings={'budget': 0.1}, "
        "intervals={'clean_accuracy': Interval(0.975, 0.95, 0.99, 0.95, 200)})"
    )]
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   kernel_manager_class=PrivateSocketKernelManager).execute()
    record = embedded_record(notebook)
    assert record["results"] == {"clean_accuracy": 0.975} and record["texts"] == {"label": "tabby"}
    values = glued_values(notebook)
    assert values["clean_accuracy"] == 0.975 and values["label"] == "tabby"
    assert record["settings"] == {"budget": 0.1} and values["budget"] == 0.1
    assert (values["clean_accuracy_low"], values["clean_accuracy_high"]) == (0.95, 0.99)
    assert values["run_summary"].startswith("smoke scale, seed 0, a CPU with")
    assert all(mime.startswith(GLUE_PREFIX) for output in notebook.cells[0].outputs for mime in output.get("data", {}))
    glued = extract_glue_data(notebook, [0], type("Logger", (), {"warning": lambda *a, **k: None})())
    assert {"clean_accuracy", "label", "run_summary", RECORD_KEY} <= set(glued)


def test_settings_are_numbers_named_once(tmp_path):
    parameters = _parameters(tmp_path, "smoke")
    plain = finish_chapter("01", parameters, {"x": 1.0}, started=0.0)
    assert "settings" not in plain, "older records and chapters without settings read the same"
    for bad in ({"budget": "0.1"}, {"budget": float("nan")}, {"budget": True}):
        with pytest.raises(ValueError, match="must be a finite number"):
            finish_chapter("01", parameters, {"x": 1.0}, started=0.0, settings=bad)
    with pytest.raises(ValueError, match="both as results and as settings"):
        finish_chapter("01", parameters, {"x": 1.0}, started=0.0, settings={"x": 1.0})
    with pytest.raises(ValueError, match="both as texts and as settings"):
        finish_chapter("01", parameters, {"x": 1.0}, started=0.0, texts={"y": "one"}, settings={"y": 1})


def test_embedded_record_needs_exactly_one_record():
    with pytest.raises(ValueError, match="found 0"):
        embedded_record(nbformat.v4.new_notebook())
