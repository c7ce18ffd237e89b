"""LaVAN: one targeted visible patch, optimised directly (Karmon, Zoran & Goldberg, ICML 2018).

The baseline G2LVAP is compared with. A single patch is optimised by gradient steps on the
training images, pasted at a fresh random position every pass so that it works anywhere.
LaVAN's goal is *targeted*: it lowers ``CE(f(A(x, p)), target) - CE(f(A(x, p)), source)``,
pulling every image towards one class (the source term pushes the true class down too). Our
steps follow the gradient's sign with a fixed step in pixel units, the patch clipped to
[0, 1] after every step; the paper's exact step rule and iteration count are not in our text.

The default target, "toaster" (class 859), is the one public re-implementations use; the
G2LVAP paper does not name the class it used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from advlib.patches.placement import paste, random_positions
from advlib.utils import frozen_eval

TOASTER = 859


@dataclass(frozen=True)
class LaVANConfig:
    """Settings of one LaVAN patch."""

    patch_size: int
    steps: int
    target: int = TOASTER
    batch_size: int = 16
    step_size: float = 4 / 255
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be at least 1, got {self.steps} and {self.batch_size}")
        if not 0 < self.step_size <= 1:
            raise ValueError(f"step_size must be in (0, 1], got {self.step_size}")
        if self.target < 0:
            raise ValueError(f"target must be a class index, got {self.target}")


@dataclass
class LaVANResult:
    """The patch (3, k, k) in [0, 1], its per-step history and the time it took."""

    patch: torch.Tensor
    config: LaVANConfig
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def lavan_loss(logits: torch.Tensor, target: int, source: torch.Tensor) -> torch.Tensor:
    """``CE(logits, target) - CE(logits, source)``, averaged over the batch (to be minimised)."""
    targets = torch.full_like(source, target)
    return F.cross_entropy(logits, targets) - F.cross_entropy(logits, source)


def train_lavan(
    model: nn.Module,
    images: torch.Tensor,
    clean_labels: torch.Tensor,
    config: LaVANConfig,
    *,
    device: torch.device | str = "cpu",
) -> LaVANResult:
    """Optimise one LaVAN patch on ``images`` (uint8 or [0, 1] floats) whose clean predictions
    are ``clean_labels``; images already of the target class are left out of training."""
    if images.dim() != 4 or images.shape[0] != clean_labels.shape[0]:
        raise ValueError(f"need (N, 3, H, W) images with N labels, got {tuple(images.shape)} and "
                         f"{tuple(clean_labels.shape)}")
    usable = torch.nonzero(clean_labels != config.target).squeeze(1)  # positions, so lazy images stay lazy
    if usable.numel() == 0:
        raise ValueError(f"every training image is already of the target class {config.target}")
    device = torch.device(device)
    sampler = torch.Generator().manual_seed(config.seed)
    patch = torch.rand(3, config.patch_size, config.patch_size, generator=sampler).to(device)
    result = LaVANResult(patch, config)
    started = time.perf_counter()
    image_size = tuple(images.shape[-2:])
    with frozen_eval(model):
        for _ in range(config.steps):
            chosen = usable[torch.randint(0, usable.numel(), (config.batch_size,), generator=sampler)]
            batch = images[chosen].to(device)
            batch = batch.float().div(255) if batch.dtype == torch.uint8 else batch.float()
            positions = random_positions(config.batch_size, image_size, config.patch_size, sampler)
            patch.requires_grad_(True)
            logits = model(paste(batch, patch, positions))
            loss = lavan_loss(logits, config.target, clean_labels[chosen].to(device))
            (grad,) = torch.autograd.grad(loss, patch)
            with torch.no_grad():
                patch = (patch - config.step_size * grad.sign()).clamp(0, 1)
            hits = (logits.argmax(1) == config.target).float().mean()
            result.history.append({"loss": loss.item(), "hit_target": hits.item()})
    result.patch = patch.detach()
    result.seconds = time.perf_counter() - started
    return result
