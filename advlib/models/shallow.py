"""The shallowest models: softmax regression and a one-hidden-layer MLP, on flattened pixels.

Chapter 4 needs them beside the CNN: a linear model cannot represent many of the patterns a
CNN picks up (the talk's "Linear vs. ResNet" curves under a poisoned training set), and an
MLP with a wide hidden layer memorises random labels fast (Zhang et al., ICLR 2017, ran
the same experiment with MLPs beside their CNNs).
"""

from __future__ import annotations

import math

from torch import nn


def _features(input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 3 or any(not isinstance(size, int) or size < 1 for size in input_shape):
        raise ValueError(f"input_shape must be (channels, height, width), got {input_shape!r}")
    return math.prod(input_shape)


class SoftmaxRegression(nn.Sequential):
    """logits = W x + b on the flattened image: a linear classifier."""

    def __init__(self, input_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10) -> None:
        super().__init__(nn.Flatten(), nn.Linear(_features(input_shape), num_classes))


class MLP(nn.Sequential):
    """flatten - fc(hidden) - ReLU - fc(classes)."""

    def __init__(self, input_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10,
                 hidden: int = 512) -> None:
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be an int >= 1, got {hidden!r}")
        super().__init__(nn.Flatten(), nn.Linear(_features(input_shape), hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))
