"""G2LVAP: train a generator of localized visible adversarial patches against a fixed classifier.

Zhou, Pan, Hu & Duan, PR&AI 2020 (seed S1). The attacked classifier plays the GAN's
discriminator and stays fixed; only the generator G learns. Every step draws B latent vectors
z ~ U[0, 1]^100 and B training images, and builds two adversarial batches: A(x_n, delta_n)
and A(x_n, delta_n'), where delta' is the same patches in a shuffled order with no patch
left in place, and A pastes a patch at a uniformly random position (a fresh one every pass, so
the patches work anywhere). The loss is

    L = L_f + alpha * L_d + beta * L_p,    alpha = 20, beta = 0.1,

* fooling, ``L_f = mean_n -log(1 - P_{y(x_n)}(A(x_n, delta_n)))``, y(x) the clean prediction
  (untargeted): the paper's equation (3) per image, averaged over the batch. NAG averages the
  probability over the batch before the log instead (``per_image=False`` in
  :func:`fooling_loss`); that form hardly moves photos classified with confidence near 1,
  whose probability gradient vanishes (one trial, 67-pixel patches, 32 steps: 17 % of test
  photos fooled against 22 % per image);
* diversity, ``L_d = -mean_n d(f_c(A(x_n, delta_n)), f_c(A(x_n, delta_n')))`` on the last
  convolutional feature map f_c;
* distance, ``L_p = -mean_n d(delta_n, delta_n')`` on the patches themselves.

The paper gives d as "the 2-norm distance" and its formula bodies for L_d and L_p are missing
from our text. The book takes d as the root-mean-square difference, the 2-norm divided by the
square root of the number of entries, so that alpha and beta weigh the same whatever the
layer's or the patch's size (a raw 2-norm over the 62,720 features of EfficientNet-Lite0
would outweigh the fooling loss by orders of magnitude). Patches are compared in the paper's
[-1, 1] range. Both the same position and the same image are used for the pair, so the
diversity loss sees only the difference of the patches.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from advlib.patches.features import FeatureTap, last_conv_layer
from advlib.patches.generator import PatchGenerator
from advlib.patches.placement import paste, random_positions
from advlib.utils import frozen_eval


@dataclass(frozen=True)
class G2LVAPConfig:
    """Settings of one generator's training (defaults: the paper's where it gives them)."""

    patch_size: int
    steps: int
    batch_size: int = 16
    lr: float = 1e-3
    alpha: float = 20.0
    beta: float = 0.1
    latent_dim: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (the shuffled branch needs a second patch), "
                             f"got {self.batch_size}")
        if self.lr <= 0 or self.alpha < 0 or self.beta < 0:
            raise ValueError(f"need lr > 0 and alpha, beta >= 0; got {self.lr}, {self.alpha}, {self.beta}")


@dataclass
class G2LVAPResult:
    """A trained generator with its per-step history (losses and the share of the batch fooled)."""

    generator: PatchGenerator
    config: G2LVAPConfig
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def derangement(count: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random permutation that moves every index (a random cycle through all of them)."""
    if count < 2:
        raise ValueError(f"a derangement needs at least 2 elements, got {count}")
    order = torch.randperm(count, generator=generator)
    result = torch.empty(count, dtype=torch.int64)
    result[order] = order.roll(-1)
    return result


