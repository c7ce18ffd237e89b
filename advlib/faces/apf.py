"""APF, the adversarial privacy-preserving filter (Zhang, Sang et al., ACM MM 2020).

Three parts, following the talk (seed S0) and the authors' code (github.com/
adversarial-for-goodness/APF, as summarised in REPRO_SPEC section 1):

1. **Image-specific gradient, on the device.** An attack on the small probe model pushes the
   photo's embedding away from the owner's enrolled photo: ``g = x_adv - x``
   (:func:`embedding_attack`, any of FGSM, I-FGSM, MI-FGSM, DI2-FGSM).
2. **Gradient transfer, in the cloud.** A U-net ``T`` turns the probe's perturbation into one
   that works on the server model: ``g_hat = T(g)`` (:class:`TransferNet`). The cloud only
   ever sees ``g``, never the photo.
3. **Universal enhancement.** An image-agnostic perturbation ``u`` (here a universal
   adversarial perturbation of the probe, :func:`universal_perturbation`), scaled by learned
   ``alpha``, ``beta`` and a 1x1 convolution, is added: ``s = clip(T(g) + u', -eps, eps)``.

``T`` is trained against the server (white box for the filter's maker) to push the protected
photo's server embedding away from the enrolled photo's (:func:`train_transfer`).

Choices of the book, stated where they differ from the code: ``T`` is residual (its last
layer starts at zero, so ``T(g) = g`` before training and training starts from the probe's
own perturbation); the protected photo is stored as 8-bit pixels inside the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from advlib.attacks import difgsm, fgsm, ifgsm, mifgsm
from advlib.utils import frozen_eval, seed_everything, to_8bit_within

ATTACKS = ("FGSM", "I-FGSM", "MI-FGSM", "DI2-FGSM")


def distance_objective(enrolled: torch.Tensor) -> Callable[[torch.Tensor, torch.Tensor, bool], torch.Tensor]:
    """The attack objective ``||e(x') - e_enrolled||^2`` per sample, to ascend.

    advlib's attacks take "labels"; here a label is the row of ``enrolled`` that a photo
    must move away from (so the batched engine keeps each photo with its own reference).
    """
    enrolled = F.normalize(enrolled.detach(), dim=1)

    def objective(embeddings: torch.Tensor, rows: torch.Tensor, targeted: bool) -> torch.Tensor:
        distance = (embeddings - enrolled[rows]).pow(2).sum(dim=1)
        return -distance if targeted else distance

    return objective


def embedding_attack(
    model: nn.Module,
    images: torch.Tensor,
    enrolled: torch.Tensor,
    attack: str,
    *,
    eps: float,
    steps: int = 10,
    alpha: float = 2 / 255,
    decay: float = 1.0,
    diversity_prob: float = 0.5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Adversarial photos that ``model`` no longer embeds near ``enrolled`` (one row per photo).

    The paper's settings: FGSM is one step of eps; the iterative attacks take ``steps`` of
    ``alpha`` (10 x 2/255 in APF's code); MI-FGSM uses momentum ``decay`` 1.0; DI2-FGSM
    resizes and pads with probability ``diversity_prob`` 0.5.
    """
    if attack not in ATTACKS:
        raise ValueError(f"attack must be one of {ATTACKS}, got {attack!r}")
    if enrolled.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} photos but {enrolled.shape[0]} enrolled embeddings")
    rows = torch.arange(images.shape[0], device=images.device)
    loss = distance_objective(enrolled.to(images.device))
    if attack == "FGSM":
        return fgsm(model, images, rows, eps, loss=loss)
    if attack == "I-FGSM":
        return ifgsm(model, images, rows, eps, alpha=alpha, steps=steps, loss=loss)
    if attack == "MI-FGSM":
        return mifgsm(model, images, rows, eps, alpha=alpha, steps=steps, decay=decay, loss=loss)
    return difgsm(
        model, images, rows, eps, alpha=alpha, steps=steps, diversity_prob=diversity_prob, loss=loss,
        generator=generator,
    )


def universal_perturbation(
    model: nn.Module,
    images: torch.Tensor,
    enrolled: torch.Tensor,
    *,
    eps: float,
    epochs: int = 5,
    step: float = 1 / 255,
    batch_size: int = 32,
) -> torch.Tensor:
    """One perturbation u (C, H, W), ``||u||_inf <= eps``, that moves every photo's embedding
    away from its enrolled one: signed-gradient ascent on the batch-summed distance,
    projected to the ball after every step (the accumulation the spec's proxy names)."""
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    universal = torch.zeros_like(images[0])
    loss = distance_objective(enrolled)
    with frozen_eval(model):
        for _ in range(epochs):
            for start in range(0, images.shape[0], batch_size):
                batch = images[start : start + batch_size]
                rows = torch.arange(start, start + batch.shape[0], device=images.device)
                universal.requires_grad_(True)
                objective = loss(model((batch + universal).clamp(0, 1)), rows, False).sum()
                (grad,) = torch.autograd.grad(objective, universal)
                universal = (universal.detach() + step * grad.sign()).clamp(-eps, eps)
    return universal.detach()


