"""Fold eval-mode batch normalisation into the convolution before it, in frozen networks.

In eval mode a batch norm is a fixed per-channel affine map, so ``bn(conv(x))`` equals one
convolution with scaled weights and a bias (:func:`torch.nn.utils.fusion.fuse_conv_bn_eval`).
The pretrained ImageNet networks the book attacks are never trained. For EfficientNet-Lite0
(224 px, a batch of 16, 2 AMD EPYC cores) folding made an input gradient 2.3x faster (2.94 ->
1.28 s) and a forward pass 1.14x; the logits agreed within 1.3e-5 (the largest was 7.8).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batch_norms"]


def _pairs(model: nn.Module, example: torch.Tensor) -> tuple[list[tuple[str, str]], torch.Tensor]:
    """(convolution, batch norm) names where the batch norm's input is the convolution's
    output, found by running ``example`` through the model (the order of a forward pass, not
    of module registration, decides what feeds what); and that pass's output."""
    produced: dict[int, str] = {}
    pairs: list[tuple[str, str]] = []
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            hooks.append(module.register_forward_hook(
                lambda _module, _inputs, output, name=name: produced.__setitem__(id(output), name)))
        elif isinstance(module, nn.BatchNorm2d):
            hooks.append(module.register_forward_pre_hook(
                lambda _module, inputs, name=name: pairs.append((produced.get(id(inputs[0]), ""), name))))
    try:
        with torch.no_grad():
            output = model(example)
    finally:
        for hook in hooks:
            hook.remove()
    return [(conv, norm) for conv, norm in pairs if conv], output


def _after_norm(norm: nn.BatchNorm2d) -> nn.Module:
    """What stays of a batch norm once folded: nothing for torch's own, the dropout and
    activation for timm's BatchNormAct2d (which applies them after normalising)."""
    if type(norm) is nn.BatchNorm2d:
        return nn.Identity()
    rest = [getattr(norm, name) for name in ("drop", "act")]
    if not all(isinstance(module, nn.Module) for module in rest):
        raise TypeError(f"cannot fold {type(norm).__name__}: only BatchNorm2d and timm's BatchNormAct2d are known")
    return nn.Sequential(*rest)


def fold_batch_norms(model: nn.Module, example: torch.Tensor, *, tolerance: float = 1e-3) -> nn.Module:
    """Fold every batch norm fed directly by a convolution into it, in place; return ``model``.

    For frozen networks only: the model is put in eval mode and stays there (a folded network
    has no batch statistics left to train). ``example`` is an input the model accepts; the
    folded model's output on it must equal the original's within ``tolerance`` times
    max(1, the output's largest magnitude), else the model is left unchanged and a
    RuntimeError says so. A convolution whose output also fed something other than its batch
    norm should fail so (``tests/test_fusion.py`` checks a residual case); the check is on
    ``example`` only, not a proof.
    """
    model.eval()
    pairs, before = _pairs(model, example)
    originals: list[tuple[str, nn.Module]] = []
    for conv_name, norm_name in pairs:
        conv, norm = model.get_submodule(conv_name), model.get_submodule(norm_name)
        if norm.training or norm.running_mean is None:
            continue
        originals += [(conv_name, conv), (norm_name, norm)]
        model.set_submodule(conv_name, fuse_conv_bn_eval(conv, norm))
        model.set_submodule(norm_name, _after_norm(norm))
    with torch.no_grad():
        after = model(example)
    scale = before.abs().max().clamp_min(1.0)
    if not torch.allclose(after, before, rtol=0.0, atol=tolerance * float(scale)):
        for name, module in originals:
            model.set_submodule(name, module)
        raise RuntimeError(f"folding batch norms changed {type(model).__name__}'s output by "
                           f"{(after - before).abs().max().item():.3g}; the model was left unchanged")
    return model
