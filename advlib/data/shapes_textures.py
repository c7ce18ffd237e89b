"""A generated shape x texture dataset: shape and texture as independent generative variables.

On ImageNet, shape and texture are confounded (elephants have elephant skin), so the data
cannot say which cue a network uses or *why*. Here every image is drawn from two
independent choices, a shape (circle, square, triangle, cross) and a surface texture
(stripes, dots, checker, grain), so an experiment can decide how they relate:

* ``"matched"``: texture i always fills shape i. Both cues predict the label perfectly,
  as on ImageNet; the network is free to use either.
* ``"random"``: the texture is drawn independently of the shape, so only shape predicts
  the label (the analogue of Stylized-ImageNet, where style transfer randomises texture).
* ``"conflict"``: the texture is always another class's (the cue-conflict test).

The label is always the shape. The shape is a large, high-contrast region: its brightness (the
unweighted mean of the three channels) is set ``MIN_CONTRAST`` to 0.5 away from the
background's, then a small colour tint and the clip that keeps the texture unsaturated move
the difference (in 200,000 draws: down to 0.16, below ``MIN_CONTRAST`` for about a quarter of
the shapes, up to 0.56). The texture is a
fine pattern of low amplitude (``TEXTURE_AMPLITUDE``) on the shape's surface, like the
fur or skin of an animal. Position, size, rotation, colours and texture phase vary at
random. Everything is drawn from one seeded generator, so a split is a pure function of
its seed.
"""

from __future__ import annotations

import math

import torch

from advlib.data.dataset import ImageDataset
from advlib.utils import to_uint8

SHAPES = ("circle", "square", "triangle", "cross")
TEXTURES = ("stripes", "dots", "checker", "grain")
MODES = ("matched", "random", "conflict")
TEXTURE_AMPLITUDE = 0.15
MIN_CONTRAST = 0.3


