"""Training-set attacks: bounded noise on every training image that leaves training easy and
makes the trained model fail on clean test data.

The talk (seed S0) writes the goal as a bilevel problem,
``max_{||r_i|| <= eps} L_test(argmin_h (1/n) sum_i loss(h(x_i + r_i), y_i))``: the attacker
changes the training set, not a test input, and the inner minimisation searches the whole
hypothesis space, not one fixed model. Solving it exactly is out of reach; two practical
approximations are implemented here:

* :func:`adversarial_poison` (Fowl et al., "Adversarial Examples Make Strong Poisons",
  NeurIPS 2021): targeted adversarial examples of a clean model, towards another class,
  with the *true* labels kept. A model trained on them learns the non-robust features of
  the other class as evidence for the label.
* :func:`error_minimizing_noise` (Huang et al., "Unlearnable Examples", ICLR 2021): noise
  that *minimises* the training loss of a model trained alongside it, sample-wise or one
  pattern per class, so the training set offers a shortcut that is useless at test time.

Both return 8-bit images inside the L-inf ball (a poisoned set is stored as image files).
Neither function modifies its inputs; the surrogate model of the error-minimising noise is
trained in place, as the method prescribes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from advlib.attacks import _checks, pgd
from advlib.data.dataset import ImageDataset
from advlib.evaluate import accuracy, attack_in_batches
from advlib.utils import frozen_eval, to_8bit_within, to_uint8


def next_class_targets(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """The fixed permutation ``y -> (y + 1) mod C``: every class is pushed to the next one."""
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    return (labels + 1) % num_classes


def adversarial_poison(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps: float, *,
                       num_classes: int, targets: torch.Tensor | None = None, steps: int = 10,
                       alpha: float | None = None, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Targeted PGD (from the clean image, no random start) towards ``targets`` (default: the
    next class), rounded to 8 bits inside the ``eps`` ball. Returns ``(poisoned images, targets)``.

    Keep ``labels`` for the poisoned set (Fowl et al.'s poison), or relabel to ``targets``
    (Ilyas et al.'s "non-robust features" set, the same images under the other labels).
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    if targets is None:
        targets = next_class_targets(labels, num_classes)
    else:
        targets = _checks.check_labels(targets, images, "targets")

    def poison(model: nn.Module, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        adversarial = pgd(model, x, t, eps, alpha=alpha, steps=steps, random_start=False, targeted=True)
        return to_8bit_within(adversarial, x, eps)

    return attack_in_batches(model, images, targets, poison, batch_size), targets


@dataclass(frozen=True)
class ErrorMinimizingConfig:
    """Settings of :func:`error_minimizing_noise` (Huang et al.'s defaults in brackets).

    Rounds alternate ``train_steps`` mini-batch updates of the surrogate model on the
    poisoned data [10] with ``noise_steps`` signed-gradient steps of size ``alpha`` that
    lower its loss on every training image [20 steps of eps / 10], until the surrogate
    classifies ``stop_accuracy`` of the poisoned set right [99 %] or ``max_rounds`` pass.
    """

    eps: float
    class_wise: bool = False
    train_steps: int = 20
    noise_steps: int = 10
    alpha: float | None = None  # None: eps / 5
    batch_size: int = 128
    lr: float = 1e-3
    max_rounds: int = 10
    stop_accuracy: float = 0.99
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.eps <= 1:
            raise ValueError(f"eps must be in (0, 1], got {self.eps!r}")
        for name in ("train_steps", "noise_steps", "batch_size", "max_rounds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.alpha is not None and not self.alpha > 0:
            raise ValueError(f"alpha must be > 0 or None, got {self.alpha!r}")
        if not 0 < self.stop_accuracy <= 1:
            raise ValueError(f"stop_accuracy must be in (0, 1], got {self.stop_accuracy!r}")

    @property
    def step_size(self) -> float:
        return self.alpha if self.alpha is not None else self.eps / 5


@dataclass(frozen=True)
class ErrorMinimizingResult:
    images: torch.Tensor  # the poisoned training images, 8-bit, inside the eps ball
    noise: torch.Tensor  # (N, C, H, W) sample-wise, or (classes, C, H, W) class-wise
    rounds: int
    surrogate_accuracy: tuple[float, ...]  # the surrogate's accuracy on the poisoned set after each round


def error_minimizing_noise(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                           config: ErrorMinimizingConfig, *, num_classes: int,
                           chunk_size: int = 500) -> ErrorMinimizingResult:
    """Unlearnable-examples noise: ``min_theta min_delta sum_i loss(f_theta(x_i + delta_i), y_i)``.

    ``model`` is a freshly initialised surrogate (seed it before building it); it is trained
    in place. Class-wise noise shares one pattern per class, whose gradient is summed over
    the class's images.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    original = images.detach()
    count = len(original)
    shape = (num_classes if config.class_wise else count, *original.shape[1:])
    noise = torch.zeros(shape, device=original.device)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def noise_for(index: torch.Tensor) -> torch.Tensor:
        return noise[labels[index]] if config.class_wise else noise[index]

    def poisoned(index: torch.Tensor) -> torch.Tensor:
        return (original[index] + noise_for(index)).clamp(0, 1)

    history: list[float] = []
    for _ in range(config.max_rounds):
        model.train()
        for _ in range(config.train_steps):
            index = torch.randint(count, (config.batch_size,), generator=generator).to(original.device)
            loss = F.cross_entropy(model(poisoned(index)), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with frozen_eval(model):
            for _ in range(config.noise_steps):
                gradient = torch.zeros_like(noise)
                for start in range(0, count, chunk_size):
                    index = torch.arange(start, min(start + chunk_size, count), device=original.device)
                    delta = noise_for(index).requires_grad_(True)
                    loss = F.cross_entropy(model((original[index] + delta).clamp(0, 1)), labels[index],
                                           reduction="sum")
                    (grad,) = torch.autograd.grad(loss, delta)
                    if config.class_wise:
                        gradient.index_add_(0, labels[index], grad)
                    else:
                        gradient[index] = grad
                noise = (noise - config.step_size * gradient.sign()).clamp(-config.eps, config.eps)
        everything = torch.arange(count, device=original.device)
        history.append(accuracy(model, poisoned(everything), labels))
        if history[-1] >= config.stop_accuracy:
            break
    final = poisoned(torch.arange(count, device=original.device))
    return ErrorMinimizingResult(to_8bit_within(final, original, config.eps), noise.detach(), len(history),
                                 tuple(history))


def poisoned_dataset(clean: ImageDataset, images: torch.Tensor, labels: torch.Tensor | None = None, *,
                     name: str) -> ImageDataset:
    """The poisoned images (float, [0, 1]) as a dataset beside ``clean``: the same labels
    unless ``labels`` relabels them."""
    if images.shape != clean.images.shape:
        raise ValueError(f"poisoned images {tuple(images.shape)} do not match the clean set "
                         f"{tuple(clean.images.shape)}")
    labels = clean.labels.clone() if labels is None else labels.detach().cpu()
    return ImageDataset(to_uint8(images.cpu()), labels, clean.classes, name, clean.split, clean.scale)
