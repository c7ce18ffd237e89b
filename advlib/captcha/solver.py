"""A CAPTCHA cracker: a CNN that reads every character position at once.

The solver outputs logits of shape (N, C, L): C characters at each of L positions, the
layout :func:`torch.nn.functional.cross_entropy` takes for per-position labels (N, L). The
whole library then works on it unchanged: :func:`advlib.train.train` trains it,
:func:`advlib.attacks.iterative_attack` attacks every position at once (its objective is
summed over positions), :class:`advlib.attacks.EOT` averages it over random transforms.

A cracker may clean the image before reading it (median filter, binarisation): wrap the
solver in :class:`advlib.attacks.Preprocessed`, because a real cracker applies that step to
whatever the web site serves, adversarial or not.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from advlib.models.normalized import channels_last
from advlib.utils import frozen_eval


def _block(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class CaptchaSolver(nn.Module):
    """Reads at half resolution: an average pool, four conv blocks, one linear head per position.

    Halving the 160 x 60 image first (the strokes of a 40-pixel digit survive it) and
    striding three of the four blocks keep the solver cheap (about 12 MFLOPs forward at
    width 32), so it trains on two CPU cores in about a minute. The last feature map
    (4 rows x 10 columns) is pooled to 2 x (2 * length): each position's head sees the
    whole map, which keeps a left-to-right layout.
    """

    def __init__(
        self, num_classes: int = 10, length: int = 4, width: int = 32, in_channels: int = 3, dropout: float = 0.3,
    ) -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("length", length), ("width", width)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.num_classes, self.length = num_classes, length
        self.features = nn.Sequential(
            nn.AvgPool2d(2),
            _block(in_channels, width, 2),
            _block(width, 2 * width, 2),
            _block(2 * width, 4 * width, 2),
            _block(4 * width, 4 * width, 1),
            nn.AdaptiveAvgPool2d((2, 2 * length)),
            nn.Flatten(),
            nn.Dropout(dropout),
        )
        self.head = nn.Linear(4 * width * 2 * 2 * length, num_classes * length)
        channels_last(self)  # NHWC: a training step about 1.35x faster on 2 AMD EPYC cores (batch of 64)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images)).view(-1, self.num_classes, self.length)


@torch.no_grad()
def strings_read(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None, batch_size: int = 250,
) -> torch.Tensor:
    """Whether each CAPTCHA is read entirely right (all positions), after an optional
    transform; (N,) booleans on the CPU.

    Per CAPTCHA, so that two attacks on the same CAPTCHAs (under the same seeded transform)
    can be compared with a paired bootstrap interval (:mod:`advlib.intervals`).
    ``transform`` is applied batch by batch (give it a seeded generator for a reproducible
    outcome).
    """
    if labels.dim() != 2 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"labels must have shape ({images.shape[0]}, L), got {tuple(labels.shape)}")
    read_right = []
    with frozen_eval(model):
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size]
            if transform is not None:
                batch = transform(batch)
            read = model(batch).argmax(dim=1)
            read_right.append((read == labels[start : start + batch_size].to(read.device)).all(dim=1).cpu())
    return torch.cat(read_right)


def string_accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None, batch_size: int = 250,
) -> float:
    """Share of CAPTCHAs read entirely right (all positions), after an optional transform.

    This is the paper's "recognition rate": a CAPTCHA is cracked only if the whole string
    is right (see :func:`strings_read`).
    """
    return strings_read(model, images, labels, transform, batch_size).sum().item() / images.shape[0]
