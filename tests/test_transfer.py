"""The transfer table: what it counts, its seeds, its formatting and its errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advlib.attacks import ifgsm
from advlib.evaluate import accuracy
from advlib.transfer import transfer_table


class Constant(nn.Module):
    """Always answers ``answer``: a target whose errors are known in advance."""

    def __init__(self, answer: int) -> None:
        super().__init__()
        self.answer = answer

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(images.shape[0], 10)
        logits[:, self.answer] = 1.0
        return logits


def _unchanged(model, images, labels, generator):
    return images


def _noise(model, images, labels, generator):
    return (images + 0.6 * torch.rand(images.shape, generator=generator)).clamp(0, 1)


def test_the_table_counts_each_targets_misreadings(cnn, test_batch):
    images, labels = test_batch
    table = transfer_table(_unchanged, {"identity": cnn}, {"cnn": cnn, "sevens": Constant(7)}, images, labels,
                           batch_size=5)
    assert table.success.shape == (1, 1, 2)
    assert table.mean().loc["identity", "cnn"] == pytest.approx(1 - accuracy(cnn, images, labels))
    assert table.mean().loc["identity", "sevens"] == pytest.approx((labels != 7).float().mean().item())
    assert (table.std() == 0).all().all() and table.formatted().loc["identity", "sevens"].count("±") == 0


def test_white_box_on_the_diagonal_and_transfer_off_it(cnn, test_batch):
    images, labels = test_batch
    def craft(model, x, y, generator):
        return ifgsm(model, x, y, 0.3, alpha=0.05, steps=10)

    table = transfer_table(craft, {"cnn": cnn}, {"cnn": cnn, "sevens": Constant(7)}, images, labels)
    assert table.mean().loc["cnn", "cnn"] > 0.95
    assert table.mean().loc["cnn", "sevens"] == pytest.approx((labels != 7).float().mean().item())


def test_seeds_restart_the_generator_so_tables_reproduce(cnn, test_batch):
    images, labels = test_batch
    first = transfer_table(_noise, {"noise": cnn}, {"cnn": cnn}, images, labels, seeds=(0, 1, 2))
    again = transfer_table(_noise, {"noise": cnn}, {"cnn": cnn}, images, labels, seeds=(0, 1, 2))
    assert torch.equal(first.success, again.success)
    assert first.std().loc["noise", "cnn"] > 0, "different seeds draw different noise"
    assert " ± " in first.formatted().loc["noise", "cnn"]


def test_per_image_outcomes_are_kept_for_paired_intervals(cnn, test_batch):
    """The rates are the means of the kept outcomes, and ``outcomes`` averages a source's row
    over the chosen targets (default: all but the source) per seed and image."""
    images, labels = test_batch
    table = transfer_table(_noise, {"noise": cnn}, {"cnn": cnn, "sevens": Constant(7)}, images, labels,
                           seeds=(0, 1))
    assert table.fooled.shape == (2, 1, 2, len(labels)) and table.fooled.dtype == torch.bool
    assert torch.equal(table.success, table.fooled.float().mean(-1))
    sevens_wrong = (labels != 7).float()
    assert torch.equal(table.outcomes("noise", ["sevens"]), sevens_wrong.expand(2, -1))
    both = table.outcomes("noise")
    assert both.shape == (2, len(labels))
    assert torch.equal(both, (table.fooled[:, 0, 0].float() + sevens_wrong) / 2)
    with pytest.raises(KeyError, match="no source"):
        table.outcomes("cnn")
    with pytest.raises(ValueError, match="targets"):
        table.outcomes("noise", ["resnet"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sources={}), "at least one source"),
        (dict(seeds=()), "seeds"),
        (dict(seeds=(1, 1)), "seeds"),
        (dict(batch_size=0), "batch_size"),
        (dict(labels=torch.zeros(3, dtype=torch.long)), "labels"),
    ],
)
def test_bad_arguments_are_clear_errors(cnn, kwargs, match):
    arguments = dict(craft=_unchanged, sources={"a": cnn}, targets={"b": cnn}, images=torch.rand(4, 1, 28, 28),
                     labels=torch.zeros(4, dtype=torch.long)) | kwargs
    with pytest.raises(ValueError, match=match):
        transfer_table(**arguments)
