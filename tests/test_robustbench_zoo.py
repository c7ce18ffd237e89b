"""The RobustBench path of the full scale, smoke-tested offline on a fake checkpoint: a
randomly initialised Wong2020Fast network (the zoo's smallest CIFAR-10 L-inf model, a
PreAct ResNet-18) saved where the zoo keeps its checkpoints under the data root. The
loader must find it without network, record and then insist on its checksum, refuse
missing files with a clear error, and feed the worst-case evaluation, whose result is
written in RobustBench's JSON schema."""

from __future__ import annotations

import json

import pytest
import torch
from fakes import fake_robustbench_checkpoint

from advlib.errors import DataUnavailableError
from advlib.models.robustbench_zoo import checkpoint_path, robustbench_model, zoo_models
from advlib.robustness.worst_case import apgd_ce, worst_case_evaluation

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning",
                                        "ignore::DeprecationWarning")


def test_the_zoo_imports_on_the_pinned_torch():
    assert {"Standard", "Wong2020Fast", "Engstrom2019Robustness", "Rice2020Overfitting"} <= set(zoo_models())


def test_a_cached_checkpoint_loads_offline_and_is_checksummed(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")
    network = fake_robustbench_checkpoint(tmp_path)
    path = checkpoint_path("Wong2020Fast", root=tmp_path)
    model = robustbench_model("Wong2020Fast", root=tmp_path)
    images = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(images), network(images))
    record = path.with_name(path.name + ".sha256")
    assert len(record.read_text().split()[0]) == 64
    robustbench_model("Wong2020Fast", root=tmp_path)  # the recorded checksum still matches

    labels = model(images).argmax(1)  # every sample correct when clean, so the attack has work
    result = worst_case_evaluation(model, images, labels, 8 / 255, attacks=[apgd_ce(steps=2)], sanity_checks=False)
    entry = result.to_robustbench(name="Wong2020Fast (fake weights)", architecture="PreActResNet-18")
    written = tmp_path / "Wong2020Fast.json"
    written.write_text(json.dumps(entry))
    assert json.loads(written.read_text())["eps"] == "8/255"
    assert json.loads(written.read_text())["clean_acc"] == "100.00"

    state = torch.load(path)
    state[next(iter(state))].add_(1.0)
    torch.save(state, path)
    with pytest.raises(ValueError, match="the file changed"):
        robustbench_model("Wong2020Fast", root=tmp_path)


def test_missing_checkpoints_and_unknown_names_are_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match=r"Wong2020Fast\.pt"):
        robustbench_model("Wong2020Fast", root=tmp_path)
    with pytest.raises(ValueError, match="not in RobustBench's cifar10 Linf zoo"):
        robustbench_model("Nobody2099Robust", root=tmp_path)


def test_chapter_2_refuses_unknown_zoo_models_before_running():
    from advlib.repro import get_chapter

    parameter = get_chapter("02").parameter("robustbench_models")
    assert parameter.check("Wong2020Fast,Standard") == "Wong2020Fast,Standard"
    for bad in ("Nobody2099Robust", "Wong2020Fast, Standard", ""):
        with pytest.raises(ValueError, match="robustbench_models"):
            parameter.check(bad)
