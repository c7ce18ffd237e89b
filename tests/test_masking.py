"""Chapter 2's gradient-masking defences: 2-bit quantisation and a random shift."""

from __future__ import annotations

import pytest
import torch

from advlib.robustness import RandomShift, quantise
from advlib.robustness.masking import roll_each


def test_quantise_keeps_four_grey_levels_and_has_no_gradient():
    images = torch.rand(4, 1, 8, 8, requires_grad=True)
    quantised = quantise(images)
    levels = torch.tensor([0.0, 1 / 3, 2 / 3, 1.0])
    assert torch.isclose(quantised.detach()[..., None], levels).any(-1).all()
    assert (quantised - images).abs().max() <= 1 / 6 + 1e-6, "each pixel goes to its nearest level"
    quantised.sum().backward()
    assert images.grad.abs().max() == 0, "round has zero gradient: plain PGD has nothing to follow"
    assert quantise(torch.tensor([0.26, 0.74]), levels=2).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="levels"):
        quantise(images, levels=1)


def test_random_shift_rolls_each_image_within_its_range_and_reproducibly():
    images = torch.rand(16, 3, 9, 9)
    shifted = RandomShift(2, torch.Generator().manual_seed(0))(images)
    for image, moved in zip(images, shifted, strict=True):
        rolls = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(torch.roll(image, (dy, dx), dims=(1, 2)), moved)]
        assert rolls, "every output is the input rolled by at most 2 pixels each way"
    again = RandomShift(2, torch.Generator().manual_seed(0))(images)
    assert torch.equal(shifted, again), "the same generator seed gives the same shifts"
    shift = RandomShift(2, torch.Generator().manual_seed(0))
    assert not torch.equal(shift(images), shift(images)), "each call draws fresh shifts"
    assert torch.equal(RandomShift(0)(images), images)
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(-1)
    with pytest.raises(ValueError, match="batch"):
        RandomShift(2)(images[0])


@pytest.mark.parametrize("shape", [(7, 1, 28, 28), (5, 3, 6, 16), (3, 2, 5, 4)])
def test_roll_each_equals_one_torch_roll_per_image_in_values_and_gradients(shape):
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(shape, generator=generator, requires_grad=True)
    shifts = torch.randint(-6, 7, (shape[0], 2), generator=generator)  # beyond the image: wraps
    expected = torch.stack([torch.roll(image, shift, dims=(1, 2)) for image, shift in zip(images, shifts.tolist(),
                                                                                           strict=True)])
    rolled = roll_each(images, shifts)
    assert torch.equal(rolled, expected)
    weights = torch.randn(shape, generator=generator)
    (want,) = torch.autograd.grad((expected * weights).sum(), images)
    (got,) = torch.autograd.grad((rolled * weights).sum(), images)
    assert torch.equal(got, want)
