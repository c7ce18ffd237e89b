"""Where a visible patch goes, and pasting it there.

A localized visible patch *replaces* the pixels under it (LaVAN, G2LVAP), unlike an additive
perturbation. Every function works on a batch with one position per image, so an attack can
train and be evaluated with a fresh random placement for every image in every pass without a
Python loop over images.

Positions are (top, left) pixel offsets of the patch's upper-left corner, int64 of shape
(N, 2); a patch of size k fits at top in [0, H - k] and left in [0, W - k].
"""

from __future__ import annotations

import torch


def _check_fit(image_size: tuple[int, int], patch_size: int) -> None:
    height, width = image_size
    if patch_size < 1:
        raise ValueError(f"patch size must be at least 1 pixel, got {patch_size}")
    if patch_size > min(height, width):
        raise ValueError(f"a {patch_size}-pixel patch does not fit in a {height}x{width} image")


def random_positions(
    count: int, image_size: tuple[int, int], patch_size: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``count`` positions drawn uniformly over every place the patch fits entirely."""
    _check_fit(image_size, patch_size)
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    height, width = image_size
    tops = torch.randint(0, height - patch_size + 1, (count,), generator=generator)
    lefts = torch.randint(0, width - patch_size + 1, (count,), generator=generator)
    return torch.stack([tops, lefts], dim=1)


def sliding_positions(image_size: tuple[int, int], patch_size: int, stride: int) -> torch.Tensor:
    """Every position on a grid of ``stride`` pixels from the top-left corner, row by row.

    With a patch of k pixels in an H x W image that is (floor((H-k)/stride) + 1) x
    (floor((W-k)/stride) + 1) positions: the patch slides right and down until it touches the
    border, never past it.
    """
    _check_fit(image_size, patch_size)
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    height, width = image_size
    tops = torch.arange(0, height - patch_size + 1, stride)
    lefts = torch.arange(0, width - patch_size + 1, stride)
    grid_top, grid_left = torch.meshgrid(tops, lefts, indexing="ij")
    return torch.stack([grid_top.reshape(-1), grid_left.reshape(-1)], dim=1)


def paste(images: torch.Tensor, patches: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Images with each patch replacing the pixels at its position; the inputs are not changed.

    Args:
        images: (N, C, H, W).
        patches: (N, C, k, k), one per image, or (C, k, k), the same for every image.
        positions: (N, 2) int64 (top, left), e.g. from :func:`random_positions`.

    Returns a new (N, C, H, W) tensor. Gradients flow to ``patches`` (through the pasted
    pixels only) and to ``images`` (through the pixels the patch leaves visible).
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got {tuple(images.shape)}")
    count, channels, height, width = images.shape
    if patches.dim() == 3:
        patches = patches.unsqueeze(0).expand(count, -1, -1, -1)
    if patches.dim() != 4 or patches.shape[0] != count or patches.shape[1] != channels:
        raise ValueError(f"patches must be ({count}, {channels}, k, k) or ({channels}, k, k), "
                         f"got {tuple(patches.shape)}")
    size = patches.shape[-1]
    if patches.shape[-2] != size:
        raise ValueError(f"patches must be square, got {tuple(patches.shape[-2:])}")
    _check_fit((height, width), size)
    if positions.shape != (count, 2):
        raise ValueError(f"positions must be ({count}, 2), got {tuple(positions.shape)}")
    positions = positions.to(device=images.device, dtype=torch.int64)
    if bool((positions < 0).any()) or bool((positions[:, 0] > height - size).any()) or bool(
        (positions[:, 1] > width - size).any()
    ):
        raise ValueError(f"a position puts the {size}-pixel patch outside the {height}x{width} image")
    offsets = torch.arange(size, device=images.device)
    rows = (positions[:, 0, None] + offsets)[:, :, None]  # (N, k, 1)
    columns = (positions[:, 1, None] + offsets)[:, None, :]  # (N, 1, k)
    batch = torch.arange(count, device=images.device)[:, None, None]
    pasted = images.clone()
    pasted.permute(0, 2, 3, 1)[batch, rows, columns] = patches.to(images.dtype).permute(0, 2, 3, 1)
    return pasted


def patch_mask(image_size: tuple[int, int], patch_size: int, positions: torch.Tensor) -> torch.Tensor:
    """Boolean (N, 1, H, W) masks of the pixels a patch covers at each position."""
    height, width = image_size
    canvas = torch.zeros(positions.shape[0], 1, height, width, device=positions.device)
    ones = torch.ones(1, patch_size, patch_size, device=positions.device)
    return paste(canvas, ones, positions).bool()
