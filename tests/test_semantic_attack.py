"""The semantic image attack: attribute transforms (identity, direction of each attribute),
the attack guarantees (no input mutation, bounds, restored model), clear errors, and that
the attributes add strength over the same pixel budget."""

from __future__ import annotations

import pytest
import torch

from advlib.attacks import pgd
from advlib.attacks.semantic import (
    ATTRIBUTES,
    SemanticAttack,
    apply_attributes,
    attribute_values,
    default_attributes,
    semantic_attack,
)


def _square(size: int = 28, side: int = 8) -> torch.Tensor:
    """One white square in the centre of a black grey-level image, shape (1, 1, size, size)."""
    image = torch.zeros(1, 1, size, size)
    start = (size - side) // 2
    image[..., start : start + side, start : start + side] = 1.0
    return image


def _one(name: str, value: float) -> tuple[torch.Tensor, tuple[str, ...]]:
    """One image's coordinates with a single attribute set to ``value``."""
    return torch.tensor([[value]]), (name,)


def test_default_attributes_leave_out_colour_for_grey_images():
    assert default_attributes(3) == tuple(ATTRIBUTES)
    assert "hue" not in default_attributes(1) and "saturation" not in default_attributes(1)
    assert "rotation" in default_attributes(1)


def test_zero_coordinates_are_the_identity():
    torch.manual_seed(0)
    photos = torch.rand(3, 3, 32, 32)
    names = default_attributes(3)
    torch.testing.assert_close(apply_attributes(photos, torch.zeros(3, len(names)), names), photos,
                               atol=1e-5, rtol=0)
    digits = _square().repeat(2, 1, 1, 1)
    grey = default_attributes(1)
    torch.testing.assert_close(apply_attributes(digits, torch.zeros(2, len(grey)), grey), digits, atol=1e-5, rtol=0)


def test_values_map_the_unit_interval_onto_each_attributes_range():
    names = ("brightness", "contrast", "rotation", "scale")
    values = attribute_values(torch.tensor([[-1.0, -1.0, 1.0, 1.0]]), names)
    torch.testing.assert_close(values, torch.tensor([[-0.3, 0.7, 15.0, 1.1]]))


def test_each_attribute_moves_the_image_the_way_its_name_says():
    torch.manual_seed(0)
    photo = torch.rand(1, 3, 32, 32) * 0.5 + 0.1  # no clipping under the changes below
    brighter = apply_attributes(photo, *_one("brightness", 1.0))
    assert brighter.mean().item() == pytest.approx(photo.mean().item() + 0.3, abs=1e-4)
    sharper = apply_attributes(photo, *_one("contrast", 1.0))
    assert sharper.std().item() == pytest.approx(photo.std().item() * 1.3, rel=1e-4)
    grey_photo = photo.mean(1, keepdim=True).expand(1, 3, 32, 32)
    assert (apply_attributes(photo, *_one("saturation", -1.0)) - grey_photo).abs().mean() < \
        (photo - grey_photo).abs().mean()
    assert not torch.allclose(apply_attributes(photo, *_one("hue", 1.0)), photo, atol=0.01)

    square = _square(28, 8)  # columns 10..17
    moved = apply_attributes(square, *_one("shift_x", 1.0))  # 0.1 * 28 = 2.8 px to the right
    columns = moved[0, 0].sum(0)
    centre = (columns * torch.arange(28.0)).sum() / columns.sum()
    assert centre.item() == pytest.approx(13.5 + 2.8, abs=0.1)
    rows = apply_attributes(square, *_one("shift_y", -1.0))[0, 0].sum(1)
    assert ((rows * torch.arange(28.0)).sum() / rows.sum()).item() == pytest.approx(13.5 - 2.8, abs=0.1)
    assert apply_attributes(square, *_one("scale", 1.0)).sum().item() == pytest.approx(64 * 1.1**2, rel=0.03)
    rotated = apply_attributes(square, *_one("rotation", 1.0))
    assert rotated.sum().item() == pytest.approx(64, rel=0.03), "a rotation keeps the square's area"
    assert not torch.allclose(rotated, square, atol=0.1)


def test_attack_keeps_its_guarantees(cnn, test_batch):
    images, labels = test_batch[0][:32], test_batch[1][:32]
    before = images.clone()
    flags = [p.requires_grad for p in cnn.parameters()]
    cnn.train()
    result = semantic_attack(cnn, images, labels, eps=0.05, alpha=0.01, steps=5)
    assert torch.equal(images, before), "the input is not modified"
    assert cnn.training and [p.requires_grad for p in cnn.parameters()] == flags
    assert all(p.grad is None for p in cnn.parameters())
    assert result.images.min() >= 0 and result.images.max() <= 1
    assert (result.images - result.transformed).abs().max() <= 0.05 + 1e-6
    assert result.normalised.abs().max() <= 1 and result.names == default_attributes(1)
    assert result.values.shape == (32, len(result.names))
    furthest = result.furthest()
    assert furthest.shape == (32, len(result.names)) and furthest.any(dim=1).all()
    with torch.no_grad():
        assert torch.equal(result.success, cnn.eval()(result.images).argmax(1) != labels)
    purely_semantic = semantic_attack(cnn, images, labels, eps=0.0, steps=3, attributes=["rotation", "scale"])
    assert torch.equal(purely_semantic.images, purely_semantic.transformed)
    assert purely_semantic.normalised.shape == (32, 2)


