"""`advlib bench`: the figures it writes, the progress it prints while it runs, clear errors.
Only a tiny configuration runs here (2 images, 1 step): the point is the command, not timings."""

from __future__ import annotations

import json

import pytest

from advlib import cli


def test_bench_prints_progress_for_every_call_and_writes_its_figures(tmp_path, capsys):
    output = tmp_path / "bench.json"
    assert cli.main(["bench", "--device", "cpu", "--batch-size", "2", "--steps", "1", "--repeats", "2",
                     "--apgd-steps", "1", "--apgd-batch-size", "2", "--output", str(output)]) == 0
    printed = capsys.readouterr()
    progress = [line for line in printed.err.splitlines() if line.startswith(("PGD-1 fp32:", "APGD-1:"))]
    # ours, floor and the two peers (torchattacks, pyautoattack): 1 warm-up + 2 repeats each
    assert len(progress) == 2 * 3 * 3, printed.err
    assert progress[-1].startswith("APGD-1: [9/9] ")
    figures = json.loads(output.read_text())
    assert figures["repeats"] == 2 and figures["apgd_batch_size"] == 2
    assert {"ours", "floor", "torchattacks"} == set(figures["variants"]["fp32"]["median_seconds"])
    assert figures["apgd"]["ratio_to_floor"] > 0 and "ratio_to_peer" in figures["apgd"]
    assert "ours/floor" in printed.out and "APGD-1 (CE, L-inf 8/255, batch 2)" in printed.out


def test_bench_quiet_prints_no_progress(capsys):
    assert cli.main(["bench", "--device", "cpu", "--batch-size", "2", "--steps", "1", "--repeats", "1",
                     "--warmup", "0", "--apgd-steps", "0", "--no-peer", "--quiet"]) == 0
    printed = capsys.readouterr()
    assert printed.err == "" and "ours/floor" in printed.out


@pytest.mark.parametrize("arguments, message", [
    (["--repeats", "0"], "--repeats must be >= 1"),
    (["--warmup", "-1"], "--warmup must be >= 0"),
    (["--apgd-batch-size", "0"], "--apgd-batch-size must be >= 1"),
])
def test_bench_rejects_bad_settings_before_measuring(arguments, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(["bench", "--device", "cpu", *arguments])
