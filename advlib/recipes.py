"""Per-scale experiment settings shared by the chapters: which data, which network, how it
is trained and which budgets are attacked.

One place decides that "class" means MNIST with the SmallCNN and L-inf budgets up to 0.3,
"reference" the same on all 70,000 MNIST digits, and "full" means CIFAR-10 with a ResNet-18
and budgets up to 8/255, so chapters do not repeat (and drift apart on) those choices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from advlib.data import ImageDataset, load_dataset
from advlib.models import CIFAR10_MEAN, CIFAR10_STD, Normalized, ResNet18, SmallCNN
from advlib.train import SMALL_CNN_MNIST, TrainConfig, train
from advlib.utils import seed_everything


@dataclass(frozen=True)
class Recipe:
    dataset: str
    data_scale: str
    build: Callable[[], nn.Module]
    training: TrainConfig
    linf_budgets: tuple[float, ...]  # ascending; the last is the headline budget
    l2_budget: float
    budget_names: tuple[str, ...]  # how the book writes each L-inf budget

    @property
    def max_eps(self) -> float:
        return self.linf_budgets[-1]


def _cifar_resnet() -> nn.Module:
    return Normalized(ResNet18(), CIFAR10_MEAN, CIFAR10_STD)


RECIPES = {
    "smoke": Recipe("mnist", "smoke", SmallCNN, dataclasses.replace(SMALL_CNN_MNIST, epochs=1),
                    (0.1, 0.3), 2.0, ("0.1", "0.3")),
    "class": Recipe("mnist", "class", SmallCNN, SMALL_CNN_MNIST, (0.1, 0.2, 0.3), 2.0, ("0.1", "0.2", "0.3")),
    # The class recipe on all of MNIST (60,000 / 10,000 digits), still on a CPU.
    "reference": Recipe("mnist", "reference", SmallCNN, SMALL_CNN_MNIST, (0.1, 0.2, 0.3), 2.0, ("0.1", "0.2", "0.3")),
    # Fast-AT-style schedule (Wong et al. 2020): SGD, cyclic lr up to 0.2, weight decay 5e-4.
    "full": Recipe("cifar10", "full", _cifar_resnet,
                   TrainConfig(epochs=30, lr=0.2, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                               schedule="cyclic", batch_size=128),
                   (2 / 255, 4 / 255, 8 / 255), 0.5, ("2/255", "4/255", "8/255")),
}


def recipe(scale: str) -> Recipe:
    if scale not in RECIPES:
        raise ValueError(f"scale must be one of {sorted(RECIPES)}, got {scale!r}")
    return RECIPES[scale]


def datasets(scale: str) -> tuple[ImageDataset, ImageDataset]:
    """The (train, test) sets of the scale's recipe."""
    chosen = recipe(scale)
    return (
        load_dataset(chosen.dataset, "train", chosen.data_scale),
        load_dataset(chosen.dataset, "test", chosen.data_scale),
    )


def trained_classifier(
    scale: str,
    train_set: ImageDataset,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    epochs: int = 0,
    progress: bool = True,
    **overrides,
) -> nn.Module:
    """Build the scale's network with ``seed`` and train it with the scale's recipe.

    ``epochs=0`` keeps the recipe's number of epochs; ``overrides`` change other fields of
    the training configuration (e.g. ``method="pgd", eps=0.3`` for adversarial training).
    """
    chosen = recipe(scale)
    config = dataclasses.replace(chosen.training, seed=seed, **overrides)
    if epochs:
        config = dataclasses.replace(config, epochs=epochs)
    seed_everything(seed)
    model = chosen.build().to(device)
    train(model, train_set, config, device=device, progress=progress)
    return model.eval()
