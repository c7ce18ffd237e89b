"""Argument validation shared by all attacks.

Every attack checks its arguments before touching the model, so a reader who passes a
negative budget or labels of the wrong length gets one clear message naming the argument,
the value and what is allowed, rather than a shape error deep inside autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

NORMS = ("linf", "l2")
LOSSES = ("ce", "margin")
_NORM_ALIASES = {"linf": "linf", "inf": "linf", "l_inf": "linf", "l2": "l2", "2": "l2"}


def check_images(images: object) -> torch.Tensor:
    """Images must be a floating tensor of shape (N, ...) with values in [0, 1]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"images must be a floating tensor in [0, 1], got dtype {images.dtype}")
    if images.dim() < 2 or images.shape[0] == 0:
        raise ValueError(f"images must have shape (N, ...) with N >= 1, got {tuple(images.shape)}")
    lowest, highest = images.min().item(), images.max().item()
    if lowest < 0.0 or highest > 1.0 or math.isnan(lowest) or math.isnan(highest):
        raise ValueError(
            f"images must lie in [0, 1] (got min {lowest:.4g}, max {highest:.4g}); "
            "normalise inside the model, e.g. with advlib.models.Normalized"
        )
    return images


def check_labels(
    labels: object, images: torch.Tensor, name: str = "labels", sequences: bool = False
) -> torch.Tensor:
    """Labels must be an integer tensor of shape (N,), on the same device as the images.

    With ``sequences=True`` a label may also be a row of class indices, shape (N, L): one
    class per position (the characters of a CAPTCHA), to be matched against logits of
    shape (N, C, L), the layout ``torch.nn.functional.cross_entropy`` takes.
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of class indices, got {type(labels).__name__}")
    if labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{name} must hold integer class indices, got dtype {labels.dtype}")
    count = images.shape[0]
    shape_ok = labels.shape == (count,) or (sequences and labels.dim() == 2 and labels.shape[0] == count)
    if not shape_ok:
        wanted = f"({count},) or ({count}, L)" if sequences else f"({count},)"
        raise ValueError(
            f"{name} must have shape {wanted} to match images {tuple(images.shape)}, got {tuple(labels.shape)}"
        )
    if labels.device != images.device:
        raise ValueError(f"{name} are on {labels.device} but images are on {images.device}")
    return labels.long()


def check_budget(value: float | torch.Tensor, images: torch.Tensor, name: str) -> torch.Tensor:
    """A budget (eps) or step size: a finite number >= 0, or one per sample, shape (N,).

    Returned as a tensor broadcastable against the images, shape (N, 1, 1, ...), so that
    every attack supports per-sample budgets (the minimal-perturbation search needs them).
    """
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            value = value.reshape(1).expand(images.shape[0])
        if value.shape != (images.shape[0],):
            raise ValueError(
                f"{name} as a tensor must have shape ({images.shape[0]},), got {tuple(value.shape)}"
            )
        tensor = value.to(device=images.device, dtype=images.dtype)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        tensor = torch.full((images.shape[0],), float(value), device=images.device, dtype=images.dtype)
    else:
        raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}")
    if not torch.isfinite(tensor).all() or (tensor < 0).any():
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return tensor.view(-1, *([1] * (images.dim() - 1)))


def check_positive_int(value: object, name: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def check_fraction(value: object, name: str, low: float, high: float, low_open: bool = False) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high or math.isnan(value):
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must lie in {bracket}{low}, {high}], got {value!r}")
    return float(value)


def check_norm(norm: object) -> str:
    """Accept 'linf'/'l2' (and the aliases 'inf', 'L2', ...); return the canonical name."""
    key = str(norm).lower().replace(" ", "")
    if key not in _NORM_ALIASES:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    return _NORM_ALIASES[key]


def check_loss(loss: object) -> str | Callable:
    """'ce', 'margin', or a callable ``loss(output, labels, targeted) -> (N,)`` objective.

    A callable is the hook for models whose output is not one logit vector per position,
    e.g. a CTC loss for a sequence recogniser; like the built-in objectives it must
    return one value per sample, larger being better for the attacker.
    """
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES} or a callable, got {loss!r}")
    return str(loss)
