"""Input diversity (Xie et al., CVPR 2019): random resize-and-pad before each gradient.

Gradients through randomly rescaled copies of the image overfit less to the surrogate
model, which is why DI2-FGSM transfers better to unseen models.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def input_diversity(
    images: torch.Tensor,
    *,
    probability: float,
    resize_rate: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """With ``probability``, shrink the batch to a random size in [resize_rate*H, H] and
    zero-pad it back to H x W at a random offset; otherwise return it unchanged.

    Deliberate difference from the paper and torchattacks: they enlarge the image (299 to
    [299, 330)) and feed the model a bigger input, which only works for models that accept
    any size. Shrinking and padding back keeps the model's input size, so the same code
    works for a 28x28 CNN and an ImageNet model. One draw per batch, as in the paper.
    """
    if probability <= 0.0:
        return images
    draw = torch.rand((), generator=generator).item()
    if draw >= probability:
        return images
    height, width = images.shape[-2:]
    smallest = max(1, round(min(height, width) * resize_rate))
    side = int(torch.randint(smallest, min(height, width) + 1, (), generator=generator))
    new_h = max(1, round(height * side / min(height, width)))
    new_w = max(1, round(width * side / min(height, width)))
    new_h, new_w = min(new_h, height), min(new_w, width)
    resized = F.interpolate(images, size=(new_h, new_w), mode="bilinear", align_corners=False)
    top = int(torch.randint(0, height - new_h + 1, (), generator=generator))
    left = int(torch.randint(0, width - new_w + 1, (), generator=generator))
    return F.pad(resized, (left, width - new_w - left, top, height - new_h - top), value=0.0)
