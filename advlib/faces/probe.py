"""The probe: a small face-embedding network that runs on the user's device.

APF computes the image-specific gradient on a compressed model at the user end (MobileFaceNet
in the paper's code) so the original photo never has to leave the device. The book's probe
is a MobileNet-style network of depthwise-separable convolutions (about 0.3 M parameters,
against FaceNet's 23 M), a different architecture from the server's, trained by distillation:
it learns to map a face to the server's embedding of that face, on the training identities
only. The server's weights are never copied into it; only its outputs on training photos are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from advlib.utils import seed_everything

PROBE_SIZE = 112


def _separable(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False),
        nn.BatchNorm2d(in_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class ProbeNet(nn.Module):
    """Faces in [0, 1] (N, C, H, W) -> L2-normalised embeddings (N, embedding_size).

    Inputs are resized to 112x112 first, so photos of any size work.
    """

    def __init__(self, in_channels: int = 1, embedding_size: int = 512, width: int = 32) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False),  # 56
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            _separable(width, 2 * width, 2),  # 28
            _separable(2 * width, 2 * width, 1),
            _separable(2 * width, 4 * width, 2),  # 14
            _separable(4 * width, 4 * width, 1),
            _separable(4 * width, 8 * width, 2),  # 7
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.embedding = nn.Sequential(nn.Linear(8 * width, embedding_size, bias=False), nn.BatchNorm1d(embedding_size))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != self.in_channels:
            raise ValueError(f"ProbeNet expects (N, {self.in_channels}, H, W), got shape {tuple(images.shape)}")
        if images.shape[-2:] != (PROBE_SIZE, PROBE_SIZE):
            images = F.interpolate(images, size=(PROBE_SIZE, PROBE_SIZE), mode="bilinear", align_corners=False)
        return F.normalize(self.embedding(self.features(images)), dim=1)


@dataclass(frozen=True)
class DistillConfig:
    """Distillation settings; the defaults train the class-scale probe in seconds on a CPU."""

    epochs: int = 40
    batch_size: int = 32
    lr: float = 3e-3
    max_shift: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.max_shift < 0:
            raise ValueError(f"lr must be > 0 and max_shift >= 0, got {self.lr} and {self.max_shift}")


def _augment(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Random horizontal flips and shifts (edge-padded), which leave a face's identity alone."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    images = torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)
    if max_shift == 0:
        return images
    height, width = images.shape[-2:]
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2,), generator=generator).tolist()
    return padded[..., dy : dy + height, dx : dx + width]


def distill_probe(
    probe: ProbeNet, images: torch.Tensor, targets: torch.Tensor, config: DistillConfig = DistillConfig()
) -> list[float]:
    """Train ``probe`` in place so that probe(x) matches the server's embedding ``targets``.

    Loss: mean squared distance of the normalised embeddings (= 2 - 2 cos). Adam with a
    cosine-decayed learning rate. Returns the mean loss of each epoch.
    """
    if images.shape[0] != targets.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {targets.shape[0]} target embeddings")
    generator = seed_everything(config.seed)
    device = next(probe.parameters()).device
    images, targets = images.to(device), F.normalize(targets.to(device), dim=1)
    optimizer = torch.optim.Adam(probe.parameters(), lr=config.lr)
    steps_per_epoch = -(-images.shape[0] // config.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs * steps_per_epoch)
    history = []
    probe.train()
    for _ in range(config.epochs):
        order = torch.randperm(images.shape[0], generator=generator).to(device)
        total = 0.0
        for start in range(0, images.shape[0], config.batch_size):
            batch = order[start : start + config.batch_size]
            if batch.numel() < 2:  # batch norm needs two samples
                continue
            inputs = _augment(images[batch], config.max_shift, generator)
            loss = (probe(inputs) - targets[batch]).pow(2).sum(dim=1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * batch.numel()
        history.append(total / images.shape[0])
    probe.eval()
    return history
