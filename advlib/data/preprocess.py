"""Image preprocessing for ImageNet models: the resize and centre crop every ImageNet reader uses.

It lives with the data because the data loaders (the sample photos, ImageNet folders) prepare
their images with it; the models' wrappers only normalise (``Normalized``) or resize inside
the network (``Resized``), so no arrow runs from ``advlib.data`` up to ``advlib.models``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def imagenet_preprocess(image: torch.Tensor, resize: int = 256, crop: int = 224) -> torch.Tensor:
    """Resize the shorter side to ``resize`` (bicubic, antialiased) and centre-crop ``crop``.

    Takes a (3, H, W) or (N, 3, H, W) float tensor in [0, 1]; returns (N, 3, crop, crop) in
    [0, 1]. Normalisation is left to the model's ``Normalized`` wrapper.
    """
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f"expected a (3, H, W) or (N, 3, H, W) image, got {tuple(image.shape)}")
    height, width = image.shape[-2:]
    scale = resize / min(height, width)
    size = (max(crop, round(height * scale)), max(crop, round(width * scale)))
    image = F.interpolate(image, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    top, left = (size[0] - crop) // 2, (size[1] - crop) // 2
    return image[..., top : top + crop, left : left + crop].contiguous()
