"""Real photographs shipped inside scikit-image, for ImageNet demos that run offline.

Each comes with the ImageNet-1k classes that count as a correct answer, so a chapter can
check a pretrained model's predictions on them (a cat photo is "tabby", "tiger cat" or
"Egyptian cat", all fine-grained variants of the same animal).
"""

from __future__ import annotations

import numpy as np
import torch

# skimage name -> ImageNet-1k indices accepted as correct
PHOTOS: dict[str, tuple[int, ...]] = {
    "chelsea": (281, 282, 285),  # tabby, tiger cat, Egyptian cat
    "coffee": (967, 968, 504),  # espresso, cup, coffee mug
    "rocket": (657, 744, 812),  # missile, projectile, space shuttle
    "camera": (759, 872),  # reflex camera, tripod
}


def load_photo(name: str) -> torch.Tensor:
    """A shipped skimage photo as a (3, H, W) float tensor in [0, 1] (grey made RGB)."""
    from skimage import data as skdata

    if name not in PHOTOS and not hasattr(skdata, name):
        raise ValueError(f"unknown photo {name!r}; labelled ones: {sorted(PHOTOS)}")
    array = np.asarray(getattr(skdata, name)())
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return torch.from_numpy(array[..., :3].copy()).permute(2, 0, 1).float().div_(255)
