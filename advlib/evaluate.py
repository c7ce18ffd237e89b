"""Clean and robust accuracy, and the two robustness curves of RealSafe/ARES.

A single "robust accuracy at eps = 8/255 under PGD-20" can mislead: it hides how accuracy
falls as the budget grows and whether the attack had converged. Dong et al. (CVPR 2020,
the RealSafe/ARES benchmark, seed S3) therefore report two curves, both computed here:

* accuracy vs. budget, from each sample's minimal adversarial perturbation ``eps*_i``:
  ``Acc(eps) = (1/N) sum_i 1[f(x_i) = y_i and eps*_i > eps]``;
* accuracy vs. attack iterations at a fixed budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import nn

from advlib.attacks import _checks, iterative_attack
from advlib.utils import frozen_eval

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
BudgetAttack = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _chunks(images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
    for start in range(0, images.shape[0], batch_size):
        yield images[start : start + batch_size], labels[start : start + batch_size]


def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Predicted classes, computed in batches without gradients, in eval mode."""
    outputs = []
    with frozen_eval(model), torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            outputs.append(model(images[start : start + batch_size]).argmax(dim=1))
    return torch.cat(outputs)


def correct(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Per image, 1.0 where ``model`` reads it as its label and 0.0 where not: the outcomes
    a bootstrap interval resamples (:mod:`advlib.intervals`); their mean is the accuracy."""
    return (predict(model, images, batch_size) == labels).float()


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Fraction of ``images`` classified as ``labels``."""
    return correct(model, images, labels, batch_size).mean().item()


def attack_in_batches(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: Attack, batch_size: int = 256
) -> torch.Tensor:
    """Run ``attack(model, x, y)`` over the set in batches and return all adversarial images."""
    return torch.cat([attack(model, x, y) for x, y in _chunks(images, labels, batch_size)])


def robust_accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, attack: Attack, batch_size: int = 256
) -> float:
    """Accuracy on ``attack``'s adversarial examples (a sample misclassified when clean counts
    as an error, as in every robustness table)."""
    adversarial = attack_in_batches(model, images, labels, attack, batch_size)
    return accuracy(model, adversarial, labels, batch_size)


def accuracy_over_ranks(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                        attack: Attack | None = None, batch_size: int = 256) -> float:
    """(Robust) accuracy on the whole set, each rank of a distributed run evaluating its own
    contiguous share (:func:`advlib.distributed.share`) and the counts summed over ranks.

    Every rank gets the same number; in a single process this is :func:`accuracy` (or
    :func:`robust_accuracy` with ``attack``), so the caller needs no second code path.
    """
    from advlib import distributed

    part = distributed.share(len(labels), distributed.current())
    x, y = images[part], labels[part]
    correct = 0.0
    if len(y):
        if attack is not None:
            x = attack_in_batches(model, x, y, attack, batch_size)
        correct = (predict(model, x, batch_size) == y).sum().item()
    correct, total = distributed.sum_over_ranks([correct, len(y)], labels.device)
    return correct / total


def perturbation_norms(adversarial: torch.Tensor, images: torch.Tensor, norm: str = "linf") -> torch.Tensor:
    """Per-sample L-inf or L2 norm of ``adversarial - images``."""
    norm = _checks.check_norm(norm)
    delta = (adversarial - images).flatten(1)
    return delta.abs().amax(dim=1) if norm == "linf" else delta.norm(dim=1)


