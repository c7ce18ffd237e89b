"""What a classifier looks at, beside what a person looks at (chapter 3): shape bias on
cue-conflict stimuli (Geirhos et al.) and the image transforms that keep one kind of
information and destroy another (frequency filters, patch shuffling, saturation, noise)."""

from advlib.perception import transforms
from advlib.perception.shape_bias import (
    IMAGENET_16_CLASS,
    ShapeBias,
    category_probabilities,
    imagenet_probabilities,
    shape_bias,
)

__all__ = [
    "IMAGENET_16_CLASS", "ShapeBias", "category_probabilities", "imagenet_probabilities", "shape_bias",
    "transforms",
]