def test_the_attributes_add_strength_over_the_same_pixel_budget(cnn, mnist_class):
    """At eps = 0.1, where PGD alone leaves most digits read right (chapter 1), the joint
    attack with the same pixel budget fools clearly more of them."""
    images, labels = mnist_class[1].tensors()
    images, labels = images[:200], labels[:200]
    adversarial = pgd(cnn, images, labels, 0.1, alpha=0.01, steps=10, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        pgd_success = (cnn(adversarial).argmax(1) != labels).float().mean().item()
    joint = semantic_attack(cnn, images, labels, eps=0.1, alpha=0.01, steps=10).success.float().mean().item()
    assert joint > pgd_success + 0.1, (joint, pgd_success)


def test_random_start_makes_copies_of_one_image_different_and_keeps_the_budget(cnn, test_batch):
    """Augmenting a rare class needs many different examples from few images: from the identity
    every copy would end in the same place, from random starts they do not."""
    copies = test_batch[0][:1].repeat(6, 1, 1, 1)
    labels = test_batch[1][:1].repeat(6)
    fixed = semantic_attack(cnn, copies, labels, eps=0.0, steps=3)
    assert torch.equal(fixed.transformed[0], fixed.transformed[5]), "from the identity the copies coincide"
    draws = torch.Generator().manual_seed(0)
    spread = semantic_attack(cnn, copies, labels, eps=0.05, alpha=0.01, steps=3, random_start=True, generator=draws)
    assert len({tuple(row.tolist()) for row in spread.normalised}) == 6
    assert spread.normalised.abs().max() <= 1
    assert (spread.images - spread.transformed).abs().max() <= 0.05 + 1e-6
    again = semantic_attack(cnn, copies, labels, eps=0.05, alpha=0.01, steps=3, random_start=True,
                            generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.images, spread.images), "the generator fixes the starts"
    with pytest.raises(ValueError, match="only used with random_start"):
        semantic_attack(cnn, copies, labels, generator=draws)


def test_the_pixel_perturbation_moves_with_the_warp():
    """A shift of whole pixels moves the scene and the perturbation on it together: the
    result is the shifted (perturbed) image, not a fixed pattern over a moved scene."""
    from advlib.attacks.semantic import _render

    torch.manual_seed(0)
    image = torch.rand(1, 1, 20, 20) * 0.5 + 0.25
    delta = (torch.rand(1, 1, 20, 20) - 0.5) * 0.1
    two_pixels = torch.tensor([[2 / 20 / ATTRIBUTES["shift_x"].radius]])  # shift_x in units of its radius
    moved = _render(image, two_pixels, ("shift_x",), "zeros", delta)
    torch.testing.assert_close(moved[..., 2:], (image + delta)[..., :-2], atol=1e-5, rtol=0)
    assert (moved - _render(image, two_pixels, ("shift_x",), "zeros")).abs().max() <= 0.05 + 1e-6


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(attributes=["hue"]), ValueError, "need RGB"),
        (dict(attributes=["colour"]), ValueError, "unknown attributes"),
        (dict(attributes=[]), ValueError, "at least one"),
        (dict(attributes="rotation"), TypeError, "sequence of names"),
        (dict(attributes=["scale", "scale"]), ValueError, "distinct"),
        (dict(eps=-0.1), ValueError, "eps"),
        (dict(attribute_step=3.0), ValueError, "attribute_step"),
        (dict(steps=0), ValueError, "steps"),
        (dict(padding="wrap"), ValueError, "padding"),
    ],
)
def test_bad_arguments_are_clear_errors(cnn, kwargs, error, match):
    with pytest.raises(error, match=match):
        semantic_attack(cnn, torch.rand(2, 1, 28, 28), torch.tensor([1, 2]), **kwargs)


def test_bad_coordinates_and_labels_are_clear_errors(cnn):
    with pytest.raises(ValueError, match="shape"):
        apply_attributes(torch.rand(2, 1, 8, 8), torch.zeros(2, 3), ("rotation",))
    with pytest.raises(ValueError, match="labels"):
        semantic_attack(cnn, torch.rand(2, 1, 28, 28), torch.tensor([1, 2, 3]))


def test_batches_give_the_same_outcome_as_one_pass(cnn, test_batch):
    images, labels = test_batch[0][:10], test_batch[1][:10]
    whole = semantic_attack(cnn, images, labels, eps=0.05, alpha=0.01, steps=3)
    batched = semantic_attack(cnn, images, labels, eps=0.05, alpha=0.01, steps=3, batch_size=4)
    torch.testing.assert_close(batched.images, whole.images, atol=1e-5, rtol=0)
    assert torch.equal(batched.success, whole.success) and batched.names == whole.names
    with pytest.raises(ValueError, match="batch_size"):
        semantic_attack(cnn, images, labels, batch_size=0)
    with pytest.raises(ValueError, match="nothing"):
        SemanticAttack.concatenate([])


def test_furthest_marks_every_attribute_tied_at_the_largest_move():
    """Ties at the edge of the range are common (fixed steps, clipped to 1): each tied
    attribute is marked, so a histogram does not hand them all to the first in the list."""
    normalised = torch.tensor([[1.0, -1.0, 0.4], [0.2, -0.6, 0.6], [0.0, 0.0, 0.0], [0.3, 0.9, -0.1]])
    outcome = SemanticAttack(torch.zeros(4, 1, 2, 2), torch.zeros(4, 1, 2, 2), normalised, ("a", "b", "c"),
                             torch.ones(4, dtype=torch.bool))
    expected = torch.tensor([[True, True, False], [False, True, True], [True, True, True], [False, True, False]])
    assert torch.equal(outcome.furthest(), expected)
    assert torch.equal(outcome.furthest(tolerance=0.5)[3], torch.tensor([False, True, False]))
    assert torch.equal(outcome.furthest(tolerance=0.7)[3], torch.tensor([True, True, False]))
    with pytest.raises(ValueError, match="tolerance"):
        outcome.furthest(tolerance=-1.0)
