"""Data: the class-scale split, the full-scale loaders on fake files in torchvision's
formats, the real MNIST from ../shared/data, and the errors for missing data."""

from __future__ import annotations

import gzip
import hashlib
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets as tv_datasets
from conftest import SHARED_DATA
from fakes import CIFAR10_CLASSES, fake_cifar10, fake_idx_set

from advlib.data import available_datasets, data_root, load_dataset
from advlib.data import torchvision_sets as tv_sets
from advlib.errors import DataUnavailableError

# --- class scale -----------------------------------------------------------------------


def test_class_scale_mnist_split_is_fixed_stratified_and_disjoint(mnist_class):
    train, test = mnist_class
    assert (len(train), len(test)) == (4000, 1000)
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.uint8
    assert torch.equal(train.labels.bincount(), torch.full((10,), 400))
    assert torch.equal(test.labels.bincount(), torch.full((10,), 100))
    assert torch.equal(train.labels[:10], torch.arange(10))  # interleaved: prefixes are stratified
    train_rows = {bytes(image.numpy().tobytes()) for image in train.images}
    assert not any(bytes(image.numpy().tobytes()) in train_rows for image in test.images)
    again = load_dataset("mnist", "test", "class")
    assert torch.equal(again.images, test.images) and torch.equal(again.labels, test.labels)


def test_smoke_scale_is_a_stratified_prefix(mnist_class):
    smoke = load_dataset("mnist", "train", "smoke")
    assert len(smoke) == 1000
    assert torch.equal(smoke.labels.bincount(), torch.full((10,), 100))
    assert torch.equal(smoke.images, mnist_class[0].images[:1000])
    assert len(load_dataset("mnist", "test", "smoke")) == 200