def rms_distance(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Per-sample root-mean-square difference: the 2-norm over sqrt(number of entries)."""
    return (first - second).flatten(1).pow(2).mean(dim=1).add(1e-12).sqrt()


def fooling_loss(logits: torch.Tensor, clean_labels: torch.Tensor, per_image: bool = True) -> torch.Tensor:
    """``mean_n -log(1 - P_y(x_n)(A(x_n, delta_n)))``: small when the clean class loses its
    probability. With ``per_image=False``, NAG's form: the probability is averaged over the
    batch before the logarithm."""
    kept = F.softmax(logits, dim=1).gather(1, clean_labels[:, None]).squeeze(1)
    if not per_image:
        return -torch.log1p(-kept.mean().clamp(max=1 - 1e-6))
    # log(1 - p) from the logits, exact even where p rounds to 1 in float32
    log_rest = torch.logsumexp(logits.scatter(1, clean_labels[:, None], float("-inf")), dim=1)
    return (torch.logsumexp(logits, dim=1) - log_rest).mean()


def g2lvap_losses(
    model: nn.Module,
    features_of: FeatureTap,
    images: torch.Tensor,
    clean_labels: torch.Tensor,
    patches: torch.Tensor,
    positions: torch.Tensor,
    shuffle: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The three losses of one step, from one forward pass over both adversarial batches."""
    count = images.shape[0]
    shuffled = patches[shuffle]
    adversarial = paste(torch.cat([images, images]), torch.cat([patches, shuffled]), torch.cat([positions, positions]))
    with features_of:
        logits = model(adversarial)
    features = features_of.features
    losses = {
        "fooling": fooling_loss(logits[:count], clean_labels),
        "diversity": -rms_distance(features[:count], features[count:]).mean(),
        "distance": -rms_distance(2 * patches - 1, 2 * shuffled - 1).mean(),
    }
    losses["fooled"] = (logits[:count].argmax(1) != clean_labels).float().mean().detach()
    return losses


def train_g2lvap(
    model: nn.Module,
    images: torch.Tensor,
    clean_labels: torch.Tensor,
    config: G2LVAPConfig,
    *,
    device: torch.device | str = "cpu",
    feature_layer: nn.Module | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> G2LVAPResult:
    """Train a :class:`PatchGenerator` against ``model`` (kept fixed, in eval mode).

    Args:
        model: classifier taking images in [0, 1].
        images: the training images, uint8 or float in [0, 1], (N, 3, H, W), kept where they
            are (batches are moved to ``device`` one at a time).
        clean_labels: the model's clean predictions y(x) for ``images`` (the attack is
            untargeted against them).
        feature_layer: where f_c is read; default :func:`last_conv_layer` of the model.
        on_step: called after every step with the step number and its losses.
    """
    if images.dim() != 4 or images.shape[0] != clean_labels.shape[0]:
        raise ValueError(f"need (N, 3, H, W) images with N labels, got {tuple(images.shape)} and "
                         f"{tuple(clean_labels.shape)}")
    if images.shape[0] < 1:
        raise ValueError("no training images")
    device = torch.device(device)
    sampler = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    generator = PatchGenerator(config.patch_size, config.latent_dim).to(device)
    optimizer = torch.optim.Adam(generator.parameters(), lr=config.lr)
    tap = FeatureTap(feature_layer or last_conv_layer(model))
    result = G2LVAPResult(generator, config)
    started = time.perf_counter()
    image_size = tuple(images.shape[-2:])
    with frozen_eval(model):
        generator.train()
        for step in range(config.steps):
            chosen = torch.randint(0, images.shape[0], (config.batch_size,), generator=sampler)
            batch = images[chosen].to(device)
            batch = batch.float().div(255) if batch.dtype == torch.uint8 else batch.float()
            latent = torch.rand(config.batch_size, config.latent_dim, generator=sampler).to(device)
            positions = random_positions(config.batch_size, image_size, config.patch_size, sampler)
            losses = g2lvap_losses(model, tap, batch, clean_labels[chosen].to(device), generator(latent), positions,
                                   derangement(config.batch_size, sampler).to(device))
            total = losses["fooling"] + config.alpha * losses["diversity"] + config.beta * losses["distance"]
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            optimizer.step()
            record = {name: value.item() for name, value in losses.items()} | {"total": total.item()}
            result.history.append(record)
            if on_step is not None:
                on_step(step, record)
    generator.eval()
    result.seconds = time.perf_counter() - started
    return result
