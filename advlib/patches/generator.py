"""The patch generator of G2LVAP: random vectors in, small square patches out.

The paper (Zhou et al., PR&AI 2020) lists its generator per patch size in a Table 1 that is
missing from the text we have; it says only that the layers are fully connected, batch
normalisation and deconvolutions, ending in tanh. This module is the book's reconstruction
(spec section 6.4, after NAG's generator): z (100) -> FC -> BN -> ReLU -> reshape to
C0 x h0 x h0 -> deconv (stride 2) -> BN -> ReLU -> deconv (stride 2) -> tanh.

:func:`deconv_plan` picks h0 and the two kernel sizes (3 or 4, padding 1) so that the output
is exactly the requested size; for 15, 20, 25 and 30 pixels it gives the spec's table.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class DeconvPlan:
    """Spatial path of the generator: h0 -> first deconv (kernel k1) -> second (kernel k2).

    Each deconvolution has stride 2 and padding 1, so out = 2 * in - 4 + kernel.
    """

    start: int
    kernel1: int
    kernel2: int

    @property
    def middle(self) -> int:
        return 2 * self.start - 4 + self.kernel1

    @property
    def size(self) -> int:
        return 2 * self.middle - 4 + self.kernel2


def deconv_plan(size: int) -> DeconvPlan:
    """The plan whose output is ``size`` pixels: the last kernel fixes the parity (3 for odd
    sizes, 4 for even), the first one the middle size's parity, and h0 what remains."""
    if size < 5:
        raise ValueError(f"the generator makes patches of at least 5 pixels, asked for {size}")
    kernel2 = 3 if size % 2 else 4
    middle = (size + 4 - kernel2) // 2
    kernel1 = 3 if middle % 2 else 4
    start = (middle + 4 - kernel1) // 2
    plan = DeconvPlan(start, kernel1, kernel2)
    if plan.size != size or start < 1:
        raise AssertionError(f"no deconvolution plan for {size} pixels ({plan})")
    return plan


class PatchGenerator(nn.Module):
    """z ~ U[0, 1]^latent_dim -> a (3, size, size) patch with values in [0, 1].

    The last layer is tanh, as in the paper (its classifier took inputs in [-1, 1]); the
    output is mapped to [0, 1], the pixel range every advlib model takes, so a value of -1
    there is black here.
    """

    def __init__(self, size: int, latent_dim: int = 100, channels: tuple[int, int] = (256, 128)) -> None:
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be positive, got {latent_dim}")
        self.size, self.latent_dim, self.plan = size, latent_dim, deconv_plan(size)
        wide, narrow = channels
        self.project = nn.Sequential(
            nn.Linear(latent_dim, wide * self.plan.start**2),
            nn.BatchNorm1d(wide * self.plan.start**2),
            nn.ReLU(),
            nn.Unflatten(1, (wide, self.plan.start, self.plan.start)),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(wide, narrow, self.plan.kernel1, stride=2, padding=1),
            nn.BatchNorm2d(narrow),
            nn.ReLU(),
            nn.ConvTranspose2d(narrow, 3, self.plan.kernel2, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        if latent.dim() != 2 or latent.shape[1] != self.latent_dim:
            raise ValueError(f"latent must be (B, {self.latent_dim}), got {tuple(latent.shape)}")
        return (self.upsample(self.project(latent)) + 1) / 2

    def sample_latent(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``count`` vectors from U[0, 1]^latent_dim, on the generator's device."""
        device = next(self.parameters()).device
        return torch.rand(count, self.latent_dim, generator=generator).to(device)

    @torch.no_grad()
    def patches(self, latent: torch.Tensor) -> torch.Tensor:
        """Patches for ``latent`` in evaluation mode (batch-norm running statistics), detached."""
        was_training = self.training
        self.eval()
        try:
            return self(latent)
        finally:
            self.train(was_training)
