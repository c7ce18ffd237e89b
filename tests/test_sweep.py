"""Seed sweeps: the plan validated before any run, addressable run folders, skipping what
is done, failures reported without hiding the others, mean +- std over seeds."""

from __future__ import annotations

import dataclasses
import json
import math
import statistics

import pytest
import single_node_slurm as slurm

from advlib import cli
from advlib.repro import get_chapter
from advlib.repro import sweep as sweep_module
from advlib.repro.aggregate import Summary, aggregate, judge_group, render_markdown
from advlib.repro.sweep import finished, parse_grid, parse_seeds, plan_sweep, read_aggregate, run_folder, sweep


def test_seed_lists_parse_or_say_what_is_wrong():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    for bad in ("0,x", "3-1", "", "0,,1", "1,1", "-2"):
        with pytest.raises(ValueError):
            parse_seeds(bad)
    assert parse_grid(["n_eval=20,30"]) == [("n_eval", ["20", "30"])]
    for bad in (["n_eval"], ["n_eval=20,"], ["seed=1,2"], ["n_eval=1", "n_eval=2"]):
        with pytest.raises(ValueError):
            parse_grid(bad)


def test_a_run_folder_is_keyed_by_chapter_scale_seed_and_a_hash_of_its_changed_parameters(tmp_path):
    slug = "01_adversarial_examples"
    assert run_folder(tmp_path, "class", slug, 3, {}) == tmp_path / "class" / "sweeps" / slug / "seed3"
    one = run_folder(tmp_path, "class", slug, 3, {"n_eval": 100})
    assert one.name.startswith("seed3-") and len(one.name) == len("seed3-") + 8
    assert one == run_folder(tmp_path, "class", slug, 3, {"n_eval": 100})
    assert one != run_folder(tmp_path, "class", slug, 3, {"n_eval": 200})


