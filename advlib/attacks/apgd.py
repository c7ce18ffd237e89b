"""Auto-PGD (Croce and Hein, ICML 2020): PGD without a step size to tune.

A fixed-step PGD with the cross-entropy under-reports the attacks on confident or
gradient-masked models (issue 16; survey S2). APGD replaces the fixed step by a budget-aware
schedule: it starts with a step of ``2 eps``, adds momentum, and at checkpoints spread over
the iterations (denser towards the end) halves the step and restarts from the best point
found whenever progress has stalled. It can maximise the cross-entropy or the
Difference-of-Logits-Ratio (DLR), a margin divided by the spread of the top logits, which
does not change when the logits are rescaled and so is not fooled by a saturated softmax.

APGD-T (:func:`apgd_targeted`) runs the targeted DLR loss against the most likely wrong
classes in turn, AutoAttack's second attack.

This module follows the algorithm as the paper states it (Algorithm 1, with rho = 0.75 and
momentum alpha = 0.75); the code is this book's, written from the paper's description and
checked step for step against the official implementation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from advlib.attacks import _checks
from advlib.attacks.iterative import Model, _per_sample_norm, project
from advlib.attacks.losses import cross_entropy_objective, is_adversarial, margin_objective
from advlib.utils import frozen_eval

APGD_LOSSES = ("ce", "dlr")
_TINY = 1e-12


def dlr_objective(logits: torch.Tensor, labels: torch.Tensor, targeted: bool = False,
                  targets: torch.Tensor | None = None) -> torch.Tensor:
    """The DLR loss, per sample, to maximise.

    Untargeted: ``-(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)`` with ``pi`` the logits sorted
    in decreasing order. Targeted (``targets`` given): ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)
    / 2)``. Both are invariant to shifting and scaling the logits.
    """
    if logits.dim() != 2 or logits.shape[1] < (4 if targeted else 3):
        raise ValueError(f"DLR needs (N, C) logits with C >= {4 if targeted else 3}, got {tuple(logits.shape)}")
    ordered = logits.sort(dim=1, descending=True).values
    if targeted:
        if targets is None:
            raise ValueError("the targeted DLR loss needs target classes")
        label_logit = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
        target_logit = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
        spread = ordered[:, 0] - (ordered[:, 2] + ordered[:, 3]) / 2
        return -(label_logit - target_logit) / (spread + _TINY)
    return margin_objective(logits, labels, targeted=False) / (ordered[:, 0] - ordered[:, 2] + _TINY)


def checkpoints(steps: int) -> list[int]:
    """The iterations at which APGD may halve its step: ``ceil(p_j * steps)`` with p_0 = 0,
    p_1 = 0.22 and p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06) (the paper's section 3.2)."""
    fractions = [0.0, 0.22]
    while fractions[-1] + max(fractions[-1] - fractions[-2] - 0.03, 0.06) <= 1:
        fractions.append(fractions[-1] + max(fractions[-1] - fractions[-2] - 0.03, 0.06))
    # rounded first: 0.22 + 0.19 is 0.41000000000000003 in floating point, whose ceiling at 100 steps is 42
    return sorted({math.ceil(round(fraction * steps, 6)) for fraction in fractions[1:]} - {0})


def apgd(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    steps: int = 100,
    norm: str = "linf",
    loss: str = "ce",
    random_start: bool = True,
    generator: torch.Generator | None = None,
    targets: torch.Tensor | None = None,
    success_on: str = "target",
    rho: float = 0.75,
    momentum: float = 0.75,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """APGD on ``loss`` ('ce' or 'dlr'); with ``targets`` the targeted DLR version (APGD-T's
    inner attack, one target per sample). Returns images in [0, 1] within ``eps``; never
    modifies ``images``.

    ``steps`` counts updates, as AutoAttack's ``n_iter`` does: the gradient is evaluated
    ``steps + 1`` times (once at the start). Per sample, the result is the last iterate that
    succeeded if any did, otherwise the point of highest loss: the point an evaluator counts.
    The run stops early once every sample has succeeded.
    With ``targets``, success means reaching the target (``success_on='target'``) or any
    wrong class (``'error'``, what APGD-T counts in a robustness evaluation). The random
    start (on by default, as in the paper's code) draws from ``generator`` on the CPU, so a
    seed gives the same run on every device.

    Without the random start the run matches the official implementation (``pyautoattack``)
    step for step, up to two artifacts of that code described in :func:`_raised` (tested:
    identical trajectories for CE, and for DLR once the artifacts are imitated). Where the
    paper leaves details open, this code does what the official code does: condition 1
    halves when at most ``rho`` of the updates since the last checkpoint raised the loss,
    condition 2 is not applied at the first checkpoint, and after a halving the momentum
    points from the iterate before the abandoned one to the best point.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    eps_t = _checks.check_budget(eps, images, "eps")
    steps = _checks.check_positive_int(steps, "steps")
    norm = _checks.check_norm(norm)
    if loss not in APGD_LOSSES:
        raise ValueError(f"loss must be one of {APGD_LOSSES}, got {loss!r}")
    if success_on not in ("target", "error"):
        raise ValueError(f"success_on must be 'target' or 'error', got {success_on!r}")
    targeted = targets is not None
    if targeted:
        targets = _checks.check_labels(targets, images)
        if loss != "dlr":
            raise ValueError("targeted APGD uses the targeted DLR loss: pass loss='dlr'")
        if (targets == labels).any():
            raise ValueError("a target class equals the true class")
    _checks.check_fraction(rho, "rho", 0.0, 1.0)
    _checks.check_fraction(momentum, "momentum", 0.0, 1.0)

    def objective(logits: torch.Tensor) -> torch.Tensor:
        if loss == "ce":
            return cross_entropy_objective(logits, labels, False)
        return dlr_objective(logits, labels, targeted, targets)

    def fooled(logits: torch.Tensor) -> torch.Tensor:
        if targeted and success_on == "target":
            return is_adversarial(logits, targets, True)
        return is_adversarial(logits, labels, False)

    def shaped(mask: torch.Tensor) -> torch.Tensor:
        return mask.view(-1, *([1] * (images.dim() - 1)))

    original = images.detach()
    with frozen_eval(model):
        def evaluate(point: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            point = point.detach().requires_grad_(True)
            logits = model(point)
            value = objective(logits)
            (grad,) = torch.autograd.grad(value.sum(), point)
            return value.detach(), grad.detach(), fooled(logits.detach())

        current = _start(original, eps_t, norm, generator) if random_start else original.clone()
        value, grad, success = evaluate(current)
        best, best_value, best_grad = current.clone(), value.clone(), grad.clone()
        adversarial = current.clone()
        found = success.clone()
        step = 2 * eps_t
        previous = current
        marks = set(checkpoints(steps))
        last_mark, increases = 0, torch.zeros_like(value)
        # the step counts as just halved before the first checkpoint: condition 2 ("no
        # progress since the last checkpoint and no halving there") starts at the second
        value_at_mark, halved_at_mark = best_value.clone(), torch.ones_like(success)
        for update in range(1, steps + 1):
            weight = 1.0 if update == 1 else momentum
            proposal = _project(current + step * _direction(grad, norm), original, eps_t, norm)
            moved = _project(current + weight * (proposal - current) + (1 - weight) * (current - previous),
                             original, eps_t, norm)
            previous, current = current, moved
            new_value, grad, success = evaluate(current)
            increases += _raised(new_value, value, update).to(increases.dtype)
            value = new_value
            improved = value > best_value
            best = torch.where(shaped(improved), current, best)
            best_grad = torch.where(shaped(improved), grad, best_grad)
            best_value = torch.where(improved, value, best_value)
            adversarial = torch.where(shaped(success), current, adversarial)
            found |= success
            if callback is not None:
                callback(update, torch.where(shaped(found), adversarial, best))
            if bool(found.all()):
                break  # every sample fooled: later updates cannot change the evaluation
            if update in marks:
                oscillating = increases <= rho * (update - last_mark)
                flat = ~halved_at_mark & (best_value <= value_at_mark)
                halve = oscillating | flat
                step = torch.where(shaped(halve), step / 2, step)
                # restart from the best point; the momentum then points from the iterate
                # before the abandoned one to the best point (Algorithm 1, and the official code)
                current = torch.where(shaped(halve), best, current)
                grad = torch.where(shaped(halve), best_grad, grad)
                last_mark, increases = update, torch.zeros_like(value)
                value_at_mark, halved_at_mark = best_value.clone(), halve
    return torch.where(shaped(found), adversarial, best).detach()


def apgd_targeted(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    target_classes: int = 9,
    steps: int = 100,
    norm: str = "linf",
    random_start: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """APGD-T: targeted-DLR APGD against each of the ``target_classes`` most likely wrong
    classes in turn (ranked by the clean logits), each run only on the samples no earlier
    run has misclassified. The targeted loss helps where the untargeted margin is flat; any
    wrong class counts as success, as in AutoAttack. Returns the misclassified point where
    one was found, else the last run's point of highest loss.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    target_classes = _checks.check_positive_int(target_classes, "target_classes")
    with frozen_eval(model), torch.no_grad():
        clean_logits = model(images.detach())
    if target_classes > clean_logits.shape[1] - 1:
        raise ValueError(f"target_classes must be at most {clean_logits.shape[1] - 1} "
                         f"(the wrong classes of a {clean_logits.shape[1]}-class model), got {target_classes}")
    eps_t = _checks.check_budget(eps, images, "eps")
    # the true class is ranked first even under ties, so ranks 1.. are always wrong classes
    ranked = clean_logits.scatter(1, labels.unsqueeze(1), float("inf")).argsort(dim=1, descending=True)
    result = images.detach().clone()
    robust = clean_logits.argmax(dim=1) == labels
    for rank in range(1, target_classes + 1):
        chosen = robust.nonzero().squeeze(1)
        if chosen.numel() == 0:
            break
        targets = ranked[chosen, rank]
        run = apgd(model, images[chosen], labels[chosen], eps_t.flatten()[chosen],
                   steps=steps, norm=norm, loss="dlr", targets=targets, success_on="error",
                   random_start=random_start, generator=generator)
        result[chosen] = run
        with frozen_eval(model), torch.no_grad():
            robust[chosen] = model(run).argmax(dim=1) == labels[chosen]
    return result


def _raised(new_value: torch.Tensor, old_value: torch.Tensor, update: int) -> torch.Tensor:
    """Whether an update raised the loss, for condition 1 (``f(x^(k+1)) > f(x^(k))``).

    The official code differs here in two ways, both artifacts: it stores the loss history
    in float32, and for the first update it compares with 0 instead of the starting loss. A
    test replaces this function with one that does the same, and then the two codes'
    trajectories are identical."""
    return new_value > old_value


def _project(point: torch.Tensor, images: torch.Tensor, eps: torch.Tensor, norm: str) -> torch.Tensor:
    """Onto the ball and the box; for L2 written as the official code writes it,
    ``x + delta / (||delta|| + 1e-12) * min(eps, ||delta||)``, for the reason given in
    :func:`_direction` (L-inf is the shared :func:`project`, which is exact)."""
    if norm == "linf":
        return project(point, images, eps, norm)
    delta = point - images
    length = _l2_length(delta)
    return (images + delta / (length + _TINY) * torch.minimum(eps, length)).clamp(0.0, 1.0)


def _direction(grad: torch.Tensor, norm: str) -> torch.Tensor:
    """The ascent direction: sign for L-inf; for L2, ``g / (||g|| + 1e-12)`` as in the official
    code rather than PGD's ``g / max(||g||, 1e-12)``. The two differ only for gradients near
    1e-12 in norm, but a confident digit's cross-entropy gradient is that small, and there
    the difference is a percent of the step: enough to part the two codes' trajectories."""
    if norm == "linf":
        return grad.sign()
    return grad / (_l2_length(grad) + _TINY)


def _l2_length(tensor: torch.Tensor) -> torch.Tensor:
    """Per-sample L2 norm as a square root of summed squares (the official code's rounding)."""
    return (tensor**2).flatten(1).sum(dim=1).sqrt().view(-1, *([1] * (tensor.dim() - 1)))


def _start(images: torch.Tensor, eps: torch.Tensor, norm: str, generator: torch.Generator | None) -> torch.Tensor:
    """The paper's random start: a random direction scaled onto the sphere of radius eps
    (for L-inf, some coordinate moves the full eps), then clipped to the box."""
    if norm == "linf":
        direction = torch.rand(images.shape, generator=generator, dtype=images.dtype).mul_(2).sub_(1)
        direction = direction / direction.flatten(1).abs().amax(dim=1).clamp_min(_TINY).view(
            -1, *([1] * (images.dim() - 1)))
    else:
        direction = torch.randn(images.shape, generator=generator, dtype=images.dtype)
        direction = direction / _per_sample_norm(direction, 2).clamp_min(_TINY)
    return (images + direction.to(images.device) * eps).clamp(0.0, 1.0)
