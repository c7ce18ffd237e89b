"""Data-parallel training: torchrun with 2 CPU processes (gloo) against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fakes import toy_brightness_dataset

from advlib import cli, distributed
from advlib.data import load_dataset
from advlib.evaluate import accuracy
from advlib.models import SmallCNN
from advlib.train import TrainConfig, load_checkpoint, train
from advlib.utils import seed_everything

TESTS = Path(__file__).resolve().parent


def torchrun(*arguments: str, processes: int = 2) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               *arguments]
    result = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=TESTS, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def one_process(method: str) -> tuple[torch.nn.Module, list[float]]:
    seed_everything(0)
    model = SmallCNN(in_channels=1, num_classes=2, width=8, image_size=8)
    config = TrainConfig(method=method, epochs=3, batch_size=16, lr=3e-3, eps=0.1, seed=0)
    history = train(model, toy_brightness_dataset(), config, progress=False)
    return model, [record.loss for record in history]


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("size", [0, 1, 2, 5, 16, 17])
def test_the_shares_of_a_batch_partition_it_contiguously(size, world):
    parts = [distributed.share(size, distributed.Context(rank, world)) for rank in range(world)]
    covered = [index for part in parts for index in range(size)[part]]
    assert covered == list(range(size))
    lengths = [len(range(size)[part]) for part in parts]
    assert max(lengths) - min(lengths) <= 1


def test_outside_torchrun_there_is_one_process_and_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    context, device = distributed.init_from_environment("cpu")
    assert context == distributed.SINGLE and not context.distributed and device.type == "cpu"
    assert not torch.distributed.is_initialized()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(RuntimeError, match="start distributed runs with torchrun"):
        distributed.init_from_environment("cpu")


@pytest.mark.slow
def test_natural_training_on_two_ranks_follows_one_process(tmp_path):
    """65 samples in batches of 16: the last batch has one sample, so one rank's share is
    empty there. Same batches, gradients averaged over the whole batch: the weights after
    3 epochs agree with one process up to floating-point summation order."""
    torchrun("ddp_worker.py", "natural", str(tmp_path / "natural"))
    ranks = [torch.load(tmp_path / f"natural.rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    model, losses = one_process("natural")
    for name, value in model.state_dict().items():
        assert torch.equal(ranks[0]["state"][name], ranks[1]["state"][name]), "DDP keeps the ranks identical"
        torch.testing.assert_close(ranks[0]["state"][name], value, rtol=1e-4, atol=1e-5)
    assert ranks[0]["history"] == pytest.approx(losses, rel=1e-4)
    assert ranks[0]["history"] == ranks[1]["history"], "every rank records the metrics summed over ranks"
    assert ranks[0]["saves"] == [1, 2, 3] and ranks[1]["saves"] == [], "only rank 0 writes the checkpoint"
    checkpoint = load_checkpoint(tmp_path / "natural.ckpt", SmallCNN(1, 2, 8, 8))
    assert checkpoint["epoch"] == 3
    images, labels = toy_brightness_dataset().tensors()
    assert ranks[0]["accuracy_over_ranks"] == ranks[1]["accuracy_over_ranks"] == ranks[0]["accuracy"]
    assert ranks[0]["accuracy"] == accuracy(model, images, labels)


@pytest.mark.slow
def test_adversarial_training_on_two_ranks_differs_from_one_process_only_in_its_noise(tmp_path):
    """FGSM-RS draws its random starts per rank, so the weights differ from one process's;
    the training loss per epoch stays close and the model learns the task as well."""
    torchrun("ddp_worker.py", "fgsm_rs", str(tmp_path / "fgsm_rs"))
    rank = torch.load(tmp_path / "fgsm_rs.rank0.pt", weights_only=True)
    model, losses = one_process("fgsm_rs")
    assert rank["history"] == pytest.approx(losses, abs=0.05)
    assert rank["history"][-1] < rank["history"][0], "the distributed run learns"
    images, labels = toy_brightness_dataset().tensors()
    assert abs(rank["accuracy"] - accuracy(model, images, labels)) <= 0.05


@pytest.mark.slow
def test_the_train_command_runs_under_torchrun_and_writes_one_checkpoint(tmp_path):
    out = tmp_path / "fgsm_rs.pt"
    result = torchrun("-m", "advlib.cli", "train", "--scale", "smoke", "--method", "fgsm_rs", "--epochs", "1",
                      "--out", str(out), "--n-eval", "64", "--eval-pgd-steps", "2", "--device", "cpu")
    summaries = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1, "rank 0 alone reports"
    summary = summaries[0]
    assert summary["ranks"] == 2 and summary["config"]["method"] == "fgsm_rs" and len(summary["epochs"]) == 1
    model = SmallCNN()
    assert load_checkpoint(out, model)["epoch"] == 1
    images, labels = load_dataset("mnist", "test", "smoke").tensors()
    assert summary["clean_accuracy"] == accuracy(model, images[:64], labels[:64]), "the split evaluation adds up"
    assert 0.0 <= summary["pgd_accuracy"] <= 1.0


def test_the_train_command_refuses_bad_input_before_any_work(tmp_path, monkeypatch, capsys):
    out = tmp_path / "model.pt"
    assert cli.main(["train", "--out", str(out), "--epochs", "-1"]) == 2
    assert "epochs must be an int >= 1" in capsys.readouterr().err
    monkeypatch.setenv("ADVLIB_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")
    assert cli.main(["train", "--out", str(out), "--scale", "full"]) == 2
    assert "'cifar10' (full scale) is not available" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert cli.main(["train", "--out", str(out), "--device", "cuda"]) == 2
        assert "no CUDA GPU" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "empty").exists()