def _grid(count: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    coords = torch.arange(size, dtype=torch.float32) + 0.5
    rows = coords.view(1, size, 1).expand(count, size, size)
    cols = coords.view(1, 1, size).expand(count, size, size)
    return rows, cols


def _shape_masks(shape_ids: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """(N, H, W) masks in {0, 1}: each shape at a random centre, radius and rotation."""
    count = shape_ids.shape[0]
    rows, cols = _grid(count, size)
    radius = size * (0.26 + 0.10 * torch.rand(count, generator=generator))
    margin = radius + 1
    centre_r = margin + (size - 2 * margin) * torch.rand(count, generator=generator)
    centre_c = margin + (size - 2 * margin) * torch.rand(count, generator=generator)
    angle = 2 * math.pi * torch.rand(count, generator=generator)
    dr, dc = rows - centre_r.view(-1, 1, 1), cols - centre_c.view(-1, 1, 1)
    cos, sin = angle.cos().view(-1, 1, 1), angle.sin().view(-1, 1, 1)
    u, v = cos * dc + sin * dr, -sin * dc + cos * dr  # coordinates in the shape's own frame
    r = radius.view(-1, 1, 1)
    circle = u**2 + v**2 <= r**2
    square = (u.abs() <= 0.8 * r) & (v.abs() <= 0.8 * r)
    # equilateral triangle inscribed in the circle of radius r: three half-planes
    triangle = torch.ones_like(circle)
    for k in range(3):
        theta = math.pi / 2 + 2 * math.pi * k / 3
        triangle &= u * math.cos(theta) + v * math.sin(theta) <= r / 2
    cross = ((u.abs() <= 0.3 * r) & (v.abs() <= r)) | ((v.abs() <= 0.3 * r) & (u.abs() <= r))
    masks = torch.stack([circle, square, triangle, cross], dim=1)  # (N, 4, H, W)
    return masks[torch.arange(count), shape_ids].float()


def _textures(texture_ids: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """(N, H, W) patterns in [-1, 1] with a random phase (and orientation for stripes)."""
    count = texture_ids.shape[0]
    rows, cols = _grid(count, size)
    phase_r = 4 * torch.rand(count, 1, 1, generator=generator)
    phase_c = 4 * torch.rand(count, 1, 1, generator=generator)
    angle = math.pi * torch.rand(count, 1, 1, generator=generator)
    along = (rows + phase_r) * angle.cos() + (cols + phase_c) * angle.sin()
    stripes = torch.sign(torch.sin(2 * math.pi * along / 4))
    cell_r, cell_c = torch.remainder(rows + phase_r, 4) - 2, torch.remainder(cols + phase_c, 4) - 2
    dots = torch.where(cell_r**2 + cell_c**2 <= 1.1, 1.0, -1.0)
    checker = torch.where((torch.floor((rows + phase_r) / 2) + torch.floor((cols + phase_c) / 2)) % 2 == 0, 1.0, -1.0)
    grain = torch.where(torch.rand(count, size, size, generator=generator) < 0.5, 1.0, -1.0)
    patterns = torch.stack([stripes, dots, checker, grain], dim=1)
    return patterns[torch.arange(count), texture_ids]


def _colours(count: int, amplitude: float, contrast: float, generator: torch.Generator
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Foreground and background RGB colours whose brightness is set ``contrast`` to 0.5
    apart, then tinted (up to 0.075 per channel) and kept inside [A, 1 - A] so the texture
    (amplitude A) never clips; tint and clip can bring the difference below ``contrast``."""
    low, high = amplitude, 1 - amplitude
    background = low + (high - low) * torch.rand(count, 3, generator=generator)
    offset = contrast + (0.5 - contrast) * torch.rand(count, 1, generator=generator)
    direction = torch.where(background.mean(1, keepdim=True) > 0.5, -1.0, 1.0)
    tint = 0.15 * (torch.rand(count, 3, generator=generator) - 0.5)
    foreground = (background + direction * offset + tint).clamp(low, high)
    return foreground, background


def render(shape_ids: torch.Tensor, texture_ids: torch.Tensor, *, size: int = 32, generator: torch.Generator,
           texture_amplitude: float = TEXTURE_AMPLITUDE, min_contrast: float = MIN_CONTRAST) -> torch.Tensor:
    """Draw images (uint8, N x 3 x size x size) for the given shape and texture indices."""
    if shape_ids.shape != texture_ids.shape or shape_ids.dim() != 1:
        raise ValueError("shape_ids and texture_ids must be 1-d tensors of one length")
    if shape_ids.numel() and (int(shape_ids.min()) < 0 or int(shape_ids.max()) >= len(SHAPES)):
        raise ValueError(f"shape ids must be in [0, {len(SHAPES)})")
    if texture_ids.numel() and (int(texture_ids.min()) < 0 or int(texture_ids.max()) >= len(TEXTURES)):
        raise ValueError(f"texture ids must be in [0, {len(TEXTURES)})")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels, got {size}")
    if not (0 <= texture_amplitude < 0.5 and 0 <= min_contrast <= 0.5):
        raise ValueError(f"need 0 <= texture_amplitude < 0.5 and 0 <= min_contrast <= 0.5, got "
                         f"{texture_amplitude!r} and {min_contrast!r}")
    count = shape_ids.shape[0]
    masks = _shape_masks(shape_ids, size, generator).unsqueeze(1)
    patterns = _textures(texture_ids, size, generator).unsqueeze(1)
    foreground, background = _colours(count, texture_amplitude, min_contrast, generator)
    surface = foreground.view(count, 3, 1, 1) + texture_amplitude * patterns
    images = masks * surface + (1 - masks) * background.view(count, 3, 1, 1)
    return to_uint8(images)


def shapes_textures(count: int, mode: str, *, seed: int, size: int = 32, split: str = "train",
                    texture_amplitude: float = TEXTURE_AMPLITUDE, min_contrast: float = MIN_CONTRAST
                    ) -> tuple[ImageDataset, torch.Tensor]:
    """``count`` images labelled by shape, and their texture labels.

    Shapes are balanced (``count`` // 4 each, the rest spread over the first classes) and
    shuffled. ``mode`` decides the textures (see the module docstring).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}")
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    generator = torch.Generator().manual_seed(seed)
    shape_ids = torch.arange(count) % len(SHAPES)
    shape_ids = shape_ids[torch.randperm(count, generator=generator)]
    if mode == "matched":
        texture_ids = shape_ids.clone()
    elif mode == "random":
        texture_ids = torch.randint(len(TEXTURES), (count,), generator=generator)
    else:  # another class's texture, uniformly among the other three
        texture_ids = (shape_ids + torch.randint(1, len(TEXTURES), (count,), generator=generator)) % len(TEXTURES)
    images = render(shape_ids, texture_ids, size=size, generator=generator,
                    texture_amplitude=texture_amplitude, min_contrast=min_contrast)
    dataset = ImageDataset(images, shape_ids, SHAPES, f"shapes_textures_{mode}", split, "generated")
    return dataset, texture_ids
