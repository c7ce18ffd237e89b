"""One feature extractor, two heads: the target task and the bias attribute.

AEDA_online and AEDA_robust (seed S0) train the target classifier and the bias classifier on a
*shared* feature extractor, updated together, so that the bias-flipping adversarial examples
made through the bias head stay meaningful to the features the target head reads
("cross-task transferability"). Adversarial debiasing uses the same shape with a gradient
reversal layer between the features and the bias head.

Attacks take a model that maps images to one set of logits, so :meth:`TwoHeadNet.head`
returns a view of either head: ``pgd(net.head("bias"), images, other_colour, eps,
targeted=True)`` flips the colour as the bias head sees it, through the shared features.
"""

from __future__ import annotations

import torch
from torch import nn

from advlib.models.normalized import channels_last

HEADS = ("target", "bias")


class TwoHeadNet(nn.Module):
    """``trunk`` (images -> feature vectors of size ``features``) with a linear target head and a
    linear bias head. ``forward`` gives the target logits, so the net is a drop-in classifier
    for ``predict``, ``accuracy`` and the attacks."""

    def __init__(self, trunk: nn.Module, features: int, num_classes: int, num_bias: int = 2) -> None:
        super().__init__()
        for name, value in (("features", features), ("num_classes", num_classes), ("num_bias", num_bias)):
            if not isinstance(value, int) or value < 1 or (name != "features" and value < 2):
                raise ValueError(f"{name} must be a positive int (>= 2 for classes), got {value!r}")
        self.trunk = trunk
        self.target_head = nn.Linear(features, num_classes)
        self.bias_head = nn.Linear(features, num_bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.target_head(self.trunk(images))

    def both(self, images: torch.Tensor, bias_feature_hook=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(target logits, bias logits) from one pass through the trunk. ``bias_feature_hook``
        transforms the features on their way to the bias head only (gradient reversal)."""
        features = self.trunk(images)
        bias_input = features if bias_feature_hook is None else bias_feature_hook(features)
        return self.target_head(features), self.bias_head(bias_input)

    def head(self, name: str) -> nn.Module:
        """A module whose forward is images -> that head's logits (parameters shared, not copied)."""
        if name not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {name!r}")
        return _HeadView(self, name)


class _HeadView(nn.Module):
    def __init__(self, net: TwoHeadNet, name: str) -> None:
        super().__init__()
        self.net, self.name = net, name

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        head = self.net.target_head if self.name == "target" else self.net.bias_head
        return head(self.net.trunk(images))


def small_cnn_trunk(in_channels: int = 3, width: int = 16, image_size: int = 28, features: int = 128) -> nn.Sequential:
    """SmallCNN's layers up to its penultimate ReLU (conv-conv-pool-conv-conv-pool-fc): the
    chapters' workhorse, cut before its classifier so two heads can share it."""
    if image_size % 4:
        raise ValueError(f"image_size must be divisible by 4 (two 2x2 poolings), got {image_size}")
    # NHWC, as SmallCNN (a training step about 1.9x faster on 2 AMD EPYC cores at width 16)
    return channels_last(nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * (image_size // 4) ** 2, features), nn.ReLU(),
    ))


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, features: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return features.view_as(features)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.weight * grad, None


def reverse_gradient(features: torch.Tensor, weight: float = 1.0) -> torch.Tensor:
    """The gradient reversal layer (Ganin & Lempitsky 2015): identity forward, gradient times
    ``-weight`` backward. Placed before the bias head, it trains the head to predict the bias
    while pushing the features to make that impossible."""
    if weight < 0:
        raise ValueError(f"weight must be >= 0, got {weight!r}")
    return _ReverseGradient.apply(features, weight)
