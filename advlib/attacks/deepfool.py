"""DeepFool (Moosavi-Dezfooli et al., CVPR 2016): walk to the nearest linearised boundary.

At each step the classifier is linearised around the current point; the closest of the
(linearised) decision boundaries between the current class and each candidate class is
at distance ``|f'_k| / ||w'_k||_2``, and the step goes exactly there, times
``1 + overshoot``. It finds small L2 perturbations in a handful of steps.
"""

from __future__ import annotations

import torch

from advlib.attacks import _checks
from advlib.attacks.iterative import Model
from advlib.utils import frozen_eval

_TINY = 1e-12


def deepfool(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int = 50,
    overshoot: float = 0.02,
    candidates: int | None = 10,
    respect_box: bool = True,
) -> torch.Tensor:
    """Untargeted L2 DeepFool, batched. Samples already misclassified are returned as is.

    Args:
        steps: maximum number of linearisation steps per sample.
        overshoot: each step is ``(1 + overshoot) * r``, then clipped to [0, 1]; as in
            torchattacks, and equal to the reference implementation's
            ``x + (1 + overshoot) * sum(r)`` whenever no clipping happens.
        candidates: number of classes considered besides the label, the most likely ones
            for the clean input (the reference implementation uses 10); None for all.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    steps = _checks.check_positive_int(steps, "steps")
    _checks.check_fraction(overshoot, "overshoot", 0.0, float("inf"))
    if candidates is not None:
        _checks.check_positive_int(candidates, "candidates")

    adv = images.detach().clone()
    with frozen_eval(model):
        with torch.no_grad():
            clean_logits = model(adv)
        num_classes = clean_logits.shape[1]
        others = clean_logits.scatter(1, labels[:, None], float("-inf"))
        count = num_classes - 1 if candidates is None else min(candidates, num_classes - 1)
        classes = torch.cat([labels[:, None], others.topk(count, dim=1).indices], dim=1)
        active = torch.ones(adv.shape[0], dtype=torch.bool, device=adv.device)
        for _ in range(steps):
            index = active.nonzero().squeeze(1)
            if index.numel() == 0:
                break
            point = adv[index].requires_grad_(True)
            logits = model(point)
            still_correct = logits.argmax(dim=1) == labels[index]
            active[index[~still_correct]] = False
            if not still_correct.any():
                break
            chosen = logits.gather(1, classes[index])  # (b, k+1), label first
            grads = torch.stack(
                [
                    torch.autograd.grad(chosen[:, j].sum(), point, retain_graph=j < chosen.shape[1] - 1)[0]
                    for j in range(chosen.shape[1])
                ],
                dim=1,
            )  # (b, k+1, C, H, W)
            f_prime = (chosen[:, 1:] - chosen[:, :1]).detach()
            w_prime = grads[:, 1:] - grads[:, :1]
            if respect_box:
                position = point.detach()[:, None]
                leaves_box = ((position <= 0) & (w_prime < 0)) | ((position >= 1) & (w_prime > 0))
                w_prime = w_prime.masked_fill(leaves_box, 0.0)
            w_norm = w_prime.flatten(2).norm(dim=2)
            distance = f_prime.abs() / w_norm.clamp_min(_TINY)
            nearest = distance.argmin(dim=1)
            pick = torch.arange(index.numel(), device=adv.device)
            w_best = w_prime[pick, nearest]
            scale = f_prime[pick, nearest].abs() / w_norm[pick, nearest].pow(2).clamp_min(_TINY)
            step = scale.view(-1, *([1] * (w_best.dim() - 1))) * w_best
            keep = still_correct.view(-1, *([1] * (step.dim() - 1)))
            moved = (point.detach() + (1 + overshoot) * step).clamp(0.0, 1.0)
            adv[index] = torch.where(keep, moved, point.detach())
    return adv
