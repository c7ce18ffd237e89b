"""Gradient-sign and normalised-gradient attacks: FGSM, I-FGSM/BIM, PGD, MI-FGSM, DI2-FGSM.

They are all one algorithm with different switches, so they share one engine,
:func:`iterative_attack`; the named functions only set the switches and the defaults of
their papers. The constrained problem being solved (survey, seed S2, section 3) is

    maximise_{x'} L(f(x'), y)   subject to   ||x' - x|| <= eps,  x' in [0, 1]^d,

by projected steps ``x' <- Proj(x' + alpha * direction(grad))`` where the direction is the
sign of the gradient under L-inf and the L2-normalised gradient under L2.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from advlib.attacks import _checks
from advlib.attacks.diversity import input_diversity
from advlib.attacks.losses import attack_objective, is_adversarial
from advlib.utils import frozen_eval

Model = nn.Module | Callable[[torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, torch.Tensor], None]
Objective = Callable[[torch.Tensor, torch.Tensor, bool], torch.Tensor]
_TINY = 1e-12


def _per_sample_norm(tensor: torch.Tensor, p: float) -> torch.Tensor:
    """Norm of each sample, shaped (N, 1, 1, ...) to broadcast back over the sample."""
    norms = tensor.flatten(1).norm(p=p, dim=1)
    return norms.view(-1, *([1] * (tensor.dim() - 1)))


def _step_direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """Steepest-ascent direction of unit norm: sign (L-inf) or grad/||grad||_2 (L2)."""
    if norm == "linf":
        return grad.sign()
    return grad / _per_sample_norm(grad, 2).clamp_min(_TINY)


def project(adv: torch.Tensor, images: torch.Tensor, eps: torch.Tensor, norm: str) -> torch.Tensor:
    """Project onto the eps-ball around ``images`` intersected with the [0, 1] box.

    Clipping to the ball and then to the box is the exact projection for L-inf (both are
    coordinate-wise) and the standard approximation for L2 (as in Madry et al.).
    """
    delta = adv - images
    if norm == "linf":
        delta = torch.maximum(torch.minimum(delta, eps), -eps)
    else:
        scale = (eps / _per_sample_norm(delta, 2).clamp_min(_TINY)).clamp(max=1.0)
        delta = delta * scale
    return (images + delta).clamp(0.0, 1.0)


def random_start_in_ball(
    images: torch.Tensor, eps: torch.Tensor, norm: str, generator: torch.Generator | None
) -> torch.Tensor:
    """A uniform random point of the eps-ball (then clipped to the box).

    Noise is drawn on the CPU generator and moved to the images' device, so a seed gives
    the same start on every device.
    """
    shape, dtype = images.shape, images.dtype
    if norm == "linf":
        noise = torch.rand(shape, generator=generator, dtype=dtype).mul_(2).sub_(1)
        noise = noise.to(images.device) * eps
    else:
        direction = torch.randn(shape, generator=generator, dtype=dtype)
        direction = direction / _per_sample_norm(direction, 2).clamp_min(_TINY)
        dims = images[0].numel()
        radius = torch.rand((shape[0],), generator=generator, dtype=dtype).pow(1.0 / dims)
        noise = (direction * radius.view(-1, *([1] * (images.dim() - 1)))).to(images.device) * eps
    return (images + noise).clamp(0.0, 1.0)


def iterative_attack(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    alpha: float | torch.Tensor,
    steps: int,
    norm: str = "linf",
    random_start: bool = False,
    restarts: int = 1,
    decay: float = 0.0,
    diversity_prob: float = 0.0,
    resize_rate: float = 0.9,
    targeted: bool = False,
    loss: str | Objective = "ce",
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """The shared engine. Returns adversarial images in [0, 1]; never modifies ``images``.

    Args:
        model: maps images in [0, 1] to logits (wrap normalisation with ``Normalized``):
            (N, C), or (N, C, L) for a model that reads L symbols (a CAPTCHA solver).
        labels: true labels, or *target* labels when ``targeted=True``; (N,), or (N, L)
            with sequence logits (every position is then attacked at once).
        loss: 'ce', 'margin', or a callable ``loss(output, labels, targeted)`` returning
            one objective per sample (e.g. CTC for a recogniser without fixed positions).
        eps, alpha: budget and step size; a number or one value per sample, shape (N,).
        decay: momentum factor mu of MI-FGSM (0 disables momentum). The accumulated
            gradient is ``g <- mu * g + grad / ||grad||_1``.
        diversity_prob, resize_rate: input diversity of DI2-FGSM (0 disables it).
        restarts: independent random starts; per sample, the first successful restart is
            kept, otherwise the one with the highest final objective.
        callback: called as ``callback(step, adv)`` after every step (of every restart),
            e.g. to record accuracy against the number of iterations.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images, sequences=True)
    eps_t = _checks.check_budget(eps, images, "eps")
    alpha_t = _checks.check_budget(alpha, images, "alpha")
    steps = _checks.check_positive_int(steps, "steps")
    restarts = _checks.check_positive_int(restarts, "restarts")
    norm = _checks.check_norm(norm)
    loss = _checks.check_loss(loss)
    if callable(loss) and restarts > 1:
        raise ValueError("restarts > 1 needs a built-in loss ('ce' or 'margin') to tell which restart succeeded")
    _checks.check_fraction(decay, "decay", 0.0, float("inf"))
    _checks.check_fraction(diversity_prob, "diversity_prob", 0.0, 1.0)
    _checks.check_fraction(resize_rate, "resize_rate", 0.0, 1.0, low_open=True)

    original = images.detach()
    best_adv, best_score, best_success = None, None, None
    with frozen_eval(model):
        for _ in range(restarts):
            adv = random_start_in_ball(original, eps_t, norm, generator) if random_start else original.clone()
            momentum = torch.zeros_like(original)
            for step in range(steps):
                adv.requires_grad_(True)
                model_input = input_diversity(
                    adv, probability=diversity_prob, resize_rate=resize_rate, generator=generator
                )
                objective = attack_objective(model(model_input), labels, loss=loss, targeted=targeted)
                (grad,) = torch.autograd.grad(objective.sum(), adv)
                adv = adv.detach()
                if decay > 0.0:
                    momentum = decay * momentum + grad / _per_sample_norm(grad, 1).clamp_min(_TINY)
                    grad = momentum
                adv = project(adv + alpha_t * _step_direction(grad, norm), original, eps_t, norm)
                if callback is not None:
                    callback(step + 1, adv)
            if restarts == 1:
                return adv
            best_adv, best_score, best_success = _keep_best(
                model, adv, labels, targeted, loss, best_adv, best_score, best_success
            )
    return best_adv


