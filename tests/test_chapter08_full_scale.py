"""Chapter 8's full-scale branch (Inception-v3 at 299 px on ILSVRC2012 folders) run end to end
on fake files: JPEGs in the prepared ImageNet layout and an Inception-v3 checkpoint in
torchvision's file naming under the data root.

The checkpoint is a random Inception-v3 whose classifier favours class 0, so that the fake
class-0 photos count as correctly classified (the chapter attacks only those) and the fake
class-2 photos are filtered out. The notebook's code cells run in this process with the full
scale's parameters; after the set-up cell the batch and the grids are shrunk, because the
point is that every full-scale code path runs, not its numbers.
"""

from __future__ import annotations

import matplotlib
import pytest
from fakes import fake_imagenet, favour_class_zero_checkpoints, run_full_scale_cells

from advlib.repro import get_chapter

matplotlib.use("Agg")


@pytest.mark.slow
def test_full_scale_branch_runs_on_fake_imagenet_with_inception_v3(tmp_path, monkeypatch):
    root = tmp_path / "data"
    fake_imagenet(root / "imagenet", train={0: 20, 2: 20}, val={0: 4, 2: 2})
    favour_class_zero_checkpoints(root, ("inception_v3",))
    monkeypatch.setenv("ADVLIB_DATA", str(root))
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")

    def shrink(namespace: dict) -> None:  # every full-scale code path runs, not its numbers
        if "SETTINGS" in namespace:
            namespace["SETTINGS"].update(batch=2, many_stride=150, grid=150)

    namespace, record = run_full_scale_cells(
        "08", monkeypatch, tmp_path / "runs", dict(n_eval=6, steps=1, repeats=1, stride=150), after_cell=shrink)
    chapter = get_chapter("08")
    assert record["parameters"]["scale"] == "full"
    assert namespace["SIZES"] == (15, 20, 25, 30), "the paper's patch sides at 299 px"
    assert type(namespace["model"].model).__name__ == "Inception3"
    assert len(namespace["train_labels"]) == 20 and set(namespace["train_labels"].tolist()) == {0}
    assert namespace["test_images"].shape == (4, 3, 299, 299), "all 6 val photos drawn, the 4 of class 0 kept"
    assert set(namespace["test_labels"].tolist()) == {0}
    assert namespace["one"].positions.shape[0] == 4  # (299 - 30) // 150 + 1 = 2 per axis
    computed = set(record["results"]) | set(record["undefined"])
    assert computed >= {target.key for target in chapter.targets["full"]}
