"""Adversarial CAPTCHAs (chapter 6): generation, test-time transforms, solvers, attack, ddddocr.

``advlib.captcha.ddddocr`` is imported on demand (it loads onnxruntime and onnx2torch).
"""

from advlib.captcha.attack import (
    CaptchaAttackConfig,
    bpda_view,
    craft_captchas,
    first_position_objective,
    to_8bit_within,
)
from advlib.captcha.generate import DIGITS, CaptchaSpec, make_captchas, render_captcha
from advlib.captcha.solver import CaptchaSolver, string_accuracy, strings_read
from advlib.captcha.transforms import (
    DIFFICULTIES,
    RandomCaptchaTransform,
    TransformLevel,
    binarize,
    gaussian_blur,
    get_level,
    jpeg,
    median_filter,
    random_affine,
)

__all__ = [
    "DIFFICULTIES",
    "DIGITS",
    "CaptchaAttackConfig",
    "CaptchaSolver",
    "CaptchaSpec",
    "RandomCaptchaTransform",
    "TransformLevel",
    "binarize",
    "bpda_view",
    "craft_captchas",
    "first_position_objective",
    "gaussian_blur",
    "get_level",
    "jpeg",
    "make_captchas",
    "median_filter",
    "random_affine",
    "render_captcha",
    "string_accuracy",
    "strings_read",
    "to_8bit_within",
]