@torch.no_grad()
def _keep_best(
    model: Model,
    adv: torch.Tensor,
    labels: torch.Tensor,
    targeted: bool,
    loss: str | Objective,
    best_adv: torch.Tensor | None,
    best_score: torch.Tensor | None,
    best_success: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge one restart into the running best, per sample (success first, then objective)."""
    logits = model(adv)
    success = is_adversarial(logits, labels, targeted)
    score = attack_objective(logits, labels, loss=loss, targeted=targeted)
    if best_adv is None:
        return adv, score, success
    better = (success & ~best_success) | ((success == best_success) & ~best_success & (score > best_score))
    mask = better.view(-1, *([1] * (adv.dim() - 1)))
    return (
        torch.where(mask, adv, best_adv),
        torch.where(better, score, best_score),
        best_success | success,
    )


def fgsm(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    norm: str = "linf",
    targeted: bool = False,
    loss: str | Objective = "ce",
) -> torch.Tensor:
    """Fast Gradient Sign Method (Goodfellow et al., ICLR 2015): ``x + eps * sign(grad)``.

    With ``norm='l2'`` this is the fast gradient method, one step of length eps along the
    normalised gradient.
    """
    return iterative_attack(
        model, images, labels, eps=eps, alpha=eps, steps=1, norm=norm, targeted=targeted, loss=loss
    )


def _default_alpha(eps: float | torch.Tensor, steps: int, factor: float) -> float | torch.Tensor:
    if isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1:
        return eps * factor / steps
    return eps  # invalid steps; the engine raises a clear error


def bim(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    alpha: float | torch.Tensor | None = None,
    steps: int = 10,
    norm: str = "linf",
    targeted: bool = False,
    loss: str | Objective = "ce",
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Basic Iterative Method / I-FGSM (Kurakin et al., 2017): PGD started at the input.

    Default step ``alpha = 2.5 * eps / steps`` (Madry et al.'s rule), so the iterates can
    reach the boundary of the ball and move along it.
    """
    return iterative_attack(
        model, images, labels, eps=eps, alpha=_default_alpha(eps, steps, 2.5) if alpha is None else alpha,
        steps=steps, norm=norm, targeted=targeted, loss=loss, callback=callback,
    )


ifgsm = bim


def pgd(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    alpha: float | torch.Tensor | None = None,
    steps: int = 10,
    norm: str = "linf",
    random_start: bool = True,
    restarts: int = 1,
    targeted: bool = False,
    loss: str | Objective = "ce",
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Projected Gradient Descent (Madry et al., ICLR 2018), L-inf or L2, from a uniform
    random point of the ball, with optional restarts. Default ``alpha = 2.5 * eps / steps``."""
    return iterative_attack(
        model, images, labels, eps=eps, alpha=_default_alpha(eps, steps, 2.5) if alpha is None else alpha,
        steps=steps, norm=norm, random_start=random_start, restarts=restarts, targeted=targeted,
        loss=loss, generator=generator, callback=callback,
    )


def mifgsm(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    alpha: float | torch.Tensor | None = None,
    steps: int = 10,
    decay: float = 1.0,
    norm: str = "linf",
    targeted: bool = False,
    loss: str | Objective = "ce",
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Momentum Iterative FGSM (Dong et al., CVPR 2018). Default ``alpha = eps / steps``
    and ``decay = 1.0`` as in the paper; momentum stabilises the update direction, which
    is what makes the examples transfer to other models."""
    return iterative_attack(
        model, images, labels, eps=eps, alpha=_default_alpha(eps, steps, 1.0) if alpha is None else alpha,
        steps=steps, norm=norm, decay=decay, targeted=targeted, loss=loss, callback=callback,
    )


def difgsm(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    alpha: float | torch.Tensor | None = None,
    steps: int = 10,
    diversity_prob: float = 0.5,
    resize_rate: float = 0.9,
    decay: float = 0.0,
    norm: str = "linf",
    targeted: bool = False,
    loss: str | Objective = "ce",
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
) -> torch.Tensor:
    """Diverse Inputs I-FGSM (Xie et al., CVPR 2019); with ``decay=1.0`` it is M-DI2-FGSM.
    Default ``alpha = eps / steps``, ``diversity_prob = 0.5``."""
    return iterative_attack(
        model, images, labels, eps=eps, alpha=_default_alpha(eps, steps, 1.0) if alpha is None else alpha,
        steps=steps, norm=norm, decay=decay, diversity_prob=diversity_prob, resize_rate=resize_rate,
        targeted=targeted, loss=loss, generator=generator, callback=callback,
    )
