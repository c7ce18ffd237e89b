"""Random test-time transforms (Easy / Medium / Hard) and crackers' preprocessing.

A CAPTCHA cracker is free to transform an image before reading it, and a CAPTCHA that
is adversarial only at one exact pixel grid is useless: a slight rotation, a rescale or
a JPEG round-trip would undo it. The paper therefore reports recognition "under random
transforms" at three strengths. Its exact transforms are not published; the book's are
stated in :data:`DIFFICULTIES` (rotation, scale, shift, Gaussian blur, Gaussian noise,
JPEG), each drawn independently per image from an explicit generator.

Every transform here is batched, device-agnostic and differentiable, except JPEG,
which is applied exactly in the forward pass and passed straight through (identity
gradient, i.e. BPDA) in the backward pass, so one transform object serves both the
evaluation and the attack's expectation over transforms.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from advlib.utils import to_uint8


@dataclass(frozen=True)
class TransformLevel:
    """One difficulty: the ranges each random transform is drawn from (uniformly)."""

    name: str
    rotation_deg: float
    scale: tuple[float, float]
    shift_px: float
    blur_sigma: tuple[float, float]
    noise_std: float
    jpeg_quality: int | None = None

    def __post_init__(self) -> None:
        low, high = self.scale
        if not 0 < low <= high:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {self.scale}")
        if self.rotation_deg < 0 or self.shift_px < 0 or self.noise_std < 0:
            raise ValueError("rotation_deg, shift_px and noise_std must be >= 0")
        if not 0 <= self.blur_sigma[0] <= self.blur_sigma[1]:
            raise ValueError(f"blur_sigma must be (low, high) with 0 <= low <= high, got {self.blur_sigma}")
        if self.jpeg_quality is not None and not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100 or None, got {self.jpeg_quality}")


DIFFICULTIES: dict[str, TransformLevel] = {
    level.name: level
    for level in (
        TransformLevel("easy", rotation_deg=5, scale=(0.95, 1.05), shift_px=2, blur_sigma=(0.0, 0.0), noise_std=0.01),
        TransformLevel("medium", rotation_deg=10, scale=(0.9, 1.1), shift_px=4, blur_sigma=(0.0, 0.8), noise_std=0.02),
        TransformLevel(
            "hard", rotation_deg=20, scale=(0.85, 1.15), shift_px=6, blur_sigma=(0.5, 1.2), noise_std=0.04,
            jpeg_quality=75,
        ),
    )
}


def get_level(level: str | TransformLevel) -> TransformLevel:
    """A difficulty by name ('easy', 'medium', 'hard') or as given."""
    if isinstance(level, TransformLevel):
        return level
    if level not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty {level!r}; choose one of {sorted(DIFFICULTIES)}")
    return DIFFICULTIES[level]


def _uniform(count: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    return low + (high - low) * torch.rand(count, generator=generator)


def random_affine(
    images: torch.Tensor, rotation_deg: float, scale: tuple[float, float], shift_px: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rotate, scale and shift each image by its own random amount (bilinear, edge padding).

    Edge padding repeats the border pixels, which on a CAPTCHA are background, so the
    transform does not paint black corners that a cracker would never see.
    """
    n, _, height, width = images.shape
    angle = _uniform(n, -rotation_deg, rotation_deg, generator) * math.pi / 180
    zoom = _uniform(n, *scale, generator)
    shift = _uniform(2 * n, -shift_px, shift_px, generator).view(n, 2)
    cos, sin = angle.cos() / zoom, angle.sin() / zoom
    # affine_grid works in normalised coordinates; correct rotation for the aspect ratio
    aspect = width / height
    theta = torch.stack(
        [
            torch.stack([cos, -sin / aspect, -2 * shift[:, 0] / width], dim=1),
            torch.stack([sin * aspect, cos, -2 * shift[:, 1] / height], dim=1),
        ],
        dim=1,
    ).to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur image ``i`` with a Gaussian of standard deviation ``sigma[i]`` pixels (0: unchanged)."""
    n, channels, height, width = images.shape
    sigma = sigma.to(images).view(n, 1)
    radius = max(1, math.ceil(3 * float(sigma.max())))
    offsets = torch.arange(-radius, radius + 1, device=images.device, dtype=images.dtype).view(1, -1)
    weights = torch.exp(-0.5 * (offsets / sigma.clamp_min(1e-6)) ** 2)
    weights = torch.where(sigma > 0, weights, (offsets == 0).to(images))
    kernel = (weights / weights.sum(dim=1, keepdim=True)).repeat_interleave(channels, dim=0)
    flat = images.reshape(1, n * channels, height, width)
    flat = F.pad(flat, (radius, radius, 0, 0), mode="replicate")
    flat = F.conv2d(flat, kernel.view(n * channels, 1, 1, -1), groups=n * channels)
    flat = F.pad(flat, (0, 0, radius, radius), mode="replicate")
    flat = F.conv2d(flat, kernel.view(n * channels, 1, -1, 1), groups=n * channels)
    return flat.view(n, channels, height, width)


def _jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """One (H, W, C) 8-bit image through JPEG; grey images (C = 1) stay grey."""
    grey = image.shape[-1] == 1
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if grey else image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    decoded = Image.open(buffer)
    return np.asarray(decoded.convert("L"))[..., None] if grey else np.asarray(decoded.convert("RGB"))


def jpeg(images: torch.Tensor, quality: int) -> torch.Tensor:
    """A real JPEG round-trip (libjpeg through Pillow) in the forward pass, identity gradient.

    JPEG quantises DCT coefficients, so its true gradient is zero almost everywhere; the
    straight-through estimate treats it as the identity, as BPDA does.
    """
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int in 1..100, got {quality!r}")
    with torch.no_grad():
        as_bytes = to_uint8(images).permute(0, 2, 3, 1).cpu().numpy()
        decoded = np.stack([_jpeg_round_trip(np.ascontiguousarray(image), quality) for image in as_bytes])
        exact = torch.from_numpy(decoded).permute(0, 3, 1, 2).to(images) / 255
    return images + (exact - images).detach()


class RandomCaptchaTransform:
    """A callable drawing a fresh random transform of one difficulty for every image.

    The order follows how an image degrades in the wild: geometry (rotation, scale,
    shift), optics (blur), sensor noise, then compression (JPEG). The output is clipped
    to [0, 1]. Pass a seeded ``generator`` for reproducible evaluation.
    """

    def __init__(self, level: str | TransformLevel, generator: torch.Generator | None = None) -> None:
        self.level = get_level(level)
        self.generator = generator

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        level, n = self.level, images.shape[0]
        out = random_affine(images, level.rotation_deg, level.scale, level.shift_px, self.generator)
        if level.blur_sigma[1] > 0:
            out = gaussian_blur(out, _uniform(n, *level.blur_sigma, self.generator))
        if level.noise_std > 0:
            noise = torch.randn(images.shape, generator=self.generator).to(images)
            out = out + level.noise_std * noise
        out = out.clamp(0, 1)
        if level.jpeg_quality is not None:
            out = jpeg(out, level.jpeg_quality)
        return out

    def __repr__(self) -> str:
        return f"RandomCaptchaTransform({self.level.name!r})"


# Compare-exchange pairs of a median-of-9 selection network (Paeth, "Median finding on a
# 3x3 grid", Graphics Gems 1990): after these 19 min/max steps, element 4 is the median.
_MEDIAN9_NETWORK = (
    (1, 2), (4, 5), (7, 8), (0, 1), (3, 4), (6, 7), (1, 2), (4, 5), (7, 8), (0, 3),
    (5, 8), (4, 7), (3, 6), (1, 4), (2, 5), (4, 7), (4, 2), (6, 4), (4, 2),
)


def median_filter(images: torch.Tensor, size: int = 3) -> torch.Tensor:
    """The median of each ``size`` x ``size`` neighbourhood, per channel (edge padding).

    A classic cracker's denoiser: it removes the thin noise curve and dots of a CAPTCHA,
    and with them much of a small adversarial perturbation. The 3 x 3 case runs as a
    selection network of element-wise min/max (about 5x faster than sorting on a CPU).
    """
    if not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise ValueError(f"size must be an odd int >= 1, got {size!r}")
    if size == 1:
        return images.clone()
    height, width = images.shape[-2:]
    pad = size // 2
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    views = [padded[..., i : i + height, j : j + width] for i in range(size) for j in range(size)]
    if size != 3:
        return torch.stack(views).median(dim=0).values
    for low, high in _MEDIAN9_NETWORK:
        views[low], views[high] = torch.minimum(views[low], views[high]), torch.maximum(views[low], views[high])
    return views[4]


def binarize(images: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Grey level above ``threshold`` becomes 1, the rest 0 (on all channels).

    The other classic cracker step: it throws away colour and faint noise. Its gradient is
    zero almost everywhere, so an attack needs BPDA to see through it.
    """
    grey = images.mean(dim=1, keepdim=True)
    binary = (grey > threshold).to(images).expand_as(images)
    # The step's true derivative, zero, kept attached to the graph: an attack that
    # differentiates through it gets the honest answer (no signal) rather than an error.
    return binary + 0 * grey
