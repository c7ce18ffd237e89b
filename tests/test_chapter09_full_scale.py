"""Chapter 9's full-scale branch run end to end on fake files: ILSVRC2012 validation folders
with ResNet-50, Inception-v3 and ViT-B/16 checkpoints in torchvision's file naming, and
torchvision's MNIST files for the semantic-attack experiments.

Every checkpoint is a random network whose classifier favours class 0, so that the fake
class-0 photos count as read right by all three models (the chapter attacks only those) and
the class-3 photos are filtered out. The notebook's code cells run in this process with the
full scale's parameters; after the set-up cell the candidate pool, batches, MNIST evaluation
and attack iterations are shrunk, because the point is that every full-scale code path runs,
not its numbers.
"""

from __future__ import annotations

import matplotlib
import pytest
from fakes import fake_idx_set, fake_imagenet, favour_class_zero_checkpoints, run_full_scale_cells

from advlib.repro import get_chapter

matplotlib.use("Agg")


@pytest.mark.slow
def test_full_scale_branch_runs_on_fake_imagenet_and_mnist(tmp_path, monkeypatch):
    root = tmp_path / "data"
    fake_imagenet(root / "imagenet", train={}, val={0: 3, 3: 2})
    favour_class_zero_checkpoints(root, ("resnet50", "inception_v3", "vit_b_16"))
    fake_idx_set(root / "MNIST" / "raw", train=120, test=60)
    monkeypatch.setenv("ADVLIB_DATA", str(root))
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")

    def shrink(namespace: dict) -> None:  # every full-scale code path runs, not its numbers
        if "SETTINGS" in namespace:
            namespace["SETTINGS"].update(candidates=5, batch=2, mnist_eval=20)
            namespace["STEPS"] = 2  # the attacks' iterations (10 in the papers)
            namespace["ALPHA"] = namespace["EPS"] / namespace["STEPS"]  # as the set-up cell defines it

    namespace, record = run_full_scale_cells(
        "09", monkeypatch, tmp_path / "runs", dict(n_eval=2, repeats=2, epochs=1), after_cell=shrink)
    chapter = get_chapter("09")
    assert record["parameters"]["scale"] == "full"
    assert list(namespace["models"]) == ["ResNet-50", "Inception-v3", "ViT-B/16"]
    assert type(namespace["models"]["ViT-B/16"].model).__name__ == "VisionTransformer"
    assert namespace["images"].shape == (2, 3, 224, 224) and set(namespace["labels"].tolist()) == {0}
    assert namespace["ensemble"].success.shape == (2, 2, 1), "2 seeds, 2 sources, 1 target"
    assert len(namespace["mnist_train"]) == 120, "the MNIST experiments read torchvision's files"
    computed = set(record["results"]) | set(record["undefined"])
    assert computed >= {target.key for target in chapter.targets["full"]}
