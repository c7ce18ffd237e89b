"""Shape bias: when shape and texture disagree, which one does the observer follow?

Geirhos et al. (ICLR 2019) show cue-conflict images (a cat shape in elephant skin) and count,
over the images whose shape and texture categories differ, the decisions that name the
shape and those that name the texture:

    shape bias = #shape decisions / (#shape decisions + #texture decisions).

Decisions naming neither category do not enter. An ImageNet classifier decides among the 16
categories by *averaging* the softmax probabilities of the ImageNet classes that map to each
category (the aggregation the authors recommend), then taking the most probable category.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from advlib.utils import frozen_eval, model_device

# ImageNet-1k class indices behind each of the 16 categories (alphabetical, as in the
# texture-vs-shape repository's WordNet mapping).
IMAGENET_16_CLASS: dict[str, tuple[int, ...]] = {
    "airplane": (404,),
    "bear": (294, 295, 296, 297),
    "bicycle": (444, 671),
    "bird": (8, *range(10, 17), *range(18, 21), *range(22, 25), *range(80, 84), *range(87, 97), 98, 99, 100,
             *range(127, 134), *range(135, 146)),
    "boat": (472, 554, 625, 814, 914),
    "bottle": (440, 720, 737, 898, 899, 901, 907),
    "car": (436, 511, 817),
    "cat": (281, 282, 283, 284, 285, 286),
    "chair": (423, 559, 765, 857),
    "clock": (409, 530, 892),
    "dog": (*range(152, 192), *range(193, 204), *range(205, 227), *range(228, 242), *range(243, 251),
            *range(252, 258), 259, *range(261, 264), *range(265, 269)),
    "elephant": (385, 386),
    "keyboard": (508, 878),
    "knife": (499,),
    "oven": (766,),
    "truck": (555, 569, 656, 675, 717, 734, 864, 867),
}


def category_probabilities(
    imagenet_probabilities: torch.Tensor, mapping: dict[str, tuple[int, ...]] = IMAGENET_16_CLASS
) -> torch.Tensor:
    """(N, 1000) ImageNet probabilities -> (N, 16) mean probability per category."""
    if imagenet_probabilities.dim() != 2 or imagenet_probabilities.shape[1] != 1000:
        raise ValueError(f"expected (N, 1000) probabilities, got {tuple(imagenet_probabilities.shape)}")
    return torch.stack([imagenet_probabilities[:, list(indices)].mean(dim=1) for indices in mapping.values()], dim=1)


def imagenet_probabilities(model: nn.Module, images: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Softmax over the 1,000 ImageNet classes for uint8 or [0, 1] float images, in batches
    on the model's device, returned on the CPU."""
    device = model_device(model)
    outputs = []
    with frozen_eval(model), torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size].to(device)
            batch = batch.float().div(255) if batch.dtype == torch.uint8 else batch.float()
            outputs.append(model(batch).softmax(dim=1).cpu())
    return torch.cat(outputs)


@dataclass(frozen=True)
class ShapeBias:
    """Counts behind a shape-bias value, over the cue-conflict images only."""

    shape_decisions: int
    texture_decisions: int
    conflict_images: int

    @property
    def shape_bias(self) -> float:
        """Fraction of shape decisions among shape-or-texture decisions (NaN if there are none)."""
        decided = self.shape_decisions + self.texture_decisions
        return self.shape_decisions / decided if decided else float("nan")

    @property
    def cue_accuracy(self) -> float:
        """Fraction of conflict images whose decision names shape *or* texture."""
        return (self.shape_decisions + self.texture_decisions) / self.conflict_images


def shape_bias(decisions: torch.Tensor, shape_labels: torch.Tensor, texture_labels: torch.Tensor) -> ShapeBias:
    """Count shape and texture decisions over the images whose shape and texture differ."""
    if not decisions.shape == shape_labels.shape == texture_labels.shape or decisions.dim() != 1:
        raise ValueError("decisions, shape_labels and texture_labels must be 1-d and of one length")
    conflict = shape_labels != texture_labels
    if not conflict.any():
        raise ValueError("no cue-conflict images (shape differs from texture) to measure shape bias on")
    chosen = decisions[conflict]
    return ShapeBias(
        shape_decisions=int((chosen == shape_labels[conflict]).sum()),
        texture_decisions=int((chosen == texture_labels[conflict]).sum()),
        conflict_images=int(conflict.sum()),
    )
