"""The texture-vs-shape stimuli, human trials and the shape-bias metric.

The loader is exercised through its real download path: ``../shared/data`` plays the
role of the pinned GitHub commit through a ``file://`` URL, so every file is fetched and
checked against the shipped SHA-256 list (tests skip where that copy is absent).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from advlib.data import texture_vs_shape as tvs
from advlib.errors import DataUnavailableError
from advlib.perception.shape_bias import IMAGENET_16_CLASS, ShapeBias, category_probabilities, shape_bias

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "texture-vs-shape"


@pytest.fixture(scope="session")
def mirror_url() -> str:
    if not SHARED.is_dir():
        pytest.skip(f"texture-vs-shape copy not found at {SHARED} (only present in this project's CI)")
    return SHARED.as_uri()


@pytest.fixture(scope="session")
def stimuli_root(tmp_path_factory, mirror_url) -> Path:
    """A data root filled by the loader's own download code from the local mirror."""
    root = tmp_path_factory.mktemp("tvs")
    for prefix in ("stimuli", "raw-data"):
        tvs.ensure_files(prefix, root=root, download=True, base_url=mirror_url)
    return root


def test_manifest_lists_every_file_the_book_uses():
    files = tvs.manifest()
    count = {kind: len(tvs._files_under(folder)) for kind, folder in tvs.STIMULUS_FOLDERS.items()}
    assert count == {"cue-conflict": 1280, "silhouettes": 160, "edges": 160}
    assert all(len(tvs._files_under(folder)) >= 5 for folder in tvs.EXPERIMENT_FOLDERS.values())
    assert "DATASET_LICENSE" in files and all(len(digest) == 64 for digest in files.values())


def test_cue_conflict_stimuli_load_with_shape_and_texture_labels(stimuli_root):
    stimuli = tvs.load_stimuli("cue-conflict", root=stimuli_root, download=False)
    assert stimuli.images.shape == (1280, 3, 224, 224) and stimuli.images.dtype == torch.uint8
    assert int(stimuli.conflict.sum()) == 1200
    assert torch.bincount(stimuli.shape_labels).tolist() == [80] * 16
    position = stimuli.find("cat7-elephant1.png")
    assert tvs.CATEGORIES[stimuli.shape_labels[position]] == "cat"
    assert tvs.CATEGORIES[stimuli.texture_labels[position]] == "elephant"
    assert stimuli.float_images(slice(0, 2)).min() >= 0.0 and stimuli.float_images(slice(0, 2)).max() <= 1.0
    with pytest.raises(KeyError, match="no stimulus"):
        stimuli.find("dog1-cat1.jpg")


@pytest.mark.parametrize("kind", ["silhouettes", "edges"])
def test_shape_only_stimuli_have_ten_images_per_category(stimuli_root, kind):
    stimuli = tvs.load_stimuli(kind, root=stimuli_root, download=False)
    assert stimuli.images.shape == (160, 3, 224, 224)
    assert torch.bincount(stimuli.shape_labels).tolist() == [10] * 16
    assert torch.equal(stimuli.shape_labels, stimuli.texture_labels) and not stimuli.conflict.any()


def test_human_shape_bias_from_the_raw_trials_is_95_9_percent(stimuli_root):
    trials = tvs.load_trials("cue-conflict", root=stimuli_root, download=False)
    humans = tvs.human_trials(trials)
    assert humans["subj"].nunique() == 10 and set(trials["subj"]) - set(humans["subj"]), "the networks' rows go"
    result = shape_bias(*tvs.trial_cues(humans))
    assert result.conflict_images == 12000
    assert result.shape_bias == pytest.approx(0.9587, abs=5e-4)
    vgg = trials[trials["subj"] == "vgg"]
    assert shape_bias(*tvs.trial_cues(vgg)).shape_bias == pytest.approx(0.172, abs=1e-3)


def test_noise_experiment_conditions_are_strings(stimuli_root):
    trials = tvs.load_trials("noise", root=stimuli_root, download=False)
    assert sorted(trials["condition"].unique())[:2] == ["0.00", "0.03"]


def test_16_class_mapping_matches_the_shared_json():
    shared = SHARED / "imagenet_indices_16class.json"
    if not shared.exists():
        pytest.skip("shared mapping not present")
    assert {name: tuple(indices) for name, indices in json.loads(shared.read_text()).items()} == IMAGENET_16_CLASS
    assert tuple(IMAGENET_16_CLASS) == tvs.CATEGORIES


