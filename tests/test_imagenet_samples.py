"""The ImageNet sample photos: manifest, class order, checksums, bad input, and a real model.

The loader runs through its real download path: ``../shared/data/imagenet-sample-images``
plays the role of the pinned GitHub commit through a ``file://`` URL (tests that need the
photos skip where that copy is absent, as on a reader's machine).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from advlib.data import imagenet_samples as samples
from advlib.errors import DataUnavailableError
from advlib.models.pretrained import imagenet_categories

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imagenet-sample-images"


@pytest.fixture(scope="session")
def mirror_url() -> str:
    if not SHARED.is_dir():
        pytest.skip(f"ImageNet sample photos not found at {SHARED} (only present in this project's CI)")
    return SHARED.as_uri()


def test_manifest_lists_one_photo_per_class_in_wordnet_order():
    names = samples.file_names()
    assert len(names) == 1000 and list(names) == sorted(names)
    assert names[0] == "n01440764_tench.JPEG" and samples.wnid_of(0) == "n01440764"
    assert names[999] == "n15075141_toilet_tissue.JPEG"
    assert all(len(digest) == 64 for digest in samples.REPO.manifest.values())
    # The file names carry the class names: they agree with torchvision's list of categories.
    categories = imagenet_categories()
    for index in (1, 14, 207, 859, 998):
        assert names[index].split("_", 1)[1].removesuffix(".JPEG").replace("_", " ").lower() == \
            categories[index].lower()


def test_the_shared_copy_matches_the_shipped_checksums_for_every_even_class(mirror_url):
    listed = {line.split()[1]: line.split()[0] for line in (SHARED.parent / "imagenet-sample-images.sha256")
              .read_text().splitlines() if line.strip()}
    even = {samples.file_names()[index] for index in range(0, 1000, 2)}
    assert set(listed) == even
    assert all(samples.REPO.manifest[name] == digest for name, digest in listed.items())


def test_photos_load_with_their_class_indices(tmp_path, mirror_url):
    photos = samples.load_imagenet_photos([0, 14, 998], root=tmp_path, download=True, base_url=mirror_url)
    assert photos.images.shape == (3, 3, 224, 224) and photos.images.dtype == torch.uint8
    assert photos.labels.tolist() == [0, 14, 998]
    assert photos.names[1] == "n01537544_indigo_bunting.JPEG"
    assert photos.float_images().min() >= 0.0 and photos.float_images().max() <= 1.0
    subset = photos.select(photos.labels > 10)
    assert subset.labels.tolist() == [14, 998] and subset.names[0] == photos.names[1]
    # Once fetched, the photos load offline, at another size too.
    again = samples.load_imagenet_photos([14], size=64, root=tmp_path, download=False)
    assert again.images.shape == (1, 3, 64, 64)


def test_missing_photos_with_downloads_off_name_the_folder_and_the_remedy(tmp_path):
    with pytest.raises(DataUnavailableError, match="imagenet-sample-images") as error:
        samples.load_imagenet_photos([0, 2], root=tmp_path, download=False)
    assert "bc69043" in str(error.value) and "ADVLIB_IMAGENET_SAMPLES_URL" in str(error.value)


def test_a_download_with_a_wrong_checksum_is_rejected_and_not_kept(tmp_path, mirror_url):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(SHARED / "n01440764_tench.JPEG", mirror / "n01484850_great_white_shark.JPEG")
    with pytest.raises(DataUnavailableError, match="checksum mismatch"):
        samples.ensure_photos([2], root=tmp_path / "root", download=True, base_url=mirror.as_uri())
    assert not (tmp_path / "root" / "imagenet-sample-images" / "n01484850_great_white_shark.JPEG").exists()


def test_a_corrupt_photo_on_disk_is_an_error_not_silently_replaced(tmp_path, mirror_url):
    samples.ensure_photos([0], root=tmp_path, download=True, base_url=mirror_url)
    path = tmp_path / "imagenet-sample-images" / "n01440764_tench.JPEG"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataUnavailableError, match="does not match the pinned commit"):
        samples.ensure_photos([0], root=tmp_path, download=True, base_url=mirror_url)


@pytest.mark.parametrize(
    ("classes", "message"),
    [("odd", "'even', 'all'"), ([1000], "from 0 to 999"), ([-1], "from 0 to 999"), ([], "no classes"),
     ([4, 4], "twice")],
)
def test_bad_class_requests_are_rejected(classes, message):
    with pytest.raises(ValueError, match=message):
        samples.resolve_classes(classes)


def test_bad_sizes_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="at least 16"):
        samples.load_imagenet_photos([0], size=8, root=tmp_path, download=False)
    with pytest.raises(ValueError, match="at least the crop"):
        samples.load_imagenet_photos([0], size=224, resize=200, root=tmp_path, download=False)


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_efficientnet_lite_reads_most_of_the_photos_right_at_its_native_size(tmp_path, mirror_url, variant):
    """The photos, the class order and each model's preprocessing agree: EfficientNet-Lite0,
    Lite1 and Lite2 (75-78 % top-1 on ImageNet) name most of 40 photos correctly at their own
    input size (224 px from 256, 240 from 272, 260 from 292); a shifted label order or a wrong
    normalisation would leave them near chance. And the TensorFlow-Lite normalisation is more
    likely than ImageNet's mean/std (a wrong one costs likelihood even where the top-1 survives)."""
    from advlib.evaluate import predict
    from advlib.models import EFFICIENTNET_LITE_INPUT, IMAGENET_MEAN, IMAGENET_STD, Normalized, efficientnet_lite

    resize, size = EFFICIENTNET_LITE_INPUT[variant]
    photos = samples.load_imagenet_photos(range(0, 960, 24), size=size, resize=resize, root=tmp_path,
                                          download=True, base_url=mirror_url)
    model = efficientnet_lite(variant)
    images = photos.float_images()
    assert (predict(model, images, batch_size=20) == photos.labels).float().mean().item() > 0.6

    def log_likelihood(candidate) -> float:
        with torch.no_grad():
            return candidate(images).log_softmax(1).gather(1, photos.labels[:, None]).sum().item()

    assert log_likelihood(model) > log_likelihood(Normalized(model.model, IMAGENET_MEAN, IMAGENET_STD).eval())