def test_dataset_batches_and_tensors(mnist_class):
    test = mnist_class[1]
    images, labels = test.tensors()
    assert images.dtype == torch.float32 and images.min() >= 0 and images.max() <= 1
    batches = list(test.batches(300))
    assert [b[0].shape[0] for b in batches] == [300, 300, 300, 100]
    assert torch.equal(torch.cat([b[1] for b in batches]), labels)
    shuffled = torch.cat([b[1] for b in test.batches(300, shuffle=True, generator=torch.Generator().manual_seed(1))])
    assert not torch.equal(shuffled, labels) and torch.equal(shuffled.sort().values, labels.sort().values)
    assert len(list(test.batches(300, drop_last=True))) == 3
    with pytest.raises(ValueError, match="batch_size"):
        next(test.batches(0))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("svhn", "train", "class"), "unknown dataset"),
        (("mnist", "validation", "class"), "split"),
        (("mnist", "train", "huge"), "scale"),
        (("cifar10", "train", "class"), "no 'class' scale"),
    ],
)
def test_bad_names_raise_clear_errors(args, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(*args)


def test_registry_lists_scales():
    assert available_datasets()["mnist"] == ("smoke", "class", "reference", "full")
    assert available_datasets()["cifar10"] == ("full",)


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ADVLIB_DATA", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root(tmp_path / "x") == tmp_path / "x"


# --- full scale on fake files in the real formats ---------------------------------------


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_full_scale_idx_loaders_read_torchvision_layout(tmp_path, monkeypatch, name, folder):
    monkeypatch.setattr(tv_sets, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    arrays = fake_idx_set(tmp_path / folder / "raw")
    train = load_dataset(name, "train", "full", root=tmp_path, download=False)
    test = load_dataset(name, "test", "full", root=tmp_path, download=False)
    assert train.images.shape == (20, 1, 28, 28) and len(test) == 10
    assert np.array_equal(train.images[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    assert np.array_equal(test.labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert train.scale == "full" and len(train.classes) == 10


def test_full_scale_cifar10_reads_the_python_pickle_layout(tmp_path, monkeypatch):
    expected = fake_cifar10(tmp_path / "cifar-10-batches-py")
    # Fake files cannot match torchvision's md5 list; the format is what is under test.
    monkeypatch.setattr(tv_datasets.cifar, "check_integrity", lambda path, md5=None: True)
    train = load_dataset("cifar10", "train", "full", root=tmp_path, download=False)
    test = load_dataset("cifar10", "test", "full", root=tmp_path, download=False)
    assert train.images.shape == (20, 3, 32, 32) and len(test) == 4
    data, labels = expected["test_batch"]
    assert np.array_equal(test.images.numpy(), data.reshape(4, 3, 32, 32))
    assert test.labels.tolist() == labels and test.classes == tuple(CIFAR10_CLASSES)


def test_fashion_mnist_is_provisioned_from_debian_files_after_checksums(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    arrays = fake_idx_set(tmp_path / "staging")
    debian.mkdir()
    resources = []
    for name in arrays:
        archive = debian / f"{name}.gz"
        archive.write_bytes(gzip.compress((tmp_path / "staging" / name).read_bytes()))
        resources.append((archive.name, hashlib.md5(archive.read_bytes()).hexdigest()))
    monkeypatch.setattr(tv_sets, "DEBIAN_FASHION_MNIST", debian)
    monkeypatch.setattr(tv_datasets.FashionMNIST, "resources", resources)
    root = tmp_path / "root"
    test = load_dataset("fashion_mnist", "test", "full", root=root, download=False)
    assert np.array_equal(test.images[:, 0].numpy(), arrays["t10k-images-idx3-ubyte"])
    assert (root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()


def test_corrupt_debian_files_are_not_used(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    debian.mkdir()
    for filename, _ in tv_datasets.FashionMNIST.resources:
        (debian / filename).write_bytes(b"not the real file")
    monkeypatch.setattr(tv_sets, "DEBIAN_FASHION_MNIST", debian)
    with pytest.raises(DataUnavailableError, match="fashion_mnist"):
        load_dataset("fashion_mnist", "test", "full", root=tmp_path / "root", download=False)


# --- missing data ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py")])
def test_missing_data_with_downloads_off_names_dataset_path_and_remedy(tmp_path, name, folder):
    with pytest.raises(DataUnavailableError) as caught:
        load_dataset(name, "test", "full", root=tmp_path, download=False)
    message = str(caught.value)
    assert name in message and str(tmp_path / folder) in message and "Downloading is off" in message
    assert not any(tmp_path.iterdir()), "nothing may be half-written"


def test_offline_environment_variable_turns_downloads_off(tmp_path, monkeypatch):
    monkeypatch.setenv("ADVLIB_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match="Downloading is off"):
        load_dataset("mnist", "test", "full", root=tmp_path)


def test_failed_download_is_reported_with_its_cause(tmp_path, monkeypatch):
    def refuse(self):
        raise URLError("connection refused")

    monkeypatch.setattr(tv_datasets.MNIST, "download", refuse)
    with pytest.raises(DataUnavailableError, match="connection refused") as caught:
        load_dataset("mnist", "test", "full", root=tmp_path, download=True)
    assert str(tmp_path / "MNIST" / "raw") in str(caught.value)


# --- real MNIST (../shared/data, CI only) ------------------------------------------------

MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


def test_mnist_is_gunzipped_from_the_mirror_the_environment_names_after_checksums(tmp_path, monkeypatch):
    """The reference scale's data on an offline machine: gzip copies of the official files in a
    folder (this project's CI: ../shared/data/MNIST/raw, recompressed, so checked by the md5 of
    their content) are gunzipped into the data root; a folder with a corrupt file is not used."""
    source = SHARED_DATA / "MNIST" / "raw"
    if not source.is_dir():
        pytest.skip(f"real MNIST copies not found at {source} (only present in this project's CI)")
    monkeypatch.setenv(tv_sets.MNIST_MIRROR_VAR, str(source))
    test = load_dataset("mnist", "test", "reference", root=tmp_path / "root", download=False)
    assert len(test) == 10000 and test.labels[:3].tolist() == [7, 2, 1]
    assert sorted(p.name for p in (tmp_path / "root" / "MNIST" / "raw").iterdir()) == sorted(MNIST_MD5)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for archive in source.glob("*.gz"):
        (corrupt / archive.name).write_bytes(archive.read_bytes()[:-1])
    monkeypatch.setenv(tv_sets.MNIST_MIRROR_VAR, str(corrupt))
    with pytest.raises(DataUnavailableError):
        load_dataset("mnist", "test", "reference", root=tmp_path / "other", download=False)


def test_real_mnist_loads_at_full_scale(shared_mnist_root, mnist_class):
    for filename, md5 in MNIST_MD5.items():
        assert hashlib.md5((shared_mnist_root / "MNIST" / "raw" / filename).read_bytes()).hexdigest() == md5
    train = load_dataset("mnist", "train", "full", root=shared_mnist_root, download=False)
    test = load_dataset("mnist", "test", "full", root=shared_mnist_root, download=False)
    assert (len(train), len(test)) == (60000, 10000)
    assert test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    # The class-scale digits are real MNIST training images: every one is in the 60k set.
    full_rows = {image.numpy().tobytes() for image in train.images}
    class_train, class_test = mnist_class
    assert all(image.numpy().tobytes() in full_rows for image in torch.cat([class_train.images, class_test.images]))
