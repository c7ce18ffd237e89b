"""Carlini-Wagner L2 attack (IEEE S&P 2017): the minimal-perturbation attack.

Instead of fixing a budget, C&W minimises ``||x' - x||_2^2 + c * f(x')`` where ``f`` is
the margin loss, substituting ``x' = (tanh(w) + 1) / 2`` so the box constraint disappears,
and searches ``c`` by bisection per sample. The result is the smallest perturbation found
that changes the decision, which makes C&W a measuring instrument for robustness curves.
"""

from __future__ import annotations

import torch

from advlib.attacks import _checks
from advlib.attacks.iterative import Model
from advlib.attacks.losses import is_adversarial, margin_objective
from advlib.utils import frozen_eval

# Keeps atanh finite at pixels that are exactly 0 or 1 (common in MNIST). torchattacks
# uses atanh(+-1) = +-inf there, which freezes those pixels (tanh' = 0) for the whole run.
_ATANH_SHRINK = 1.0 - 1e-6


def cw_l2(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    c: float = 1.0,
    kappa: float = 0.0,
    steps: int = 100,
    lr: float = 0.01,
    binary_search_steps: int = 1,
    abort_early: bool = True,
    targeted: bool = False,
) -> torch.Tensor:
    """Return, per sample, the smallest-L2 adversarial example found (the input where none).

    Args:
        c: initial trade-off constant; with ``binary_search_steps > 1`` it is bisected per
            sample (multiplied by 10 while no upper bound is known), as in the paper.
        kappa: confidence margin of the loss ``f = max(z_y - max_{i!=y} z_i, -kappa)``.
        abort_early: per sample, stop taking new results once its cost has not decreased
            between two checks (every ``steps // 10`` steps). Per sample rather than for the
            whole batch (torchattacks), so the result does not depend on the batch.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    _checks.check_fraction(c, "c", 0.0, float("inf"), low_open=True)
    _checks.check_fraction(kappa, "kappa", 0.0, float("inf"))
    steps = _checks.check_positive_int(steps, "steps")
    _checks.check_fraction(lr, "lr", 0.0, float("inf"), low_open=True)
    binary_search_steps = _checks.check_positive_int(binary_search_steps, "binary_search_steps")

    original = images.detach()
    batch = original.shape[0]
    shape = (-1, *([1] * (original.dim() - 1)))
    w_start = torch.atanh((original * 2 - 1) * _ATANH_SHRINK)
    const = torch.full((batch,), float(c), device=original.device, dtype=original.dtype)
    lower = torch.zeros_like(const)
    upper = torch.full_like(const, float("inf"))
    best_l2 = torch.full_like(const, float("inf"))
    best_adv = original.clone()
    check_every = max(steps // 10, 1)

    with frozen_eval(model):
        for _ in range(binary_search_steps):
            w = w_start.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([w], lr=lr)
            active = torch.ones(batch, dtype=torch.bool, device=original.device)
            found = torch.zeros_like(active)
            previous_cost = torch.full_like(const, float("inf"))
            for step in range(steps):
                adv = (torch.tanh(w) + 1) / 2
                l2 = (adv - original).pow(2).flatten(1).sum(dim=1)
                logits = model(adv)
                f_loss = -margin_objective(logits, labels, targeted, kappa)
                cost = l2 + const * f_loss
                optimizer.zero_grad(set_to_none=True)
                cost.sum().backward()
                optimizer.step()
                with torch.no_grad():
                    success = is_adversarial(logits, labels, targeted) & active
                    found |= success
                    improved = success & (l2 < best_l2)
                    best_l2 = torch.where(improved, l2, best_l2)
                    best_adv = torch.where(improved.view(shape), adv.detach(), best_adv)
                    if abort_early and step % check_every == 0:
                        active &= ~(cost > previous_cost)
                        previous_cost = torch.where(active, cost.detach(), previous_cost)
                        if not active.any():
                            break
            upper = torch.where(found, torch.minimum(upper, const), upper)
            lower = torch.where(found, lower, torch.maximum(lower, const))
            const = torch.where(torch.isinf(upper), const * 10, (lower + upper) / 2)
    return best_adv.detach()
