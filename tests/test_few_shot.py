"""Chapter 7's few-shot plumbing: relabelling a class subset, drawing the shots of an episode,
training a student on a handful of images."""

from __future__ import annotations

import pytest
import torch

from advlib.data.dataset import ImageDataset
from advlib.debias import class_subset, draw_shots, train_student


def toy_digits() -> ImageDataset:
    labels = torch.arange(10).repeat(6)  # six images of each digit
    images = (labels.view(-1, 1, 1, 1) * 25).to(torch.uint8).expand(-1, 1, 28, 28).contiguous()
    return ImageDataset(images, labels, tuple(str(d) for d in range(10)), "toy", "train", "class")


def test_class_subset_relabels_by_position_in_the_class_list():
    digits = toy_digits()
    positions = torch.nonzero(torch.isin(digits.labels, torch.tensor([2, 4, 6, 8]))).squeeze(1)
    subset = class_subset(digits, positions, [2, 4, 6, 8])
    assert subset.classes == ("2", "4", "6", "8") and subset.name == "toy_2468" and len(subset) == 24
    torch.testing.assert_close(subset.labels, (digits.labels[positions] // 2 - 1))
    assert torch.equal(subset.images, digits.images[positions])
    with pytest.raises(ValueError, match="outside the classes"):
        class_subset(digits, torch.tensor([0, 2]), [2, 4, 6, 8])


def test_draw_shots_takes_k_per_class_without_replacement_and_by_seed():
    labels = torch.arange(4).repeat(5)
    shots = draw_shots(labels, 3, 4, torch.Generator().manual_seed(0))
    assert torch.bincount(labels[shots]).tolist() == [3, 3, 3, 3] and len(set(shots.tolist())) == 12
    assert torch.equal(shots, draw_shots(labels, 3, 4, torch.Generator().manual_seed(0)))
    assert not torch.equal(shots, draw_shots(labels, 3, 4, torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="need 6 images of every class"):
        draw_shots(labels, 6, 4, torch.Generator())


def test_a_student_learns_separable_classes_from_a_few_shots_and_reproducibly():
    digits = toy_digits()
    positions = torch.nonzero(digits.labels < 4).squeeze(1)
    subset = class_subset(digits, positions, [0, 1, 2, 3])
    images, labels = subset.tensors()
    scores = train_student(images[:8], labels[:8], images, labels, subset.classes, width=4, seed=0)
    assert len(scores) == 4 and all(0 <= score <= 1 for score in scores)
    assert sum(scores) / 4 > 0.5, "four uniform grey levels, two shots each: well above chance (0.25)"
    assert scores == train_student(images[:8], labels[:8], images, labels, subset.classes, width=4, seed=0)