def input_saliency(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Where the model looks: ``|d log p(y | x) / dx|``, summed over colour channels, (N, H, W).

    The simplest attention map (Simonyan et al., 2014): the pixels whose change would most
    change the model's belief in the true label. Each map is scaled to a maximum of 1.
    Works for sequence outputs (N, C, L) with labels (N, L), the log-probabilities of all
    positions then being summed.
    """
    from advlib.attacks import cross_entropy_objective

    images = _checks.check_images(images).detach().clone().requires_grad_(True)
    labels = _checks.check_labels(labels, images, sequences=True)
    with frozen_eval(model):
        log_likelihood = -cross_entropy_objective(model(images), labels, targeted=False)
        (grad,) = torch.autograd.grad(log_likelihood.sum(), images)
    maps = grad.abs().sum(dim=1)
    return maps / maps.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1)


def map_correlation(first: torch.Tensor, second: torch.Tensor) -> float:
    """Mean over images of the Pearson correlation between two maps of each image, (N, ...) each.

    Compares where a model looks before and after a change to its input (two
    :func:`input_saliency` maps): 1 for the same pattern of attention, 0 for unrelated ones.
    """
    if first.shape != second.shape or first.dim() < 2:
        raise ValueError(f"need two batches of maps of one shape, got {tuple(first.shape)} and {tuple(second.shape)}")
    first, second = first.flatten(1), second.flatten(1)
    first, second = first - first.mean(1, keepdim=True), second - second.mean(1, keepdim=True)
    return ((first * second).sum(1) / (first.norm(dim=1) * second.norm(dim=1)).clamp_min(1e-12)).mean().item()


def noise_of_equal_norm(images: torch.Tensor, adversarial: torch.Tensor,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """``images`` plus Gaussian noise scaled, per image, to the L2 norm of ``adversarial - images``.

    The control for an adversarial perturbation: drawn as large, but in a random direction.
    The sum is then clipped to [0, 1], as an image must be, which can only shrink the noise
    (on a near-white background, by up to half). The noise is drawn on the CPU from
    ``generator``, so the same seed gives the same noise on every device.
    """
    if images.shape != adversarial.shape:
        raise ValueError(f"images {tuple(images.shape)} and adversarial {tuple(adversarial.shape)} differ in shape")
    per_image = (-1,) + (1,) * (images.dim() - 1)
    perturbation_norm = (adversarial - images).flatten(1).norm(dim=1).view(per_image)
    noise = torch.randn(images.shape, generator=generator).to(images)
    return (images + noise * perturbation_norm / noise.flatten(1).norm(dim=1).view(per_image)).clamp(0, 1)


def ssim(adversarial: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """Per-sample structural similarity (Wang et al., 2004) of ``adversarial`` to ``images``.

    An L-inf budget says how large each pixel change may be, not whether a person notices
    it; SSIM compares local luminance, contrast and structure (1 = identical). Computed
    with torchmetrics (Gaussian window 11, sigma 1.5, data range 1).
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    if adversarial.shape != images.shape or images.dim() != 4:
        raise ValueError(f"need two image batches of the same shape (N, C, H, W), got "
                         f"{tuple(adversarial.shape)} and {tuple(images.shape)}")
    return structural_similarity_index_measure(
        adversarial.float(), images.float(), data_range=1.0, reduction="none"
    )


def minimal_perturbation_search(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    attack: BudgetAttack,
    *,
    initial_eps: float,
    search_steps: int = 5,
    binary_steps: int = 10,
) -> torch.Tensor:
    """Per-sample minimal budget eps* at which ``attack(model, x, y, eps)`` succeeds (ARES).

    Exponential search (``initial_eps * 2^s``, s < search_steps) to bracket eps*, then
    ``binary_steps`` bisections. Budgets are per sample (the attacks take an (N,) eps), so a
    whole batch is searched at once. Samples misclassified when clean get 0; samples never
    fooled within the largest budget tried get +inf.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    _checks.check_fraction(initial_eps, "initial_eps", 0.0, float("inf"), low_open=True)
    _checks.check_positive_int(search_steps, "search_steps")
    _checks.check_positive_int(binary_steps, "binary_steps", minimum=0)

    def fooled(eps: torch.Tensor, subset: torch.Tensor) -> torch.Tensor:
        adversarial = attack(model, images[subset], labels[subset], eps)
        return predict(model, adversarial) != labels[subset]

    correct = predict(model, images) == labels
    upper = torch.full((images.shape[0],), float("inf"), device=images.device)
    lower = torch.zeros_like(upper)
    upper[~correct] = 0.0
    pending = correct.clone()
    for step in range(search_steps):
        subset = pending.nonzero().squeeze(1)
        if subset.numel() == 0:
            break
        eps = torch.full((subset.numel(),), initial_eps * 2.0**step, device=images.device)
        success = fooled(eps, subset)
        upper[subset[success]] = eps[success]
        lower[subset[~success]] = eps[~success]
        pending[subset[success]] = False
    searchable = correct & torch.isfinite(upper)
    subset = searchable.nonzero().squeeze(1)
    for _ in range(binary_steps if subset.numel() else 0):
        middle = (lower[subset] + upper[subset]) / 2
        success = fooled(middle, subset)
        upper[subset] = torch.where(success, middle, upper[subset])
        lower[subset] = torch.where(success, lower[subset], middle)
    return upper


def minimal_perturbation_from_attack(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    attack: Attack,
    *,
    norm: str = "l2",
    batch_size: int = 256,
) -> torch.Tensor:
    """eps* for minimal-perturbation attacks (C&W, DeepFool): the distance they optimise.

    ``||adv_i - x_i||`` where the attack succeeded, +inf where it did not, 0 for samples
    misclassified when clean (ARES uses the attacks' own distances the same way).
    """
    adversarial = attack_in_batches(model, images, labels, attack, batch_size)
    distance = perturbation_norms(adversarial, images, norm)
    fooled = predict(model, adversarial) != labels
    correct = predict(model, images) == labels
    distance = torch.where(fooled, distance, torch.full_like(distance, float("inf")))
    return torch.where(correct, distance, torch.zeros_like(distance))


def pgd_budget_attack(steps: int = 10, norm: str = "linf", random_start: bool = True,
                      generator: torch.Generator | None = None) -> BudgetAttack:
    """The ARES budget attack for the distortion curve: PGD with step ``1.5 * eps / steps``."""

    def attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return iterative_attack(model, x, y, eps=eps, alpha=1.5 * eps / steps, steps=steps, norm=norm,
                                random_start=random_start, generator=generator)

    return attack


def accuracy_vs_budget(minimal_eps: torch.Tensor, budgets: torch.Tensor | list[float]) -> torch.Tensor:
    """``Acc(eps) = mean_i 1[eps*_i > eps]`` for each budget (eps* = 0 for clean errors)."""
    budgets = torch.as_tensor(budgets, dtype=minimal_eps.dtype, device=minimal_eps.device)
    return (minimal_eps[None, :] > budgets[:, None]).float().mean(dim=1)


def accuracy_vs_iterations(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    alpha: float,
    steps: int,
    norm: str = "linf",
    random_start: bool = False,
    decay: float = 0.0,
    loss: str = "ce",
    batch_size: int = 256,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Accuracy after 0, 1, ..., ``steps`` iterations of an iterative attack at budget eps.

    One attack run per batch records the accuracy at every iteration through the attack's
    callback, so the whole curve costs one run of ``steps`` iterations, not ``steps`` runs.
    With ``random_start`` the point at 0 iterations is the clean accuracy.
    """
    correct = torch.zeros(steps + 1, dtype=torch.long)
    for x, y in _chunks(images, labels, batch_size):
        correct[0] += (predict(model, x) == y).sum().item()

        def record(step: int, adversarial: torch.Tensor, y: torch.Tensor = y) -> None:
            with torch.no_grad():
                correct[step] += (model(adversarial).argmax(dim=1) == y).sum().item()

        iterative_attack(model, x, y, eps=eps, alpha=alpha, steps=steps, norm=norm, random_start=random_start,
                         decay=decay, loss=loss, generator=generator, callback=record)
    return correct.float() / images.shape[0]
