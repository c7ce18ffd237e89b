"""Perception transforms (frequency split, patch-shuffle, saturation, noise) and the
generated shape x texture dataset."""

from __future__ import annotations

import math

import pytest
import torch

from advlib.data.shapes_textures import SHAPES, TEXTURES, render, shapes_textures
from advlib.perception import transforms as T


@pytest.fixture()
def images() -> torch.Tensor:
    return torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("radius", [0, 4, 8, 12, 16, 40])
def test_low_and_high_frequency_parts_add_back_to_the_image(images, radius):
    low, high = T.frequency_split(images, radius)
    torch.testing.assert_close(low + high, images, atol=1e-5, rtol=0)


def test_frequency_split_extremes_and_the_dc_component(images):
    low, high = T.frequency_split(images, 0)  # an empty mask keeps nothing
    assert low.abs().max() < 1e-6
    low, _ = T.frequency_split(images, 100)  # a mask covering the spectrum keeps everything
    torch.testing.assert_close(low, images, atol=1e-5, rtol=0)
    _, high = T.frequency_split(images, 4)  # the mean (zero frequency) is in the low part
    assert high.mean(dim=(-2, -1)).abs().max() < 1e-5
    constant = torch.full((1, 1, 32, 32), 0.3)
    torch.testing.assert_close(T.low_pass(constant, 1), constant, atol=1e-6, rtol=0)


def test_a_fine_pattern_lands_in_the_high_part_and_a_coarse_one_in_the_low_part():
    rows = torch.arange(32.0).view(1, 1, 32, 1).expand(1, 1, 32, 32)
    fine = 0.5 + 0.25 * torch.cos(2 * math.pi * rows / 2.0)  # period 2: frequency 16
    coarse = 0.5 + 0.25 * torch.cos(2 * math.pi * rows / 32.0)  # period 32: frequency 1
    assert T.high_pass(fine, 8).std() > 0.2 and T.high_pass(coarse, 8).abs().max() < 1e-5


def test_frequency_split_rejects_bad_input(images):
    with pytest.raises(ValueError, match="radius"):
        T.frequency_split(images, -1)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        T.frequency_split(images[0], 4)


def test_patch_shuffle_with_one_tile_is_the_identity(images):
    torch.testing.assert_close(T.patch_shuffle(images, 1), images, atol=0, rtol=0)


@pytest.mark.parametrize("grid", [2, 4, 8])
def test_patch_shuffle_permutes_whole_tiles(images, grid):
    shuffled = T.patch_shuffle(images, grid, torch.Generator().manual_seed(1))
    size = 32 // grid

    def tiles(batch: torch.Tensor) -> torch.Tensor:
        return batch.unfold(2, size, size).unfold(3, size, size).reshape(5, 3, grid * grid, size, size)

    before, after = tiles(images), tiles(shuffled)
    for n in range(5):  # every tile of the output is a tile of the input, each used once
        matches = [[torch.equal(after[n, :, i], before[n, :, j]) for j in range(grid * grid)]
                   for i in range(grid * grid)]
        assert all(sum(row) == 1 for row in matches) and all(sum(col) == 1 for col in zip(*matches, strict=True))
    assert not torch.equal(shuffled, images)


def test_patch_shuffle_is_reproducible_and_checks_divisibility(images):
    first = T.patch_shuffle(images, 4, torch.Generator().manual_seed(3))
    again = T.patch_shuffle(images, 4, torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    with pytest.raises(ValueError, match="not divisible"):
        T.patch_shuffle(images, 3)
    with pytest.raises(ValueError, match="grid"):
        T.patch_shuffle(images, 0)


def test_saturation_power_two_is_identity_and_infinity_binarises(images):
    torch.testing.assert_close(T.saturate(images, 2), images, atol=1e-6, rtol=0)
    binary = T.saturate(images, math.inf)
    assert set(binary.unique().tolist()) <= {0.0, 0.5, 1.0}
    stronger = T.saturate(images, 64)  # pixels move away from 0.5, never across it
    assert ((stronger - 0.5).abs() >= (images - 0.5).abs() - 1e-6).all()
    assert (torch.sign(stronger - 0.5) == torch.sign(images - 0.5)).all()
    with pytest.raises(ValueError, match="power"):
        T.saturate(images, 0)


@pytest.mark.parametrize("noise", [T.gaussian_noise, T.uniform_noise])
def test_noise_is_reproducible_clipped_and_zero_at_level_zero(images, noise):
    assert torch.equal(noise(images, 0.0), images)
    first = noise(images, 0.3, torch.Generator().manual_seed(0))
    assert torch.equal(first, noise(images, 0.3, torch.Generator().manual_seed(0)))
    assert first.min() >= 0 and first.max() <= 1 and not torch.equal(first, images)
    with pytest.raises(ValueError):
        noise(images, -0.1)


def test_transforms_do_not_modify_their_input(images):
    original = images.clone()
    T.frequency_split(images, 8), T.patch_shuffle(images, 4), T.saturate(images, 8), T.gaussian_noise(images, 0.1)
    assert torch.equal(images, original)


def test_shapes_textures_modes_set_the_texture_labels():
    matched, matched_textures = shapes_textures(40, "matched", seed=0)
    assert torch.equal(matched.labels, matched_textures)
    assert torch.bincount(matched.labels).tolist() == [10] * 4
    conflict, conflict_textures = shapes_textures(400, "conflict", seed=0)
    assert (conflict.labels != conflict_textures).all()
    _, random_textures = shapes_textures(400, "random", seed=0)
    assert set(random_textures.tolist()) == set(range(len(TEXTURES)))
    assert matched.images.shape == (40, 3, 32, 32) and matched.images.dtype == torch.uint8
    assert matched.classes == SHAPES


def test_shapes_textures_is_a_pure_function_of_its_seed():
    first, _ = shapes_textures(16, "random", seed=7)
    again, _ = shapes_textures(16, "random", seed=7)
    other, _ = shapes_textures(16, "random", seed=8)
    assert torch.equal(first.images, again.images) and not torch.equal(first.images, other.images)


def test_the_shape_is_the_high_contrast_region_and_the_texture_only_modulates_it():
    generator = torch.Generator().manual_seed(0)
    flat = render(torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1, 2, 3]), generator=generator, texture_amplitude=0.0)
    for image in flat.float() / 255:  # without texture: exactly two colours, background and shape
        assert image.flatten(1).unique(dim=1).shape[1] == 2


def test_render_rejects_bad_ids_and_modes():
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="shape ids"):
        render(torch.tensor([4]), torch.tensor([0]), generator=generator)
    with pytest.raises(ValueError, match="mode"):
        shapes_textures(10, "stylised", seed=0)
