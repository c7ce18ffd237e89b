"""Plots, utilities, the command line and the benchmark's code path (no timing asserts)."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

import advlib
from advlib import cli, plot
from advlib.cli.bench import format_report, run_benchmark
from advlib.utils import frozen_eval, resolve_device


def test_image_grid_and_perturbation_figures():
    images = torch.rand(5, 1, 28, 28)
    figure = plot.show_images(images, [str(i) for i in range(5)], ncols=3)
    assert len(figure.axes) == 6
    plt.close(figure)
    with pytest.raises(ValueError, match="titles"):
        plot.show_images(images, ["a"])
    adversarial = (images + 0.01).clamp(0, 1)
    figure = plot.show_perturbations(images[:3], adversarial[:3])
    assert len(figure.axes) == 12 and figure.axes[6].get_ylabel() == "10x difference"
    plt.close(figure)
    view = plot.perturbation_view(torch.zeros(1, 1, 1, 1), torch.full((1, 1, 1, 1), 0.01), amplify=10)
    assert view.item() == pytest.approx(0.6)
    figure = plot.plot_curves([0, 1, 2], {"a": [1.0, 0.5, 0.1]}, xlabel="eps")
    plt.close(figure)
    with pytest.raises(ValueError, match="points"):
        plot.plot_curves([0, 1], {"a": [1.0]}, xlabel="eps")


def test_seed_everything_and_devices():
    generator = advlib.seed_everything(7)
    first = torch.rand(3, generator=generator)
    assert torch.equal(first, torch.rand(3, generator=advlib.seed_everything(7)))
    with pytest.raises(ValueError, match="seed"):
        advlib.seed_everything(-1)
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
        assert resolve_device("auto").type in ("cpu", "mps")


def test_frozen_eval_restores_state_even_after_an_error():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout())
    model.train()
    model[0].bias.requires_grad_(False)
    with pytest.raises(RuntimeError), frozen_eval(model):
        assert not model.training and not any(p.requires_grad for p in model.parameters())
        raise RuntimeError("boom")
    assert model.training and model[1].training
    assert model[0].weight.requires_grad and not model[0].bias.requires_grad


def test_benchmark_code_path_reports_ratios(tmp_path, capsys):
    results = run_benchmark(device="cpu", batch_size=2, steps=1, repeats=1, warmup=0,
                            variants=("fp32", "bf16+channels_last"), apgd_steps=2)
    fp32 = results["variants"]["fp32"]
    assert set(fp32["median_seconds"]) >= {"ours", "floor"} and fp32["ratio_to_floor"] > 0
    if results.get("peer", "").startswith("torchattacks"):
        assert fp32["ratio_to_peer"] > 0
    assert "ours/floor" in format_report(results)
    apgd_entry = results["apgd"]
    assert set(apgd_entry["median_seconds"]) == {"ours", "floor", "pyautoattack"} and apgd_entry["ratio_to_peer"] > 0
    assert "ours/pyautoattack" in format_report(results)
    output = tmp_path / "bench.json"
    assert cli.main(["bench", "--device", "cpu", "--batch-size", "2", "--steps", "1", "--repeats", "1",
                     "--warmup", "0", "--no-peer", "--apgd-steps", "1", "--output", str(output)]) == 0
    assert "ours/floor" in capsys.readouterr().out
    assert json.loads(output.read_text())["batch_size"] == 2
    with pytest.raises(SystemExit):
        cli.main(["bench", "--variants", "fp8"])
    with pytest.raises(SystemExit):
        cli.main(["bench", "--steps", "0"])
    with pytest.raises(SystemExit):
        cli.main(["bench", "--apgd-steps", "-1"])


def test_doctor_runs_offline(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("ADVLIB_DATA", str(tmp_path))
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "mnist [class]: ok (1000 test images)" in out and "cifar10 [full]: missing" in out
    assert "ddddocr [beta]: ok (common.onnx)" in out
    assert "CelebA: missing (full scale only)" in out and "list_attr_celeba.txt" in out
    assert "ImageNet photos: missing" in out and "ADVLIB_IMAGENET_SAMPLES_URL" in out
    assert "ILSVRC2012 [val]: missing (full scale only)" in out and "train/<wnid>/*.JPEG" in out
