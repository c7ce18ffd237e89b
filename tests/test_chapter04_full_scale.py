"""Chapter 4's full-scale branch (all of MNIST for ITID; CIFAR-10, a ResNet-18 and
eps = 8/255 for the rest) run end to end on fake files in torchvision's formats.

The notebook's code cells are executed in this process, with the full-scale parameters in
place of its defaults, so that torchvision's md5 check (which fake files cannot pass) can be
patched as in the loader tests. One epoch and one round of everything keeps it to about a
minute on 2 cores; the point is that every full-scale code path runs, not its numbers.
"""

from __future__ import annotations

import matplotlib
import pytest
import torchvision.datasets as tv_datasets
from fakes import fake_cifar10, fake_idx_set, run_full_scale_cells

from advlib.repro import get_chapter

matplotlib.use("Agg")


@pytest.mark.slow
def test_full_scale_branch_runs_on_fake_mnist_and_cifar10(tmp_path, monkeypatch):
    root = tmp_path / "data"
    fake_idx_set(root / "MNIST" / "raw", train=60, test=20)
    fake_cifar10(root / "cifar-10-batches-py", per_batch=2, test=10)
    monkeypatch.setattr(tv_datasets.cifar, "check_integrity", lambda path, md5=None: True)
    monkeypatch.setenv("ADVLIB_DATA", str(root))
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")
    namespace, record = run_full_scale_cells(
        "04", monkeypatch, tmp_path / "runs", dict(n_eval=1000, n_train=0, epochs=1))
    chapter = get_chapter("04")
    assert record["parameters"]["scale"] == "full"
    assert namespace["base_train"].name == "cifar10" and namespace["largest"] == pytest.approx(8 / 255)
    assert type(namespace["crafter"].model).__name__ == "ResNet18"
    assert len(namespace["itid_train"]) == 60, "ITID at full scale reads torchvision's MNIST files"
    computed = set(record["results"]) | set(record["undefined"])
    assert computed >= {target.key for target in chapter.targets["full"]}
