"""Chapter 7's full-scale branch (all of MNIST for C-MNIST and the few-shot task; CelebA with a
ResNet-18) run end to end on fake files in torchvision's formats.

The notebook's code cells are executed in this process, with the full-scale parameters in place
of its defaults, so that torchvision's CelebA MD5 check (which fake files cannot pass) can be
patched as in the loader tests. One epoch and one seed keep it short; the point is that every
full-scale code path runs, not its numbers.
"""

from __future__ import annotations

import matplotlib
import pytest
import torchvision
from fakes import fake_celeba, fake_idx_set, run_full_scale_cells

from advlib.repro import get_chapter

matplotlib.use("Agg")


@pytest.mark.slow
def test_full_scale_branch_runs_on_fake_mnist_and_celeba(tmp_path, monkeypatch):
    root = tmp_path / "data"
    fake_idx_set(root / "MNIST" / "raw", train=120, test=100)
    fake_celeba(root / "celeba", splits=(16, 4, 24))
    monkeypatch.setattr(torchvision.datasets.CelebA, "_check_integrity", lambda self: True)
    monkeypatch.setenv("ADVLIB_DATA", str(root))
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")

    def shrink(namespace: dict) -> None:  # every full-scale code path runs, not its numbers
        if "SETTINGS" in namespace and namespace["SETTINGS"].get("episodes", 0) > 2:
            namespace["SETTINGS"].update(episodes=2, teacher_epochs=1)

    namespace, record = run_full_scale_cells(
        "07", monkeypatch, tmp_path / "runs", dict(n_eval=0, n_train=0, epochs=1, flip_eps=0.0, repeats=1),
        after_cell=shrink)
    chapter = get_chapter("07")
    assert record["parameters"]["scale"] == "full"
    assert len(namespace["fully_biased"]) == 120, "C-MNIST at full scale reads torchvision's MNIST files"
    celeba = namespace["celeba"]
    assert type(celeba["AEDA_robust"].model.trunk).__name__ == "ResNet"
    assert namespace["celeba_test"].data.images.shape[1:] == (3, 128, 128)
    assert "celeba_bacc_aeda_robust" in record["results"]
    computed = set(record["results"]) | set(record["undefined"])
    assert computed >= {target.key for target in chapter.targets["full"]}