# ILSVRC2012 folders (full scale), on fake JPEGs in the prepared layout.


def test_imagenet_folders_list_files_with_class_indices_and_decode_lazily(tmp_path):
    from fakes import fake_imagenet

    from advlib.data import imagenet_folders as folders

    fake_imagenet(tmp_path / "imagenet", train={0: 3, 5: 2}, val={5: 2})
    paths, labels = folders.split_files("train", tmp_path)
    assert len(paths) == 5 and labels.tolist() == [0, 0, 0, 5, 5]
    lazy = folders.LazyImages(tuple(paths), size=64)
    assert lazy.shape == (5, 3, 64, 64) and len(lazy) == 5 and lazy.dim() == 4
    batch = lazy[torch.tensor([4, 0])]
    assert batch.shape == (2, 3, 64, 64) and batch.dtype == torch.uint8
    assert torch.equal(lazy[1:3], torch.stack([lazy[1], lazy[2]]))
    assert torch.equal(lazy[torch.tensor([False, True, False, False, True])], lazy[torch.tensor([1, 4])])
    assert lazy.select(torch.tensor([3])).paths == (paths[3],)


def test_g2lvap_splits_draw_per_class_training_photos_and_disjoint_val_sets(tmp_path):
    from fakes import fake_imagenet

    from advlib.data import imagenet_folders as folders

    fake_imagenet(tmp_path / "imagenet", train={0: 4, 1: 3}, val={0: 3, 1: 3})
    splits = folders.g2lvap_splits(32, train_per_class=2, validation=2, test=3, root=tmp_path)
    assert splits.train_labels.tolist() == [0, 0, 1, 1]
    assert len(splits.validation) == 2 and len(splits.test) == 3
    assert not set(splits.validation.paths) & set(splits.test.paths)
    again = folders.g2lvap_splits(32, train_per_class=2, validation=2, test=3, root=tmp_path)
    assert again.test.paths == splits.test.paths  # the seed fixes the draw
    with pytest.raises(ValueError, match="fewer than 4"):
        folders.g2lvap_splits(32, train_per_class=4, validation=1, test=1, root=tmp_path)
    with pytest.raises(ValueError, match="val holds 6"):
        folders.g2lvap_splits(32, train_per_class=2, validation=5, test=5, root=tmp_path)


def test_val_sample_draws_distinct_photos_reproducibly_with_their_classes(tmp_path):
    from fakes import fake_imagenet

    from advlib.data import imagenet_folders as folders

    fake_imagenet(tmp_path / "imagenet", train={}, val={0: 3, 5: 2})
    images, labels = folders.val_sample(32, 4, seed=1, root=tmp_path)
    assert len(set(images.paths)) == 4 and images[:].shape == (4, 3, 32, 32)
    assert all(path.parent.name == folders.wnids()[label] for path, label in zip(images.paths, labels.tolist(),
                                                                                  strict=True))
    assert folders.val_sample(32, 4, seed=1, root=tmp_path)[0].paths == images.paths
    with pytest.raises(ValueError, match="val holds 5"):
        folders.val_sample(32, 6, root=tmp_path)
    with pytest.raises(ValueError, match="at least 1"):
        folders.val_sample(32, 0, root=tmp_path)


def test_imagenet_folders_reject_missing_data_and_foreign_folders(tmp_path):
    from advlib.data import imagenet_folders as folders

    with pytest.raises(DataUnavailableError, match=r"train/<wnid>/\*\.JPEG"):
        folders.split_files("train", tmp_path)
    with pytest.raises(ValueError, match="'train' or 'val'"):
        folders.split_files("test", tmp_path)
    (tmp_path / "imagenet" / "val" / "cats").mkdir(parents=True)
    with pytest.raises(ValueError, match="not an ImageNet-1k class folder"):
        folders.split_files("val", tmp_path)
    (tmp_path / "imagenet" / "val" / "cats").rmdir()
    (tmp_path / "imagenet" / "val" / "n01440764").mkdir()
    with pytest.raises(DataUnavailableError, match="holds no images"):
        folders.split_files("val", tmp_path)
