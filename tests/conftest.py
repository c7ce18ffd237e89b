"""Shared fixtures: one trained SmallCNN per session (about 20 s on 2 cores, or a load from
the training cache), and no training cache in the tests themselves."""

from __future__ import annotations

import copy
import gzip
import os
import shutil
from pathlib import Path

import matplotlib
import pytest
import torch

matplotlib.use("Agg")

import advlib
from advlib.data import load_dataset
from advlib.models import SmallCNN
from advlib.train import SMALL_CNN_MNIST, train
from advlib.train_cache import CACHE_VARIABLE

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

pytest_plugins = ["nbval_numerics", "pytester"]


@pytest.fixture(scope="session", autouse=True)
def _two_threads() -> None:
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(autouse=True)
def _no_training_cache(monkeypatch) -> None:
    """Every test function trains for real (a test that compares two trainings must not
    compare a run with its cached copy); tests of the cache point it at a folder of their own.
    Session- and module-scoped fixtures are set up before this one, so the models they train
    once per session or file go through the checkout's cache, as the chapters' do: the
    session's SmallCNN below is chapter 1's source model, which nbval's run of chapter 1
    then loads instead of training it again."""
    monkeypatch.setenv(CACHE_VARIABLE, "off")


@pytest.fixture(autouse=True)
def _no_mnist_mirror(monkeypatch) -> None:
    """`make test` inherits the Makefile's ADVLIB_MNIST_MIRROR (the shared MNIST, for reference
    runs); a test sees that mirror only where it sets it, so the tests of missing data find none."""
    monkeypatch.delenv("ADVLIB_MNIST_MIRROR", raising=False)


@pytest.fixture(scope="session")
def mnist_class():
    return load_dataset("mnist", "train", "class"), load_dataset("mnist", "test", "class")


@pytest.fixture(scope="session")
def trained_cnn(mnist_class) -> SmallCNN:
    """SmallCNN trained with the class-scale recipe, seed 0, in eval mode: chapter 1's source
    model, so it goes through the checkout's training cache (pytest sets session fixtures up
    before the function-scoped one that turns the cache off) and nbval's run of chapter 1
    loads it instead of training."""
    advlib.seed_everything(0)
    model = SmallCNN()
    train(model, mnist_class[0], SMALL_CNN_MNIST, progress=False)
    return model.eval()


@pytest.fixture()
def cnn(trained_cnn) -> SmallCNN:
    """A fresh copy per test, so no test can disturb another through the shared model."""
    return copy.deepcopy(trained_cnn)


@pytest.fixture(scope="session")
def cnn64(trained_cnn) -> SmallCNN:
    """The same network in float64: cross-library comparisons then differ only by the
    algorithms, not by float32 rounding that flips the sign of near-zero gradients."""
    return copy.deepcopy(trained_cnn).double().eval()


@pytest.fixture(scope="session")
def test_batch(mnist_class) -> tuple[torch.Tensor, torch.Tensor]:
    """32 correctly and incorrectly classified test digits (the first 32, stratified)."""
    images, labels = mnist_class[1].tensors()
    return images[:32], labels[:32]


@pytest.fixture(scope="session")
def shared_mnist_root(tmp_path_factory) -> Path:
    """A data root holding the real MNIST from ../shared/data, gunzipped into
    torchvision's layout; skipped where ../shared/data is not present (a reader's machine)."""
    source = SHARED_DATA / "MNIST" / "raw"
    if not source.is_dir():
        pytest.skip(f"real MNIST copies not found at {source} (only present in this project's CI)")
    root = tmp_path_factory.mktemp("shared_mnist")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for archive in source.glob("*.gz"):
        with gzip.open(archive) as src, open(raw / archive.name.removesuffix(".gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root
