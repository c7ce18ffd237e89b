"""Image transforms that probe *what* a classifier looks at, batched and device-agnostic.

Each keeps one kind of information and destroys another:

* :func:`frequency_split` (Wang et al., CVPR 2020): a radial mask in the centred 2-D
  Fourier spectrum splits an image into a low-frequency part (the overall shape, what a
  person sees) and a high-frequency part (fine texture and edges, nearly invisible).
* :func:`patch_shuffle` (Zhang & Zhu, ICML 2019): cut the image into a k x k grid and permute
  the tiles. Local texture survives; global shape does not.
* :func:`saturate` (Zhang & Zhu): push every pixel towards 0 or 1. Shapes and edges survive;
  fine texture is flattened.
* :func:`gaussian_noise` and :func:`uniform_noise`: the noise of Geirhos et al. (NeurIPS 2018).

All take float images (N, C, H, W) and return new tensors; randomness comes only from an
explicit ``torch.Generator``, so every figure is reproducible.
"""

from __future__ import annotations

import math

import torch

from advlib.attacks._checks import check_images


def _radial_low_pass_mask(height: int, width: int, radius: float, device: torch.device) -> torch.Tensor:
    """1 inside the circle of ``radius`` around the centre of the *shifted* spectrum
    (the zero frequency sits at (H // 2, W // 2) after ``fftshift``), 0 outside."""
    rows = torch.arange(height, device=device, dtype=torch.float32) - height // 2
    cols = torch.arange(width, device=device, dtype=torch.float32) - width // 2
    distance = torch.sqrt(rows[:, None] ** 2 + cols[None, :] ** 2)
    return (distance < radius).to(torch.float32)


def frequency_split(images: torch.Tensor, radius: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Split images into (low, high) frequency parts with a radial mask of ``radius``.

    Per channel: ``F = fftshift(fft2(x))``; low = Re(ifft2(ifftshift(F * M))), high = the same
    with ``1 - M``. As in Wang et al.'s code there is no clipping or renormalisation, so
    ``low + high == images`` (up to float error) and the parts may leave [0, 1]: the
    high-frequency part of a natural image hovers around 0.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if not math.isfinite(radius) or radius < 0:
        raise ValueError(f"radius must be a finite number >= 0, got {radius!r}")
    height, width = images.shape[-2:]
    spectrum = torch.fft.fftshift(torch.fft.fft2(images.float()), dim=(-2, -1))
    mask = _radial_low_pass_mask(height, width, radius, images.device)
    low = torch.fft.ifft2(torch.fft.ifftshift(spectrum * mask, dim=(-2, -1))).real
    high = torch.fft.ifft2(torch.fft.ifftshift(spectrum * (1 - mask), dim=(-2, -1))).real
    return low.to(images.dtype), high.to(images.dtype)


def low_pass(images: torch.Tensor, radius: float) -> torch.Tensor:
    """The low-frequency part of :func:`frequency_split` (looks like a blurred image)."""
    return frequency_split(images, radius)[0]


def high_pass(images: torch.Tensor, radius: float) -> torch.Tensor:
    """The high-frequency part of :func:`frequency_split` (looks like faint edges)."""
    return frequency_split(images, radius)[1]


def patch_shuffle(images: torch.Tensor, grid: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Cut each image into ``grid x grid`` equal tiles and permute them (one permutation per
    image). ``grid=1`` returns a copy; height and width must be divisible by ``grid``."""
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got shape {tuple(images.shape)}")
    if not isinstance(grid, int) or isinstance(grid, bool) or grid < 1:
        raise ValueError(f"grid must be an int >= 1, got {grid!r}")
    count, channels, height, width = images.shape
    if height % grid or width % grid:
        raise ValueError(f"image size {height}x{width} is not divisible by grid {grid}; pad or resize first")
    tile_h, tile_w = height // grid, width // grid
    tiles = images.reshape(count, channels, grid, tile_h, grid, tile_w).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(count, grid * grid, channels, tile_h, tile_w)
    order = torch.rand(count, grid * grid, generator=generator).argsort(dim=1).to(images.device)  # a permutation each
    shuffled = tiles[torch.arange(count, device=images.device)[:, None], order]
    shuffled = shuffled.reshape(count, grid, grid, channels, tile_h, tile_w).permute(0, 3, 1, 4, 2, 5)
    return shuffled.reshape(count, channels, height, width).contiguous()


def saturate(images: torch.Tensor, power: float) -> torch.Tensor:
    """Zhang & Zhu's saturation: ``v' = sign(2v - 1) |2v - 1|^(2/p) / 2 + 1/2``.

    ``power=2`` is the identity; larger powers push pixels towards 0 and 1, and
    ``power=inf`` binarises at 0.5 (a pixel at exactly 0.5 stays 0.5).
    """
    check_images(images)
    if not (power > 0):
        raise ValueError(f"power must be > 0 (inf allowed), got {power!r}")
    centred = 2 * images - 1
    if math.isinf(power):
        return torch.sign(centred) / 2 + 0.5
    return (torch.sign(centred) * centred.abs().pow(2 / power) / 2 + 0.5).clamp(0, 1)


def gaussian_noise(images: torch.Tensor, std: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add zero-mean Gaussian noise of standard deviation ``std``; clip to [0, 1]."""
    check_images(images)
    if not (std >= 0 and math.isfinite(std)):
        raise ValueError(f"std must be a finite number >= 0, got {std!r}")
    noise = torch.randn(images.shape, generator=generator, dtype=images.dtype).to(images.device)
    return (images + std * noise).clamp(0, 1)


def uniform_noise(images: torch.Tensor, width: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add noise drawn uniformly from [-width, width]; clip to [0, 1] (the noise type of the
    human experiment of Geirhos et al., NeurIPS 2018, whose conditions are widths)."""
    check_images(images)
    if not (width >= 0 and math.isfinite(width)):
        raise ValueError(f"width must be a finite number >= 0, got {width!r}")
    noise = torch.rand(images.shape, generator=generator, dtype=images.dtype).to(images.device) * 2 - 1
    return (images + width * noise).clamp(0, 1)
