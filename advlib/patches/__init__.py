"""Localized visible adversarial patches (chapter 8): placement, the G2LVAP generator and its
training, the LaVAN baseline, and the evaluations of the G2LVAP paper."""

from advlib.patches.evaluate import (
    ClassComparison,
    class_comparison,
    correctly_classified,
    fooled_per_image,
    salient_positions,
    success_rates,
)
from advlib.patches.g2lvap import G2LVAPConfig, G2LVAPResult, train_g2lvap
from advlib.patches.generator import PatchGenerator, deconv_plan
from advlib.patches.lavan import LaVANConfig, LaVANResult, train_lavan
from advlib.patches.placement import paste, patch_mask, random_positions, sliding_positions

__all__ = [
    "ClassComparison", "G2LVAPConfig", "G2LVAPResult", "LaVANConfig", "LaVANResult", "PatchGenerator",
    "class_comparison", "correctly_classified", "deconv_plan", "fooled_per_image", "paste", "patch_mask",
    "random_positions", "salient_positions", "sliding_positions", "success_rates", "train_g2lvap", "train_lavan",
]
