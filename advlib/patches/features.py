"""Read a classifier's last convolutional feature map during its ordinary forward pass.

G2LVAP's diversity loss compares the last convolutional features f_c of two adversarial
images. A forward hook gives them without a second pass and without knowing the model's
code: one forward returns both the logits and the features.
"""

from __future__ import annotations

import torch
from torch import nn


def last_conv_layer(model: nn.Module) -> nn.Module:
    """The module whose output is the model's last convolutional feature map.

    Inception-v3 (torchvision): ``Mixed_7c`` (8 x 8 x 2048 at 299 px), as in the paper.
    timm's EfficientNets: ``bn2``, the head convolution after its batch norm and activation
    (7 x 7 x 1280 at 224 px). Otherwise the last ``nn.Conv2d`` in the model.
    """
    last_conv = None
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "Mixed_7c":
            return module
        if leaf == "bn2" and hasattr(_parent(model, name), "conv_head"):
            return module
        if isinstance(module, nn.Conv2d):
            last_conv = module
    if last_conv is None:
        raise ValueError(f"{type(model).__name__} has no convolutional layer")
    return last_conv


def _parent(model: nn.Module, name: str) -> nn.Module:
    parent = name.rsplit(".", 1)[0] if "." in name else ""
    return model.get_submodule(parent)


class FeatureTap:
    """``with FeatureTap(layer) as tap: logits = model(x)``; then ``tap.features`` holds the
    layer's output of that forward pass (with its graph, so losses on it backpropagate)."""

    def __init__(self, layer: nn.Module) -> None:
        self.layer = layer
        self.features: torch.Tensor | None = None
        self._handle = None

    def _keep(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self.features = output

    def __enter__(self) -> FeatureTap:
        self._handle = self.layer.register_forward_hook(self._keep)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