def test_missing_files_with_downloads_off_name_the_folder_and_the_remedy(tmp_path):
    with pytest.raises(DataUnavailableError, match="rgeirhos/texture-vs-shape") as error:
        tvs.load_stimuli("edges", root=tmp_path, download=False)
    assert "Downloading is off" in str(error.value) and "edges" in str(error.value)


def test_a_download_with_a_wrong_checksum_is_rejected_and_not_kept(tmp_path, mirror_url):
    mirror = tmp_path / "mirror"
    shutil.copytree(SHARED / "stimuli" / "edges", mirror / "stimuli" / "edges")
    shutil.copy(SHARED / "DATASET_LICENSE", mirror / "DATASET_LICENSE")
    victim = mirror / "stimuli" / "edges" / "cat" / "cat1.png"
    victim.write_bytes(victim.read_bytes() + b"tampered")
    root = tmp_path / "root"
    with pytest.raises(DataUnavailableError, match="checksum mismatch"):
        tvs.load_stimuli("edges", root=root, download=True, base_url=mirror.as_uri())
    assert not (root / tvs.FOLDER / "stimuli" / "edges" / "cat" / "cat1.png").exists()
    assert not list((root / tvs.FOLDER).rglob("*.tmp"))


def test_a_corrupt_file_on_disk_is_an_error_not_silently_replaced(tmp_path, mirror_url):
    tvs.ensure_files("stimuli/edges", root=tmp_path, download=True, base_url=mirror_url)
    victim = tmp_path / tvs.FOLDER / "stimuli" / "edges" / "dog" / "dog1.png"
    victim.write_bytes(b"not a png")
    with pytest.raises(DataUnavailableError, match="does not match"):
        tvs.load_stimuli("edges", root=tmp_path, download=True, base_url=mirror_url)


def test_bad_kind_and_experiment_names_are_rejected():
    with pytest.raises(ValueError, match="kind must be one of"):
        tvs.load_stimuli("stylized")
    with pytest.raises(ValueError, match="experiment must be one of"):
        tvs.load_trials("contrast")


def test_category_probabilities_average_the_mapped_imagenet_classes():
    probabilities = torch.zeros(2, 1000)
    probabilities[0, 385] = 1.0  # Indian elephant: half of "elephant" (two classes)
    probabilities[1, 404] = 0.5  # airliner: all of "airplane" (one class)
    probabilities[1, 281] = 0.5  # tabby: one sixth of "cat"
    categories = category_probabilities(probabilities)
    assert categories.shape == (2, 16)
    assert categories[0, tvs.CATEGORIES.index("elephant")] == pytest.approx(0.5)
    assert categories[1].argmax() == tvs.CATEGORIES.index("airplane")
    assert categories[1, tvs.CATEGORIES.index("cat")] == pytest.approx(0.5 / 6)
    with pytest.raises(ValueError, match="1000"):
        category_probabilities(torch.zeros(2, 10))


def test_shape_bias_counts_only_conflict_images_and_shape_or_texture_decisions():
    shape = torch.tensor([0, 1, 2, 3, 4])
    texture = torch.tensor([1, 2, 3, 3, 5])  # the fourth image has no conflict
    decisions = torch.tensor([0, 2, 7, 3, 4])  # shape, texture, neither, (ignored), shape
    result = shape_bias(decisions, shape, texture)
    assert result == ShapeBias(shape_decisions=2, texture_decisions=1, conflict_images=4)
    assert result.shape_bias == pytest.approx(2 / 3) and result.cue_accuracy == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="no cue-conflict"):
        shape_bias(shape, shape, shape)


def test_human_accuracy_falls_with_noise_width(stimuli_root):
    accuracy = tvs.human_accuracy_by_condition(tvs.load_trials("noise", root=stimuli_root, download=False))
    assert accuracy.index[0] == 0.0 and accuracy.iloc[0] > 0.8 and accuracy.iloc[-1] < accuracy.iloc[0] - 0.3
    high_pass = tvs.human_accuracy_by_condition(tvs.load_trials("highpass", root=stimuli_root, download=False))
    assert high_pass.index[-1] == float("inf")


def test_pooled_human_accuracy_counts_human_trials_only():
    import pandas as pd

    trials = pd.DataFrame({"subj": ["subject-01", "subject-02", "vgg", "resnet"],
                           "object_response": ["cat", "dog", "cat", "cat"], "category": ["cat", "cat", "dog", "dog"]})
    assert tvs.human_accuracy(trials) == 0.5, "one of the two human trials is right; the networks' rows do not count"
    with pytest.raises(ValueError, match="no human"):
        tvs.human_accuracy(trials[trials["subj"] == "vgg"])
