"""Square Attack (Andriushchenko et al., ECCV 2020): a score-based black box, no gradients.

A gradient attack can be defeated by a model whose gradients lie (quantised inputs,
saturated outputs, randomness): the gradients then say nothing while the decisions are as
fragile as before. Square only reads the model's scores, so it sees through all of that,
which is why AutoAttack ends with it and why a Square that beats the white-box attacks is a
warning sign about the evaluation, not a success of Square (issue 16).

The L-inf version, from the paper's description: start from vertical stripes of +-eps,
then repeatedly pick a random square window and set the perturbation inside it to +-eps per
channel; keep the change if the margin ``z_y - max_{j != y} z_j`` went down. The window's
share of the image ``p`` starts at ``p_init`` and is halved on a fixed schedule over the
query budget (the paper's iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of
10,000, scaled to the budget). Every query is one forward pass on the samples not yet fooled.
The code is this book's, written from the paper.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from advlib.attacks import _checks
from advlib.attacks.iterative import Model
from advlib.attacks.losses import margin_objective
from advlib.utils import frozen_eval

# the paper's schedule: p is halved after these fractions of a 10,000-query budget
_HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
_RESAMPLES = 10  # tries to draw a window that changes something, before giving up for this query


def window_fraction(query: int, queries: int, p_init: float) -> float:
    """The share of the image a new window covers at ``query`` (1-based) of ``queries``."""
    on_paper_scale = int(query / queries * 10_000)
    return p_init / 2 ** sum(on_paper_scale > mark for mark in _HALVINGS)


def margins(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``z_y - max_{j != y} z_j`` per sample: positive while the sample is classified correctly."""
    return -margin_objective(logits, labels, targeted=False)


def square(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    queries: int = 5000,
    p_init: float = 0.8,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """L-inf Square Attack. Returns images in [0, 1] within ``eps``; never modifies ``images``.

    ``queries`` counts forward passes per sample, the first one included (the stripes); a
    sample stops querying once it is misclassified. All draws come from ``generator`` on the
    CPU, so a seed gives the same run on every device. ``callback(query, images)`` sees the
    current images after every query.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    eps_t = _checks.check_budget(eps, images, "eps")
    queries = _checks.check_positive_int(queries, "queries")
    _checks.check_fraction(p_init, "p_init", 0.0, 1.0, low_open=True)
    if images.dim() != 4:
        raise ValueError(f"square needs (N, C, H, W) images, got shape {tuple(images.shape)}")
    count, channels, height, width = images.shape
    original = images.detach()

    def draw_signs(shape: tuple[int, ...]) -> torch.Tensor:
        signs = torch.randint(0, 2, shape, generator=generator).mul_(2).sub_(1)
        return signs.to(device=images.device, dtype=images.dtype)

    with frozen_eval(model), torch.no_grad():
        delta = eps_t * draw_signs((count, channels, 1, width))  # vertical stripes
        current = (original + delta).clamp(0.0, 1.0)
        margin = margins(model(current), labels)
        rows = torch.arange(height, device=images.device).view(1, 1, -1, 1)
        cols = torch.arange(width, device=images.device).view(1, 1, 1, -1)
        for query in range(2, queries + 1):
            active = (margin > 0).nonzero().squeeze(1)
            if active.numel() == 0:
                break
            fraction = window_fraction(query - 1, queries, p_init)
            side = max(min(round((fraction * height * width) ** 0.5), height, width), 1)
            proposal = current[active]
            pending = torch.ones(active.numel(), dtype=torch.bool, device=images.device)
            for _ in range(_RESAMPLES):
                top = torch.randint(0, height - side + 1, (active.numel(),), generator=generator).to(images.device)
                left = torch.randint(0, width - side + 1, (active.numel(),), generator=generator).to(images.device)
                inside = ((rows >= top.view(-1, 1, 1, 1)) & (rows < top.view(-1, 1, 1, 1) + side)
                          & (cols >= left.view(-1, 1, 1, 1)) & (cols < left.view(-1, 1, 1, 1) + side))
                vertex = eps_t[active] * draw_signs((active.numel(), channels, 1, 1))
                candidate = torch.where(inside, (original[active] + vertex).clamp(0.0, 1.0), current[active])
                # a window whose new corner the box clips back to the current values changes nothing
                changes = (candidate != current[active]).flatten(1).any(dim=1)
                take = pending & changes
                proposal[take] = candidate[take]
                pending &= ~changes
                if not pending.any():
                    break
            new_margin = margins(model(proposal), labels[active])
            better = new_margin < margin[active]
            current[active[better]] = proposal[better]
            margin[active[better]] = new_margin[better]
            if callback is not None:
                callback(query, current)
    return current
