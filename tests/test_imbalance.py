"""The imbalanced-data helpers of chapter 9: down-sampling one class, appending augmented
images of it, and its recall."""

from __future__ import annotations

import pytest
import torch

from advlib.data.dataset import ImageDataset
from advlib.data.imbalance import class_recall, downsample_class, with_extra_images


def _toy(per_class: int = 20) -> ImageDataset:
    labels = torch.arange(3).repeat_interleave(per_class)
    images = torch.arange(len(labels), dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()
    return ImageDataset(images, labels, ("a", "b", "c"), "toy", "train", "class")


def test_downsampling_keeps_a_share_of_one_class_and_every_other_image():
    data = _toy()
    rare = downsample_class(data, 1, 0.1, torch.Generator().manual_seed(0))
    assert (rare.labels == 1).sum() == 2 and (rare.labels == 0).sum() == 20 and (rare.labels == 2).sum() == 20
    assert rare.labels[-2:].tolist() == [1, 1], "the kept rare images come last"
    kept = set(rare.images[-2:, 0, 0, 0].tolist())
    assert kept <= set(range(20, 40)), "the rare images are real members of the class"
    again = downsample_class(data, 1, 0.1, torch.Generator().manual_seed(0))
    assert torch.equal(again.images, rare.images)
    assert (downsample_class(data, 1, 0.001, torch.Generator()).labels == 1).sum() == 1, "never none"
    with pytest.raises(ValueError, match="share"):
        downsample_class(data, 1, 0.0, torch.Generator())
    with pytest.raises(ValueError, match="no images"):
        downsample_class(data, 7, 0.5, torch.Generator())


def test_extra_images_are_appended_with_their_label_and_rounded_to_8_bits():
    data = _toy(2)
    extra = torch.full((3, 1, 2, 2), 0.5)
    grown = with_extra_images(data, extra, 2)
    assert len(grown) == 9 and grown.labels[-3:].tolist() == [2, 2, 2]
    assert grown.images[-1, 0, 0, 0] == 128 and torch.equal(grown.images[:6], data.images)
    with pytest.raises(ValueError, match="shape"):
        with_extra_images(data, torch.zeros(1, 3, 2, 2), 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        with_extra_images(data, torch.full((1, 1, 2, 2), 2.0), 0)


def test_class_recall_counts_only_that_class():
    predicted, labels = torch.tensor([0, 1, 1, 2, 0]), torch.tensor([0, 1, 0, 2, 0])
    assert class_recall(predicted, labels, 0) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no test image"):
        class_recall(predicted, labels, 5)
