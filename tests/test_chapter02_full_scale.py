"""Chapter 2's full-scale branch (CIFAR-10 at 8/255, the worst-case evaluation with
AutoAttack's settings, published models from the RobustBench zoo written in its JSON schema)
run end to end on fake files: CIFAR-10 pickles in torchvision's layout and a RobustBench
checkpoint (a randomly initialised Wong2020Fast network) where the zoo keeps it.

The notebook's code cells run in this process; after the set-up cell the attack settings are
shrunk, because the point is that every full-scale code path runs, not its numbers.
"""

from __future__ import annotations

import json

import matplotlib
import pytest
import torchvision.datasets as tv_datasets
from fakes import fake_cifar10, fake_robustbench_checkpoint, run_full_scale_cells

from advlib.repro import get_chapter
from advlib.robustness.worst_case import apgd_ce, apgd_t, square_attack

matplotlib.use("Agg")


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning", "ignore::DeprecationWarning")
def test_full_scale_branch_runs_on_fake_cifar10_and_a_fake_robustbench_checkpoint(tmp_path, monkeypatch):
    root = tmp_path / "data"
    fake_cifar10(root / "cifar-10-batches-py", per_batch=4, test=14)  # 10 evaluated, the last 4 per-epoch checks
    monkeypatch.setattr(tv_datasets.cifar, "check_integrity", lambda path, md5=None: True)
    fake_robustbench_checkpoint(root, "Wong2020Fast")
    monkeypatch.setenv("ADVLIB_DATA", str(root))
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")

    def shrink(namespace: dict) -> None:  # every full-scale code path runs, not its numbers
        if "worst_case_attacks" in namespace and not namespace.get("_shrunk"):
            namespace["worst_case_attacks"] = [apgd_ce(steps=2), apgd_t(steps=2, target_classes=2),
                                               square_attack(queries=3)]
            # the per-epoch PGD-10 check of every model runs on the last 4 test images, not 100
            namespace["x_check"], namespace["y_check"] = namespace["x_check"][-4:], namespace["y_check"][-4:]
            # the attack-strength curves: 3 iterations and a 2 + 2 step budget search, not 50 and 6 + 6
            namespace["curve_iterations"], namespace["search_steps"], namespace["binary_steps"] = 3, 2, 2
            namespace["_shrunk"] = True

    runs = tmp_path / "runs"
    namespace, record = run_full_scale_cells(
        "02", monkeypatch, runs, dict(n_eval=10, epochs=1, robustbench_models="Wong2020Fast"), after_cell=shrink)
    chapter = get_chapter("02")
    assert record["parameters"]["scale"] == "full"
    assert namespace["budget"] == pytest.approx(8 / 255) and namespace["n_worst"] == 10
    written = json.loads((runs / "full" / "robustbench" / "Wong2020Fast.json").read_text())
    assert written["eps"] == "8/255" and written["advlib_attacks"] == ["apgd-ce", "apgd-t", "square"]
    assert {"advlib-natural.json", "advlib-PGD-AT.json"} <= {p.name for p in (runs / "full" / "robustbench").iterdir()}
    assert (runs / "full" / "robustbench" / "Wong2020Fast.state.json").exists(), "resumable"
    assert record["results"]["robustbench_models_evaluated"] == 1
    computed = set(record["results"]) | set(record["undefined"])
    assert computed >= {target.key for target in chapter.targets["full"]}
