"""Digits on coloured backgrounds: a task-irrelevant generative variable whose link to the
label is set by hand.

In the ITID view of the talk (seed S0), an image is generated from variables
``X = phi(G_Y, G_U)``: the digit's identity and handwriting are task-related (G_Y), the
background colour is task-irrelevant (G_U). Here we control how strongly G_U goes with the
label: with probability ``rho`` a digit gets its own class's colour, otherwise a colour drawn
uniformly from the palette (which may also be its own). ``rho = 0`` makes colour and label
independent; ``rho = 0.99`` makes colour an almost perfect, and spurious, predictor.

The palette is ``count`` colours spaced evenly on a circle around the grey axis of the RGB
cube, and digit strokes are white. A rotation of the colour space about the grey axis by a
multiple of ``360 / count`` degrees therefore maps the palette onto itself, keeps strokes
white and keeps every blend of stroke and background exact: :class:`HueRotation` is a
colour-permuting augmentation that needs no knowledge of which pixels are background.
Drawn uniformly, it makes the colour independent of the label (ITID's Theorem 5).
"""

from __future__ import annotations

import math

import torch

from advlib.data.dataset import ImageDataset
from advlib.utils import to_uint8

PALETTE_SIZE = 10
PALETTE_RADIUS = 0.5  # distance of each colour from mid-grey; components stay in [0.09, 0.91]
_GREY = 0.5
# An orthonormal basis of the plane perpendicular to the grey axis (1, 1, 1).
_U = torch.tensor([2.0, -1.0, -1.0]) / math.sqrt(6)
_V = torch.tensor([0.0, 1.0, -1.0]) / math.sqrt(2)


def hue_palette(count: int = PALETTE_SIZE, radius: float = PALETTE_RADIUS) -> torch.Tensor:
    """``count`` RGB colours (count, 3) in [0, 1], evenly spaced in hue around mid-grey."""
    if not isinstance(count, int) or count < 2:
        raise ValueError(f"count must be an int >= 2, got {count!r}")
    if not 0 < radius <= 0.5 * math.sqrt(1.5):
        raise ValueError(f"radius must be in (0, {0.5 * math.sqrt(1.5):.3f}] to keep colours in [0, 1], got {radius!r}")
    angles = 2 * math.pi * torch.arange(count) / count
    return _GREY + radius * (angles.cos()[:, None] * _U + angles.sin()[:, None] * _V)


def hue_rotation_matrix(angle: float) -> torch.Tensor:
    """The 3x3 rotation of RGB space by ``angle`` (radians) about the grey axis."""
    plane = torch.stack([_U, _V])  # (2, 3)
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return torch.eye(3) - plane.T @ plane + plane.T @ rotation @ plane


def colour_backgrounds(digits: torch.Tensor, colour_ids: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """White strokes on the palette colour ``colour_ids[i]``: uint8 (N, 3, H, W).

    ``digits`` are grey uint8 (N, 1, H, W) with strokes bright on black; a pixel of ink
    level ``d`` becomes ``d * white + (1 - d) * background``.
    """
    if digits.dtype != torch.uint8 or digits.dim() != 4 or digits.shape[1] != 1:
        raise ValueError(f"digits must be uint8 (N, 1, H, W), got {digits.dtype} {tuple(digits.shape)}")
    if colour_ids.shape != (digits.shape[0],):
        raise ValueError(f"need one colour id per digit, got {tuple(colour_ids.shape)} for {digits.shape[0]} digits")
    if colour_ids.numel() and (int(colour_ids.min()) < 0 or int(colour_ids.max()) >= len(palette)):
        raise ValueError(f"colour ids must be in [0, {len(palette)})")
    ink = digits.float() / 255
    background = palette[colour_ids].view(-1, 3, 1, 1)
    return to_uint8(ink + (1 - ink) * background)


def coloured_digits(dataset: ImageDataset, rho: float, *, seed: int, palette_size: int = PALETTE_SIZE
                    ) -> tuple[ImageDataset, torch.Tensor]:
    """``dataset``'s digits on backgrounds whose colour follows the label with strength ``rho``.

    With probability ``rho`` digit ``y`` gets colour ``y mod palette_size``, otherwise a
    uniformly drawn colour. Returns the coloured set (same labels) and the colour ids.
    """
    if not 0 <= rho <= 1:
        raise ValueError(f"rho must be in [0, 1], got {rho!r}")
    if dataset.labels.dim() != 1:
        raise ValueError("coloured_digits needs one label per image")
    generator = torch.Generator().manual_seed(seed)
    count = len(dataset)
    follows = torch.rand(count, generator=generator) < rho
    drawn = torch.randint(palette_size, (count,), generator=generator)
    colour_ids = torch.where(follows, dataset.labels % palette_size, drawn)
    images = colour_backgrounds(dataset.images, colour_ids, hue_palette(palette_size))
    name = f"coloured_{dataset.name}_rho{rho:g}"
    return ImageDataset(images, dataset.labels.clone(), dataset.classes, name, dataset.split, dataset.scale), colour_ids


def colour_grid(dataset: ImageDataset, palette_size: int = PALETTE_SIZE) -> ImageDataset:
    """Every digit of ``dataset`` in every palette colour: an independent grid of (G_Y, G_U).

    Item ``k * len(dataset) + i`` is digit ``i`` on colour ``k``, so predictions reshaped to
    ``(palette_size, len(dataset))`` are indexed by (colour, digit).
    """
    palette = hue_palette(palette_size)
    images = torch.cat([colour_backgrounds(dataset.images, torch.full((len(dataset),), k), palette)
                        for k in range(palette_size)])
    return ImageDataset(images, dataset.labels.repeat(palette_size), dataset.classes, f"{dataset.name}_colour_grid",
                        dataset.split, dataset.scale)


class HueRotation:
    """Rotate each image's colours about the grey axis by a random multiple of
    ``360 / palette_size`` degrees: the palette is permuted, strokes stay white.

    Use as ``train(..., augment=HueRotation(generator=...))`` on coloured digits.
    """

    def __init__(self, palette_size: int = PALETTE_SIZE, *, generator: torch.Generator) -> None:
        if not isinstance(palette_size, int) or palette_size < 2:
            raise ValueError(f"palette_size must be an int >= 2, got {palette_size!r}")
        self.palette_size = palette_size
        self.generator = generator
        self.matrices = torch.stack([hue_rotation_matrix(2 * math.pi * k / palette_size) for k in range(palette_size)])

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"HueRotation needs RGB images (N, 3, H, W), got {tuple(images.shape)}")
        shifts = torch.randint(self.palette_size, (images.shape[0],), generator=self.generator)
        matrices = self.matrices.to(images.device)[shifts.to(images.device)]
        rotated = torch.einsum("nij,njhw->nihw", matrices, images - _GREY) + _GREY
        return rotated.clamp(0, 1)