def test_the_plan_is_validated_before_anything_is_written(tmp_path, monkeypatch, capsys):
    runs = tmp_path / "runs"
    common = ["reproduce", "--scale", "smoke", "--chapters", "01,02", "--runs-dir", str(runs)]
    cases = {
        "--executor pbs": (["--executor", "pbs"], "unknown executor 'pbs'"),
        "bad seeds": (["--seeds", "0,x"], "could not read 'x'"),
        "one chapter rejects": (["--seeds", "0", "-p", "attack_steps=3"], "for chapter 02_"),
        "invalid value": (["--seeds", "0", "--vary", "n_eval=20,5"],
                          "chapter 01_adversarial_examples, {'n_eval': 5}: parameter 'n_eval' got 5"),
        "seed as -p": (["--seeds", "0", "-p", "seed=2"], "--seeds, not -p seed"),
        "publish": (["--seeds", "0,1", "--publish"], "does not combine with a sweep"),
        "partition without slurm": (["--seeds", "0", "--slurm-partition", "gpu"], "--executor slurm only"),
    }
    for name, (extra, message) in cases.items():
        assert cli.main(common + extra) == 2, name
        assert message in capsys.readouterr().err, name
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli.main([*common, "--seeds", "0", "--executor", "slurm"]) == 2
    assert "needs Slurm's sbatch" in capsys.readouterr().err
    monkeypatch.undo()
    assert cli.main([*common, "--seeds", "0-1", "--vary", "n_eval=20,30", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "8 runs at scale smoke" in printed and printed.count(": to run ->") == 8
    assert not runs.exists(), "nothing may be written before the sweep starts"


def _record(seed: int, results: dict[str, float]) -> dict:
    return {"parameters": {"seed": seed}, "results": results}


def test_targets_are_judged_on_the_mean_with_the_spread_and_the_seeds_that_hold():
    chapter = get_chapter("01")
    target = next(t for t in chapter.targets["class"] if t.key == "clean_accuracy")  # > 0.97
    records = [_record(0, {"clean_accuracy": 0.99, "untargeted": 1.0}), _record(1, {"clean_accuracy": 0.96}),
               _record(2, {"clean_accuracy": 0.98, "untargeted": 3.0})]
    rows = {row["key"]: row for row in judge_group(chapter.slug, "class", records)}
    row = rows["clean_accuracy"]
    assert row["measured"] == pytest.approx(statistics.fmean([0.99, 0.96, 0.98]))
    assert row["holds"] is target.holds(row["measured"]) is True
    assert row["std"] == pytest.approx(statistics.stdev([0.99, 0.96, 0.98]))
    assert row["n"] == 3 and row["seeds_holding"] == 2
    assert rows["cw_success"]["n"] == 0 and rows["cw_success"]["category"] == "missing"
    assert math.isnan(Summary({0: 0.5}).std) and Summary({0: 0.5}).describe() == "0.500 ± undefined (n=1)"
    with pytest.raises(ValueError, match="more than once"):
        judge_group(chapter.slug, "class", [records[0], records[0]])
    report = aggregate("class", {chapter.slug: {"chapter": chapter.slug, "varied": {}, "records": records}})
    markdown = render_markdown(report)
    assert "`clean_accuracy`: expected > 0.97, measured 0.977 ± 0.015 (n=3): own claim; holds on 2 of 3" \
        in markdown
    assert "Results without a target at this scale:\n\n- `untargeted`: 2.000 ± 1.414 (n=2)." in markdown
    assert "Per seed" not in markdown and "Per seed: 0: 0.990, 1: 0.960, 2: 0.980." in render_markdown(
        report, per_seed=True)


@pytest.mark.slow
def test_a_two_seed_local_sweep_aggregates_skips_what_is_done_and_reports_a_failure(tmp_path):
    """Chapter 1 at smoke scale, seeds 0 and 1, through submitit's local executor, plus a
    seed-2 run broken on purpose (a parameter value the chapter's own check rejects): the
    failure is reported with its log and the other two are aggregated.

    One run at a time: twice, with two kernels at once beside the test process, a run's
    client waited without end on an idle kernel (cause not found, see advlib/repro/kernel.py);
    the second time it stopped CI at its wall-clock limit. The cap on parallel runs is tested
    with stand-in jobs below, and the 5-minute limit cancels a hung run here."""
    runs = tmp_path / "runs"
    plan = plan_sweep("smoke", chapters=["01"], seeds=[0, 1, 2], overrides=["n_eval=20"], runs_dir=runs,
                      max_parallel=1, timeout_min=5)
    broken = plan.runs[2]
    plan.runs[2] = dataclasses.replace(broken, parameters={**broken.parameters, "n_eval": -1})
    lines: list[str] = []
    report = sweep(plan, poll_seconds=0.5, echo=lines.append)
    assert report["outcome"]["done"] == [spec.name for spec in plan.runs[:2]]
    assert report["outcome"]["failed"] == [broken.name]
    failure = report["failed"][0]
    assert "ValueError" in failure["error"] and "n_eval" in failure["error"]
    assert failure["logs"]["stderr"].endswith("_log.err")
    assert any(line.startswith(f"FAILED {broken.name}") and "log:" in line for line in lines)
    assert "## Failed runs" in report["markdown"]

    group = report["groups"]["01_adversarial_examples (n_eval=20)"]
    assert group["seeds"] == [0, 1]
    records = [json.loads((run.status_path.parent / "smoke" / f"{run.slug}.json").read_text())
               for run in plan.runs[:2]]
    assert [record["parameters"]["seed"] for record in records] == [0, 1]
    for key, summary in group["results"].items():
        values = [record["results"][key] for record in records if key in record["results"]]
        assert summary["n"] == len(values) and summary["mean"] == pytest.approx(statistics.fmean(values))
        if len(values) == 2:
            assert summary["std"] == pytest.approx(statistics.stdev(values))
    assert "(n=2)" in report["markdown"]
    on_disk = json.loads((runs / "smoke" / "sweeps" / "report.json").read_text())
    assert on_disk["groups"].keys() == report["groups"].keys()
    table = read_aggregate("01", scale="smoke", runs_dir=runs, varied={"n_eval": 20})
    assert table["clean_accuracy"].values == {seed: record["results"]["clean_accuracy"]
                                              for seed, record in zip((0, 1), records, strict=True)}
    with pytest.raises(KeyError, match="has no group"):
        read_aggregate("01", scale="smoke", runs_dir=runs)
    with pytest.raises(FileNotFoundError, match="no sweep report"):
        read_aggregate("01", scale="class", runs_dir=runs)

    # run again: the two finished runs are skipped, unchanged; the broken one is tried again
    stamps = [run.status_path.stat().st_mtime_ns for run in plan.runs[:2]]
    lines.clear()
    again = sweep(plan, poll_seconds=0.5, echo=lines.append)
    assert again["outcome"]["skipped"] == [spec.name for spec in plan.runs[:2]]
    assert again["outcome"]["failed"] == [broken.name]
    assert [run.status_path.stat().st_mtime_ns for run in plan.runs[:2]] == stamps
    assert sum(line.startswith("skipped ") for line in lines) == 2

    # changed inputs (here: a different code fingerprint) are not skipped
    assert not finished(dataclasses.replace(plan.runs[0], fingerprint="0" * 64))


def test_the_local_executor_keeps_at_most_max_parallel_runs_in_flight(tmp_path, monkeypatch):
    """Stand-in jobs that finish on their third poll: five runs with max_parallel 2 never
    have more than two unfinished jobs at once, and all five are started."""
    plan = plan_sweep("smoke", chapters=["01"], seeds=[0, 1, 2, 3, 4], runs_dir=tmp_path / "runs", max_parallel=2)
    jobs: list[_JobDoneOnThirdPoll] = []
    most_in_flight = 0

    class Executor:
        def submit(self, function, spec):
            nonlocal most_in_flight
            jobs.append(_JobDoneOnThirdPoll())
            most_in_flight = max(most_in_flight, sum(not job.finished for job in jobs))
            return jobs[-1]

    monkeypatch.setattr(sweep_module, "_executor", lambda plan: Executor())
    monkeypatch.setattr(sweep_module.time, "sleep", lambda seconds: None)
    lines: list[str] = []
    sweep_module.execute_plan(plan, poll_seconds=0, echo=lines.append)
    assert len(jobs) == 5 and all(job.finished for job in jobs)
    assert most_in_flight == 2
    assert sum(line.startswith("started ") for line in lines) == 5


class _JobDoneOnThirdPoll:
    def __init__(self) -> None:
        self.polls = 0
        self.finished = False

    def done(self) -> bool:
        self.polls += 1
        self.finished = self.polls >= 3
        return self.finished


class _NeverEndingJob:
    """A local job that neither finishes nor dies until it is cancelled."""

    def __init__(self) -> None:
        self.cancelled = False

    def done(self) -> bool:
        return self.cancelled

    def cancel(self, check: bool = True) -> None:
        self.cancelled = True


def test_a_local_run_that_never_ends_is_cancelled_after_its_limit_and_reported(tmp_path, monkeypatch):
    """The sweep's backstop: a hung run is cancelled once its time limit (plus the grace
    submitit's controller gets) has passed, reported as failed, and the sweep returns; a run
    still within its limit is left alone. The clock is simulated, 100 s per reading."""
    plan = plan_sweep("smoke", chapters=["01"], seeds=[0, 1], runs_dir=tmp_path / "runs", max_parallel=2,
                      timeout_min=5)
    jobs: list[_NeverEndingJob] = []

    class Executor:
        def submit(self, function, spec):
            jobs.append(_NeverEndingJob())
            return jobs[-1]

    clock = iter(range(0, 100_000, 100))
    monkeypatch.setattr(sweep_module, "_executor", lambda plan: Executor())
    monkeypatch.setattr(sweep_module.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(sweep_module.time, "sleep", lambda seconds: None)
    lines: list[str] = []
    outcome = sweep_module.execute_plan(plan, poll_seconds=0, echo=lines.append)
    assert all(job.cancelled for job in jobs) and len(jobs) == 2
    assert outcome["failed"] == plan.runs and outcome["done"] == []
    cancelled = [line for line in lines if line.startswith("cancelled ")]
    assert len(cancelled) == 2
    # 5 minutes plus the grace, read on a clock that moves in steps of 100 s
    limit = 5 * 60 + sweep_module.LOCAL_GRACE_S
    assert all(limit < float(line.split("still running ")[1].split(" s")[0]) <= limit + 100 for line in cancelled)
    assert sum(line.startswith("FAILED ") for line in lines) == 2


@pytest.mark.slow
def test_a_two_seed_sweep_on_a_real_single_node_slurm(tmp_path, monkeypatch):
    """Submitted as one job array to a Slurm started for this test (skipped where Slurm and
    munge are not installed: CI has neither; apt-get install slurm-wlm munge)."""
    reason = slurm.missing()
    if reason:
        pytest.skip(reason)
    with slurm.single_node_slurm(tmp_path / "slurm") as environment:
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        plan = plan_sweep("smoke", chapters=["01"], seeds=[0, 1], overrides=["n_eval=20"], runs_dir=tmp_path / "runs",
                          executor="slurm", cpus_per_run=1, timeout_min=20)
        lines: list[str] = []
        report = sweep(plan, poll_seconds=1, echo=lines.append)
    assert report["outcome"]["done"] == [spec.name for spec in plan.runs], "\n".join(lines)
    assert any(line.startswith("submitted a Slurm job array of 2 runs") for line in lines)
    states = [json.loads(spec.status_path.read_text()) for spec in plan.runs]
    array = {state["slurm_job_id"] for state in states}
    assert len(array) == 2 and None not in array, "each seed ran as its own Slurm job"
    group = report["groups"]["01_adversarial_examples (n_eval=20)"]
    assert group["seeds"] == [0, 1]
    assert all(row["n"] == 2 for row in group["ledger"] if row["n"])
    print(report["markdown"])
