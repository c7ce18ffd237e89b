"""How well patches fool a classifier, and what the classifier sees in them.

* :func:`success_rates`: the paper's protocol (Fig. 4), the share of images whose prediction
  changes when the patch is pasted at a random position, repeated with fresh positions.
* :func:`class_comparison`: the paper's "class comparison" (Table 5): the patch slid over an
  image and, at the same place, over an all-black canvas; if the canvas alone is read as the
  class the patched image is read as, the patch itself is what the network sees.
* :func:`salient_positions`: where the patch covers the most input-gradient saliency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from advlib.evaluate import input_saliency, predict
from advlib.patches.placement import paste, random_positions, sliding_positions
from advlib.utils import model_device

PatchSource = torch.Tensor | Callable[[int], torch.Tensor]
"""A fixed (3, k, k) patch, or a function from the repeat's number to the patch to use."""


def _as_float(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    images = images.to(device)
    return images.float().div(255) if images.dtype == torch.uint8 else images.float()


def clean_predictions(model: nn.Module, images: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
    """Predicted classes of ``images`` (uint8 or [0, 1] floats, or lazily decoded files), on the CPU."""
    device = model_device(model)
    return torch.cat([predict(model, _as_float(images[start : start + batch_size], device), batch_size).cpu()
                      for start in range(0, images.shape[0], batch_size)])


def correctly_classified(
    model: nn.Module, pool: torch.Tensor, truth: torch.Tensor, limit: int | None = None, batch_size: int = 50
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """The images of ``pool`` that ``model`` classifies correctly (the paper attacks only those).

    Returns the first ``limit`` of them (all by default) in pool order, their classes, and the
    clean top-1 accuracy over the whole pool. ``pool`` is an image tensor or a lazily decoded
    image set with ``select`` (the full scale's ILSVRC2012 files), which stays lazy.
    """
    if len(truth) != pool.shape[0]:
        raise ValueError(f"{pool.shape[0]} images but {len(truth)} labels")
    predicted = clean_predictions(model, pool, batch_size)
    kept = torch.nonzero(predicted == truth).squeeze(1)[:limit]
    images = pool[kept] if isinstance(pool, torch.Tensor) else pool.select(kept)
    return images, truth[kept], (predicted == truth).float().mean().item()


def patched_predictions(
    model: nn.Module, images: torch.Tensor, patch: torch.Tensor, positions: torch.Tensor, batch_size: int = 100
) -> torch.Tensor:
    """Predicted classes of ``images`` with ``patch`` pasted at ``positions`` (one per image)."""
    device = model_device(model)
    predictions = []
    for start in range(0, images.shape[0], batch_size):
        batch = _as_float(images[start : start + batch_size], device)
        pasted = paste(batch, patch.to(device), positions[start : start + batch_size])
        predictions.append(predict(model, pasted, batch_size).cpu())
    return torch.cat(predictions)


def fooled_per_image(
    model: nn.Module,
    images: torch.Tensor,
    clean_labels: torch.Tensor,
    patches: PatchSource,
    repeats: int,
    generator: torch.Generator,
    batch_size: int = 100,
) -> torch.Tensor:
    """Whether each image's prediction differs from its clean prediction ``clean_labels``
    with the patch at a fresh random position, per repeat; (repeats, images) booleans.

    Per image, not only per repeat, so that a comparison of two patches on the same images
    can carry a bootstrap interval over the images (:mod:`advlib.intervals`).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    fooled = []
    for repeat in range(repeats):
        patch = patches(repeat) if callable(patches) else patches
        positions = random_positions(images.shape[0], tuple(images.shape[-2:]), patch.shape[-1], generator)
        fooled.append(patched_predictions(model, images, patch, positions, batch_size) != clean_labels.cpu())
    return torch.stack(fooled)


def success_rates(
    model: nn.Module,
    images: torch.Tensor,
    clean_labels: torch.Tensor,
    patches: PatchSource,
    repeats: int,
    generator: torch.Generator,
    batch_size: int = 100,
) -> torch.Tensor:
    """Fooling rate of each repeat: the share of images whose prediction differs from its
    clean prediction ``clean_labels`` with the patch at a fresh random position; (repeats,)."""
    return fooled_per_image(model, images, clean_labels, patches, repeats, generator, batch_size).float().mean(dim=1)


@dataclass(frozen=True)
class ClassComparison:
    """Every placement of one patch on one or more images, beside the patch on a black canvas.

    Attributes:
        positions: (P, 2) the placements.
        clean: (N,) the clean predictions of the images.
        adversarial: (N, P) predictions of each image with the patch at each placement.
        canvas: (P,) predictions of the black canvas with the patch at each placement.
    """

    positions: torch.Tensor
    clean: torch.Tensor
    adversarial: torch.Tensor
    canvas: torch.Tensor

    @property
    def comparisons(self) -> int:
        return self.adversarial.numel()

    @property
    def success(self) -> torch.Tensor:
        """(N, P): the patched image is read as another class than the clean one."""
        return self.adversarial != self.clean[:, None]

    @property
    def same_as_canvas(self) -> torch.Tensor:
        """(N, P): the patched image is read as the class of the canvas at the same place."""
        return self.adversarial == self.canvas[None, :]

    def canvas_classes(self, top: int = 2) -> list[tuple[int, float]]:
        """The canvas's most frequent classes with their shares of the placements."""
        values, counts = self.canvas.unique(return_counts=True)
        order = counts.argsort(descending=True)[:top]
        return [(int(values[i]), float(counts[i]) / self.canvas.numel()) for i in order]

    def in_canvas_classes(self, top: int = 2) -> torch.Tensor:
        """(N, P): the patched image is read as one of the canvas's ``top`` classes."""
        classes = torch.tensor([label for label, _ in self.canvas_classes(top)])
        return torch.isin(self.adversarial, classes)

    def summary(self, top: int = 2) -> dict[str, float]:
        """The paper's Table 5 numbers as shares of all comparisons."""
        success, same = self.success, self.same_as_canvas
        return {
            "comparisons": float(self.comparisons),
            "success_rate": success.float().mean().item(),
            "same_class_rate": (same & success).float().mean().item(),
            "differ_rate": (success & ~same).float().mean().item(),
            "canvas_top_share": sum(share for _, share in self.canvas_classes(top)),
            "in_canvas_classes_rate": self.in_canvas_classes(top).float().mean().item(),
        }


def class_comparison(
    model: nn.Module,
    images: torch.Tensor,
    patch: torch.Tensor,
    stride: int,
    batch_size: int = 100,
    positions: torch.Tensor | None = None,
) -> ClassComparison:
    """Slide ``patch`` over each image and over a black canvas (every ``stride`` pixels, or at
    the given ``positions``) and record all predictions."""
    image_size = tuple(images.shape[-2:])
    if positions is None:
        positions = sliding_positions(image_size, patch.shape[-1], stride)
    count = positions.shape[0]
    black = torch.zeros(1, 3, *image_size)
    canvas = patched_predictions(model, black.expand(count, -1, -1, -1), patch, positions, batch_size)
    clean = clean_predictions(model, images, batch_size)
    adversarial = torch.stack([
        patched_predictions(model, images[index : index + 1].expand(count, -1, -1, -1), patch, positions, batch_size)
        for index in range(images.shape[0])
    ])
    return ClassComparison(positions, clean, adversarial, canvas)


def salient_positions(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, patch_size: int) -> torch.Tensor:
    """For each image, the position where a ``patch_size`` square covers the largest sum of the
    input-gradient saliency of ``labels`` (:func:`advlib.evaluate.input_saliency`); (N, 2)."""
    device = model_device(model)
    saliency = input_saliency(model, _as_float(images, device), labels.to(device))
    window = F.avg_pool2d(saliency[:, None], patch_size, stride=1)[:, 0]  # (N, H-k+1, W-k+1)
    flat = window.flatten(1).argmax(dim=1)
    width = window.shape[-1]
    return torch.stack([flat // width, flat % width], dim=1).cpu()
