"""Wrappers that let every attack see through randomised or non-differentiable defences
(Athalye, Carlini and Wagner, ICML 2018).

Both are ``nn.Module``s that wrap the *model*, so they compose with every attack and with
the evaluation functions without any attack knowing about them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

Transform = Callable[[torch.Tensor], torch.Tensor]
REDUCTIONS = ("log_mean_prob", "mean_logits")


class EOT(nn.Module):
    """Expectation over Transformation: the classifier averaged over random transforms.

    ``forward`` runs the model on ``samples`` independently transformed copies of the batch
    (as one large batch) and returns ``log E_t[softmax(model(t(x)))]`` (default) or the
    mean logits. The default output is a valid log-probability vector: cross-entropy on it
    is ``-log E_t[p_y]``, the loss of the expected classifier that a randomised defence
    actually implements, and its argmax is that classifier's decision. Sequence outputs
    (N, C, L) are averaged per position, over the class dimension 1.
    """

    def __init__(
        self, model: nn.Module, transform: Transform, samples: int = 8, reduction: str = "log_mean_prob"
    ) -> None:
        super().__init__()
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise ValueError(f"samples must be an int >= 1, got {samples!r}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        if not callable(transform):
            raise TypeError("transform must be callable, mapping a batch of images to a batch")
        self.model, self.transform, self.samples, self.reduction = model, transform, samples, reduction

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        batch = images.shape[0]
        copies = images.repeat(self.samples, *([1] * (images.dim() - 1)))
        logits = self.model(self.transform(copies))
        logits = logits.view(self.samples, batch, *logits.shape[1:])
        if self.reduction == "mean_logits":
            return logits.mean(dim=0)
        return torch.logsumexp(torch.log_softmax(logits, dim=2), dim=0) - math.log(self.samples)


class BPDA(nn.Module):
    """Backward Pass Differentiable Approximation.

    The forward pass applies the real (possibly non-differentiable) ``preprocess``; the
    backward pass uses the gradient of ``approximation`` (the identity by default, which
    suits preprocessing that keeps the image close to itself: JPEG, bit-depth reduction,
    median filtering). Implemented as ``g(x) + (p(x) - g(x)).detach()``, whose value is
    ``p(x)`` and whose gradient is ``dg/dx``.
    """

    def __init__(self, preprocess: Transform, approximation: Transform | None = None) -> None:
        super().__init__()
        if not callable(preprocess):
            raise TypeError("preprocess must be callable")
        self.preprocess = preprocess
        self.approximation = approximation

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        approx = images if self.approximation is None else self.approximation(images)
        with torch.no_grad():
            exact = self.preprocess(images)
        return approx + (exact - approx).detach()


class Ensemble(nn.Module):
    """Several models with the same output layout, read as one: log of the mean probabilities.

    Crafting against an ensemble makes an example that fools every member at once, and
    such examples transfer better to models outside the ensemble (Liu et al., ICLR 2017;
    Tramer et al., ICLR 2018). Averaging probabilities, not logits, keeps one member with
    large logits from drowning the others. Outputs may be (N, C) or (N, C, L).
    """

    def __init__(self, models: list[nn.Module], weights: list[float] | None = None) -> None:
        super().__init__()
        if len(models) == 0:
            raise ValueError("an ensemble needs at least one model")
        if weights is None:
            weights = [1.0] * len(models)
        if len(weights) != len(models) or any(w <= 0 for w in weights):
            raise ValueError(f"weights must be {len(models)} positive numbers, got {weights!r}")
        self.members = nn.ModuleList(models)
        total = float(sum(weights))
        self.log_weights = [math.log(w / total) for w in weights]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        scored = [
            torch.log_softmax(model(images), dim=1) + log_weight
            for model, log_weight in zip(self.members, self.log_weights, strict=True)
        ]
        return torch.logsumexp(torch.stack(scored), dim=0)


class Preprocessed(nn.Module):
    """A model that cleans its input first: ``model(preprocess(x))``.

    Crackers denoise a CAPTCHA before reading it (median filter, binarisation). Keeping
    the step outside the network lets the same trained network be attacked through the
    real step or through a BPDA stand-in, without copying weights.
    """

    def __init__(self, model: nn.Module, preprocess: Transform) -> None:
        super().__init__()
        if not callable(preprocess):
            raise TypeError("preprocess must be callable")
        self.model, self.preprocess = model, preprocess

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(self.preprocess(images))