def _down(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1), nn.LeakyReLU(0.2))


def _up(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1), nn.LeakyReLU(0.2)
    )


class TransferNet(nn.Module):
    """The cloud's U-net: probe perturbation g (N, C, H, W) -> perturbation for the server.

    Encoder of stride-2 convolutions with LeakyReLU, decoder of transposed convolutions with
    skip concatenations, no batch norm (as in APF's code, with fewer levels at class scale).
    Residual: ``T(g) = g + unet(g)``, the last layer zero-initialised. With ``universal``
    given, the universal branch ``conv1x1(alpha * u + beta)`` is added (alpha = 1, beta = 0
    and the 1x1 convolution the identity at the start). The output is clipped to ``eps``.
    """

    def __init__(
        self, channels: int, eps: float, width: int = 32, levels: int = 3, universal: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        if levels < 1 or width < 1 or eps <= 0:
            raise ValueError(f"levels and width must be >= 1 and eps > 0, got {levels}, {width}, {eps}")
        self.eps, self.levels = eps, levels
        widths = [width * 2**k for k in range(levels)]
        inputs = [channels, *widths[:-1]]
        self.encoder = nn.ModuleList(_down(c_in, c_out) for c_in, c_out in zip(inputs, widths, strict=True))
        self.decoder = nn.ModuleList(
            _up(widths[k] if k == levels - 1 else 2 * widths[k], widths[k - 1] if k else width)
            for k in reversed(range(levels))
        )
        self.head = nn.Conv2d(width + channels, channels, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.universal_branch = universal is not None
        if universal is not None:
            self.register_buffer("universal", universal.detach().clone())
            self.alpha = nn.Parameter(torch.tensor(1.0))
            self.beta = nn.Parameter(torch.tensor(0.0))
            self.mix = nn.Conv2d(channels, channels, 1)
            with torch.no_grad():
                self.mix.weight.copy_(torch.eye(channels).view(channels, channels, 1, 1))
                self.mix.bias.zero_()

    def forward(self, gradient: torch.Tensor) -> torch.Tensor:
        height, width = gradient.shape[-2:]
        multiple = 2**self.levels
        pad = (0, -width % multiple, 0, -height % multiple)
        x = F.pad(gradient / self.eps, pad)  # work on a unit scale, whatever eps is
        skips = []
        for layer in self.encoder:
            skips.append(x)
            x = layer(x)
        for k, layer in enumerate(self.decoder):
            x = layer(x)
            x = torch.cat([x, skips[-1 - k]], dim=1) if k < self.levels - 1 else x
        x = self.head(torch.cat([x, skips[0]], dim=1))[..., :height, :width]
        out = gradient + self.eps * x
        if self.universal_branch:
            out = out + self.mix((self.alpha * self.universal + self.beta).unsqueeze(0))
        return out.clamp(-self.eps, self.eps)


def protect(transfer: TransferNet | None, images: torch.Tensor, gradient: torch.Tensor, eps: float) -> torch.Tensor:
    """The protected photo ``x + s`` (or ``x + g`` without a transfer network), as 8-bit
    pixels inside the eps-ball: what the user actually uploads."""
    with torch.no_grad():
        noise = gradient if transfer is None else transfer(gradient)
        return to_8bit_within((images + noise).clamp(0, 1), images, eps)


@dataclass(frozen=True)
class TransferConfig:
    """Training of T against the server; APF's code: Adam 1e-4, batch 100, 50 epochs (GPU)."""

    epochs: int = 2
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(f"epochs and batch_size must be >= 1 and lr > 0, got {self}")


def train_transfer(
    transfer: TransferNet,
    server: nn.Module,
    images: torch.Tensor,
    gradients: torch.Tensor,
    enrolled: torch.Tensor,
    config: TransferConfig = TransferConfig(),
) -> list[float]:
    """Train ``transfer`` in place: maximise ``||server(x + s) - e_enrolled||^2`` on the
    training photos (APF's loss ``10 - d^2``, minimised, differs only by the constant).

    ``enrolled`` holds the server's embeddings of each photo's enrolled reference. The
    server is frozen. Returns the mean squared distance reached in each epoch.
    """
    if not images.shape[0] == gradients.shape[0] == enrolled.shape[0]:
        raise ValueError("images, gradients and enrolled embeddings must have the same length")
    generator = seed_everything(config.seed)
    enrolled = F.normalize(enrolled.detach(), dim=1)
    optimizer = torch.optim.Adam(transfer.parameters(), lr=config.lr)
    history = []
    transfer.train()
    with frozen_eval(server):
        for _ in range(config.epochs):
            order = torch.randperm(images.shape[0], generator=generator)
            total = 0.0
            for start in range(0, images.shape[0], config.batch_size):
                batch = order[start : start + config.batch_size].to(images.device)
                protected = (images[batch] + transfer(gradients[batch])).clamp(0, 1)
                distance = (server(protected) - enrolled[batch]).pow(2).sum(dim=1)
                loss = -distance.mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(distance.detach().sum())
            history.append(total / images.shape[0])
    transfer.eval()
    return history
