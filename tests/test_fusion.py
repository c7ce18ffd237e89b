"""Folding batch norms into convolutions: same outputs, no batch norm left, and a refusal
(model unchanged) where a convolution's output feeds more than its batch norm."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from advlib.models.fusion import fold_batch_norms


def _trained_norms(model: nn.Module) -> nn.Module:
    """Give every batch norm statistics of its own, as a trained network has."""
    generator = torch.Generator().manual_seed(1)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator))
            module.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.weight.data.copy_(torch.randn(channels, generator=generator))
            module.bias.data.copy_(torch.randn(channels, generator=generator))
    return model.eval()


class Residual(nn.Module):
    """conv -> bn, plus the conv's output added again: not foldable."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)

    def forward(self, images):
        features = self.conv(images)
        return self.norm(features) + features


def test_folded_network_computes_the_same_without_batch_norms():
    torch.manual_seed(0)
    network = _trained_norms(nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)))
    reference = copy.deepcopy(network)
    images = torch.rand(5, 3, 16, 16)
    state = torch.get_rng_state()
    folded = fold_batch_norms(network, images)
    assert folded is network and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert torch.equal(torch.get_rng_state(), state)
    fresh = torch.rand(7, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(folded(fresh), reference(fresh), atol=1e-5, rtol=1e-5)


def test_a_convolution_that_feeds_more_than_its_norm_is_refused_and_left_alone():
    network = _trained_norms(Residual())
    with pytest.raises(RuntimeError, match="left unchanged"):
        fold_batch_norms(network, torch.rand(2, 3, 8, 8))
    assert isinstance(network.norm, nn.BatchNorm2d) and type(network.conv) is nn.Conv2d


def test_the_imagenet_models_come_folded():
    pytest.importorskip("timm")
    from advlib.models import efficientnet_lite0

    model = efficientnet_lite0()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()), "every batch norm folded"
