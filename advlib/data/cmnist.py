"""C-MNIST: handwritten digits on a red or a brown background, the colour a planted bias.

The talk (seed S0) debiases a digit classifier on "C-MNIST", a simulated set whose bias
attribute is the background colour, and shows confusion matrices on two test sets: every
digit on red, every digit on brown. The rest of the construction is not in the seed, so
these choices are the book's own (REPRO_SPEC section 3.3 proposes them):

* colours: red (255, 0, 0) and brown (165, 42, 42), white strokes (``colour_backgrounds``
  blends each pixel as ``ink * white + (1 - ink) * background``);
* the bias: digits 0-4 go with red, 5-9 with brown. With ``bias_ratio = 1`` the training set is
  fully biased (no red 7 exists at all); with ``bias_ratio = 0.99`` one image in a hundred
  has the other colour, which is what re-sampling and re-weighting need to be defined;
* the test sets cross every digit with both colours, so each (digit, colour) group has the
  same images and differs only in colour.

The two colours are 0.35 apart in the red channel and 0.16 in green and blue, so an L-inf
budget of 0.3 can move a red background most of the way to brown; the chapter says so when it
uses such budgets to flip the colour with adversarial examples.
"""

from __future__ import annotations

import torch

from advlib.data.biased import BiasedDataset
from advlib.data.colored_digits import colour_backgrounds
from advlib.data.dataset import ImageDataset

C_MNIST_COLOURS = torch.tensor([[1.0, 0.0, 0.0], [165 / 255, 42 / 255, 42 / 255]])
C_MNIST_BIAS_NAMES = ("red", "brown")


def aligned_colour(labels: torch.Tensor, num_classes: int = 10) -> torch.Tensor:
    """The colour each digit goes with in the biased training set: 0 (red) for the lower half of
    the classes (digits 0-4), 1 (brown) for the upper half (5-9)."""
    return (labels >= num_classes // 2).long()


def render(dataset: ImageDataset, bias: torch.Tensor, name: str) -> BiasedDataset:
    """``dataset``'s grey digits drawn on the colours ``bias`` (0 red, 1 brown)."""
    if dataset.images.shape[1] != 1:
        raise ValueError(f"C-MNIST is drawn from grey digits (N, 1, H, W), got {tuple(dataset.images.shape)}")
    images = colour_backgrounds(dataset.images, bias, C_MNIST_COLOURS)
    data = ImageDataset(images, dataset.labels.clone(), dataset.classes, name, dataset.split, dataset.scale)
    return BiasedDataset(data, bias.clone(), C_MNIST_BIAS_NAMES)


def biased_colour_mnist(dataset: ImageDataset, bias_ratio: float, *, seed: int) -> BiasedDataset:
    """The biased training set: each digit on its aligned colour with probability ``bias_ratio``,
    otherwise on the other one. ``bias_ratio=1`` is the fully biased set."""
    if not isinstance(bias_ratio, (int, float)) or not 0.5 <= bias_ratio <= 1:
        raise ValueError(f"bias_ratio must be in [0.5, 1] (0.5: no bias, 1: fully biased), got {bias_ratio!r}")
    aligned = aligned_colour(dataset.labels, len(dataset.classes))
    conflicting = torch.rand(len(dataset), generator=torch.Generator().manual_seed(seed)) >= bias_ratio
    bias = torch.where(conflicting, 1 - aligned, aligned)
    return render(dataset, bias, f"c_mnist_{dataset.name}_bias{bias_ratio:g}")


def crossed_test_sets(dataset: ImageDataset) -> dict[str, BiasedDataset]:
    """Every digit of ``dataset`` on red and, separately, on brown: the talk's two test sets."""
    return {name: render(dataset, torch.full((len(dataset),), value, dtype=torch.long),
                         f"c_mnist_{dataset.name}_{name}")
            for value, name in enumerate(C_MNIST_BIAS_NAMES)}


def recoloured(dataset: ImageDataset, biased: BiasedDataset) -> BiasedDataset:
    """The oracle colour swap: every digit of ``biased`` redrawn on the other colour from its grey
    original ``dataset`` (the same images in the same order). A stand-in for a perfect
    CycleGAN that changes the background and nothing else."""
    if len(dataset) != len(biased) or not torch.equal(dataset.labels, biased.labels):
        raise ValueError("recoloured needs the grey digits the biased set was drawn from, in the same order")
    return render(dataset, 1 - biased.bias, f"{biased.data.name}_recoloured")


def colour_position(images: torch.Tensor, digits: ImageDataset) -> torch.Tensor:
    """Where each image's background lies on the line from red (0) to brown (1): the mean over
    background pixels (no ink in the grey original ``digits``) of the projection of the pixel's
    colour onto brown - red. An oracle colour meter, independent of any trained model: it tells
    whether a bias-flipping perturbation changed the colour or only what a classifier reads."""
    if images.dim() != 4 or images.shape[1] != 3 or images.shape[0] != len(digits):
        raise ValueError(f"need RGB images (N, 3, H, W) for the {len(digits)} digits, got {tuple(images.shape)}")
    red, brown = C_MNIST_COLOURS.to(images.device)
    axis = brown - red
    along = torch.einsum("nchw,c->nhw", images - red.view(1, 3, 1, 1), axis) / axis.dot(axis)
    background = (digits.images[:, 0] == 0).to(images.device)
    return (along * background).flatten(1).sum(1) / background.flatten(1).sum(1).clamp_min(1)
