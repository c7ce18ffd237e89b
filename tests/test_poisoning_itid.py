"""Chapter 4's library: coloured digits and the hue-rotating augmentation, the ITID entropies,
random labels, and the two ways of poisoning a training set."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

import advlib
from advlib.data.colored_digits import (
    HueRotation,
    colour_backgrounds,
    colour_grid,
    coloured_digits,
    hue_palette,
    hue_rotation_matrix,
)
from advlib.data.dataset import ImageDataset
from advlib.evaluate import accuracy, predict
from advlib.generalization.curves import fit_with_error_curve
from advlib.generalization.itid import conditional_entropy, gamma_dependence, nuisance_dependence, random_labels
from advlib.generalization.poisoning import (
    ErrorMinimizingConfig,
    adversarial_poison,
    error_minimizing_noise,
    next_class_targets,
    poisoned_dataset,
)
from advlib.models import MLP, SmallCNN, SoftmaxRegression
from advlib.train import TrainConfig
from advlib.utils import to_8bit_within


@pytest.fixture(scope="module")
def digits(mnist_class) -> ImageDataset:
    return mnist_class[0].subset(200)


# --- coloured digits ---------------------------------------------------------------------


def test_palette_is_evenly_spaced_in_hue_inside_the_cube():
    palette = hue_palette()
    assert palette.shape == (10, 3) and palette.min() >= 0 and palette.max() <= 1
    distances = torch.cdist(palette, palette)
    neighbours = distances.diagonal(offset=1)
    assert torch.allclose(neighbours, neighbours[0].expand_as(neighbours), atol=1e-6)
    assert torch.allclose(palette.mean(0), torch.full((3,), 0.5), atol=1e-6), "centred on mid-grey"


def test_backgrounds_take_the_colour_and_strokes_stay_white():
    ink = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    ink[:, :, 1, 1] = 255
    images = colour_backgrounds(ink, torch.tensor([0, 3]), hue_palette())
    assert images.dtype == torch.uint8 and images.shape == (2, 3, 4, 4)
    assert (images[:, :, 1, 1] == 255).all()
    expected = (hue_palette()[3] * 255).round().to(torch.uint8)
    assert torch.equal(images[1, :, 0, 0], expected)


def test_rho_sets_how_often_a_digit_gets_its_own_colour(digits):
    _, independent = coloured_digits(digits, 0.0, seed=0)
    _, tied = coloured_digits(digits, 1.0, seed=0)
    assert torch.equal(tied, digits.labels)
    own = (independent == digits.labels).float().mean().item()
    assert own < 0.25, "with rho = 0 a digit gets its own colour only by chance (1 in 10)"
    again, colours = coloured_digits(digits, 0.5, seed=3)
    assert torch.equal(colours, coloured_digits(digits, 0.5, seed=3)[1]), "a split is a function of its seed"
    assert torch.equal(again.labels, digits.labels)


def test_grid_crosses_every_digit_with_every_colour(digits):
    small = digits.subset(7)
    grid = colour_grid(small)
    assert len(grid) == 70 and torch.equal(grid.labels.view(10, 7), small.labels.expand(10, 7))
    backgrounds = grid.images.view(10, 7, 3, 28, 28)[:, :, :, 0, 0]  # the corner pixel is background
    assert (backgrounds == backgrounds[:, :1]).all(), "one colour per grid row"


def test_hue_rotation_permutes_the_palette_and_keeps_blends_exact():
    palette = hue_palette()
    rotation = hue_rotation_matrix(2 * math.pi * 3 / 10)
    rotated = (palette - 0.5) @ rotation.T + 0.5
    assert torch.allclose(rotated, palette.roll(-3, dims=0), atol=1e-6)
    white = torch.ones(3)
    assert torch.allclose((white - 0.5) @ rotation.T + 0.5, white, atol=1e-6)
    images = torch.rand(16, 3, 5, 5)
    kept = images.clone()
    out = HueRotation(generator=torch.Generator().manual_seed(0))(images)
    assert torch.equal(images, kept), "the augmentation does not modify its input"
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="RGB"):
        HueRotation(generator=torch.Generator())(torch.rand(2, 1, 5, 5))


def test_coloured_digits_reject_bad_input(digits):
    with pytest.raises(ValueError, match="rho"):
        coloured_digits(digits, 1.5, seed=0)
    with pytest.raises(ValueError, match="uint8"):
        colour_backgrounds(torch.rand(2, 1, 4, 4), torch.tensor([0, 1]), hue_palette())
    with pytest.raises(ValueError, match="colour ids"):
        colour_backgrounds(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 10]), hue_palette())
    with pytest.raises(ValueError, match="count"):
        hue_palette(1)


# --- ITID entropies and random labels ---------------------------------------------------


def test_conditional_entropy_on_known_distributions():
    groups = torch.arange(4).repeat_interleave(8)
    assert conditional_entropy(groups.clone(), groups) == 0.0, "outcome determined by the group"
    uniform = torch.arange(8).repeat(4)
    assert conditional_entropy(uniform, groups) == pytest.approx(3.0), "8 equally likely outcomes: 3 bits"
    half = torch.tensor([0, 1] * 16)
    assert conditional_entropy(half, groups) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one length"):
        conditional_entropy(half, groups[:3])


def test_gamma_and_nuisance_dependence_separate_colour_from_other_variation():
    labels = torch.arange(10).repeat(10)  # 100 images, 10 per class
    colour_follower = torch.arange(10).repeat_interleave(100).view(10, 100)  # predicts the colour index
    digit_reader = labels.expand(10, 100)  # predicts the digit whatever the colour
    assert nuisance_dependence(colour_follower, 10) == pytest.approx(math.log2(10))
    assert nuisance_dependence(digit_reader, 10) == 0.0
    assert gamma_dependence(colour_follower.reshape(-1), labels.repeat(10), 10) == pytest.approx(math.log2(10))
    assert gamma_dependence(digit_reader.reshape(-1), labels.repeat(10), 10) == 0.0


def test_random_labels_replace_the_requested_share(digits):
    assert torch.equal(random_labels(digits, 0.0, seed=0).labels, digits.labels)
    shuffled = random_labels(digits, 1.0, seed=0)
    agreement = (shuffled.labels == digits.labels).float().mean().item()
    assert agreement < 0.25 and torch.equal(shuffled.images, digits.images)
    assert torch.equal(random_labels(digits, 0.5, seed=1).labels, random_labels(digits, 0.5, seed=1).labels)
    with pytest.raises(ValueError, match="fraction"):
        random_labels(digits, -0.1, seed=0)


# --- poisoning ---------------------------------------------------------------------------


def test_to_8bit_within_keeps_a_fractional_budget():
    images = torch.tensor([0.0, 1.0, 100 / 255]).view(1, 1, 1, 3)
    wild = torch.tensor([1.0, 0.0, 0.0]).view(1, 1, 1, 3)
    stored = to_8bit_within(wild, images, 0.3)  # 0.3 is 76.5 colour levels: at most 76
    assert torch.equal((stored * 255).round(), stored * 255), "8-bit colours"
    assert ((stored - images).abs() <= 0.3).all()
    assert torch.allclose(stored.flatten(), torch.tensor([76, 179, 24]) / 255)


def test_adversarial_poison_stays_in_budget_keeps_inputs_and_pulls_to_the_next_class(cnn, test_batch):
    images, labels = test_batch
    kept = images.clone()
    poisoned, targets = adversarial_poison(cnn, images, labels, 0.3, num_classes=10, steps=10, batch_size=16)
    assert torch.equal(images, kept)
    assert torch.equal(targets, next_class_targets(labels, 10))
    assert ((poisoned - images).abs() <= 0.3 + 1e-6).all() and poisoned.min() >= 0 and poisoned.max() <= 1
    assert torch.equal((poisoned * 255).round(), poisoned * 255)
    assert (predict(cnn, poisoned) == targets).float().mean() > 0.5
    assert not any(p.grad is not None for p in cnn.parameters())
    dataset = poisoned_dataset(ImageDataset((images * 255).round().to(torch.uint8), labels, tuple("0123456789"),
                                            "t", "train", "class"), poisoned, name="p")
    assert torch.equal(dataset.labels, labels), "an adversarial poison keeps the true labels"
    chosen = (labels + 3) % 10
    _, given = adversarial_poison(cnn, images[:4], labels[:4], 0.3, num_classes=10, targets=chosen[:4])
    assert torch.equal(given, chosen[:4])


def test_error_minimizing_noise_is_bounded_shared_per_class_and_fits_the_surrogate(digits):
    images, labels = digits.tensors()
    kept = images.clone()
    advlib.seed_everything(0)
    result = error_minimizing_noise(SmallCNN(width=8), images, labels,
                                    ErrorMinimizingConfig(eps=0.3, class_wise=True, max_rounds=3, noise_steps=3),
                                    num_classes=10)
    assert torch.equal(images, kept)
    assert result.noise.shape == (10, 1, 28, 28) and result.rounds == len(result.surrogate_accuracy) <= 3
    assert ((result.images - images).abs() <= 0.3 + 1e-6).all()
    assert result.surrogate_accuracy[-1] > 0.9, "the shortcut is easy to fit"
    advlib.seed_everything(0)
    samplewise = error_minimizing_noise(SmallCNN(width=8), images[:50], labels[:50],
                                        ErrorMinimizingConfig(eps=0.1, max_rounds=1, noise_steps=2), num_classes=10)
    assert samplewise.noise.shape == (50, 1, 28, 28) and samplewise.noise.abs().max() <= 0.1 + 1e-6


@pytest.mark.parametrize(("field", "value"), [("eps", 0.0), ("noise_steps", 0), ("alpha", -1.0),
                                              ("stop_accuracy", 1.5), ("max_rounds", 1.5)])
def test_error_minimizing_config_rejects_bad_values(field, value):
    settings = {"eps": 0.1, field: value}
    with pytest.raises(ValueError, match=field):
        ErrorMinimizingConfig(**settings)


def test_shallow_models_shapes_and_errors():
    assert SoftmaxRegression((3, 32, 32))(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert MLP(hidden=16)(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="input_shape"):
        SoftmaxRegression((28, 28))
    with pytest.raises(ValueError, match="hidden"):
        MLP(hidden=0)


def test_fit_with_error_curve_records_both_errors_per_epoch_and_is_reproducible(digits, mnist_class):
    small = digits
    test_images, test_labels = mnist_class[1].subset(100).tensors()
    config = TrainConfig(epochs=2, lr=1e-3, batch_size=50)

    def build():
        return SoftmaxRegression((1, 28, 28))

    model, curve = fit_with_error_curve(build, small, config, test_images, test_labels, seed=3)
    assert list(curve.index) == [1, 2] and curve.index.name == "epoch"
    assert list(curve.columns) == ["train error", "test error"]
    assert ((curve >= 0) & (curve <= 1)).all().all()
    assert curve["test error"].iloc[-1] == pytest.approx(1 - accuracy(model, test_images, test_labels))
    _, again = fit_with_error_curve(build, small, config, test_images, test_labels, seed=3)
    pd.testing.assert_frame_equal(curve, again)
    with pytest.raises(ValueError, match="test labels"):
        fit_with_error_curve(build, small, config, test_images, test_labels[:-1], seed=3)
