"""Chapter 5's full-scale branch (training identities from the data root; InsightFace's LFW,
AgeDB-30 and CFP-FP files; RGB faces; eps = 8/255) run end to end on fake files in the real
formats.

The notebook's code cells are executed in this process with the full-scale parameters; right
after the setup cell the sizes are cut down (one epoch, two pairs) so the run takes seconds:
the point is that every full-scale code path runs, not its numbers.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from fakes import run_full_scale_cells
from PIL import Image
from test_faces import _fake_bin

from advlib.data import face_benchmarks
from advlib.repro import get_chapter

matplotlib.use("Agg")


@pytest.mark.slow
def test_full_scale_branch_runs_on_fake_benchmarks_and_training_faces(tmp_path, monkeypatch):
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for person in range(4):
        for shot in range(4):
            path = root / face_benchmarks.TRAIN_FOLDER / f"id{person:04d}" / f"{shot}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)).save(path)
    for seed, file in enumerate(face_benchmarks.BENCHMARKS.values()):
        _fake_bin(root / face_benchmarks.BENCHMARK_FOLDER / file, pairs=6, seed=seed)
    monkeypatch.setenv("ADVLIB_DATA", str(root))
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")

    def shrink(namespace: dict) -> None:  # one epoch and a few pairs: every code path, not its numbers
        if "SETTINGS" in namespace and namespace["SETTINGS"].get("probe_epochs", 0) > 1:
            namespace["SETTINGS"].update(probe_epochs=1, uap_epochs=1, white_box=2, dlib_pairs=2, batch=4)

    namespace, record = run_full_scale_cells(
        "05", monkeypatch, tmp_path / "runs", dict(n_eval=0, epsilon=0, epochs=1), after_cell=shrink)
    chapter = get_chapter("05")
    assert record["parameters"]["scale"] == "full"
    assert namespace["eps"] == pytest.approx(8 / 255) and namespace["channels"] == 3
    assert set(namespace["test_sets"]) == {"lfw", "agedb_30", "cfp_fp"}
    assert len(namespace["train"]) == 16, "training faces come from <data root>/face-train"
    assert all(len(namespace["tables"][name]) == 4 for name in namespace["test_sets"]), "four rows per benchmark"
    computed = set(record["results"]) | set(record["undefined"])
    assert computed >= {target.key for target in chapter.targets["full"]}
