"""A semantic image attack: gradient ascent on human-meaningful attributes and pixels at once.

Seed S4 (Luo et al., "Semantic Image Attack for Visual Model Diagnosis", arXiv 2303.13010)
attacks jointly in a space of semantic attributes (the directions of a generative model) and
in image space, so that every adversarial image says *which attribute* broke the model. Only
the abstract is available, without code or numbers, so this module implements its idea on a
space that needs no generator: bounded, differentiable global transforms (the proxy of the
reproduction spec, section 8.4), through kornia's colour and affine operations.

Every attribute has an identity value and a radius; the attack works on a normalised
coordinate ``t`` in [-1, 1] per attribute (value = identity + t * radius), so one step size
serves attributes measured in degrees, factors and fractions of the image. The image is
transformed first and the pixel perturbation ``delta`` (L-inf, at most ``eps``) is added to
the transformed image: the pixel budget means the same as PGD's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from advlib.attacks import _checks
from advlib.attacks.iterative import Model
from advlib.attacks.losses import attack_objective, is_adversarial
from advlib.utils import frozen_eval


@dataclass(frozen=True)
class Attribute:
    """One semantic attribute: its value runs over ``identity +- radius`` (in ``unit``)."""

    name: str
    identity: float
    radius: float
    unit: str
    needs_colour: bool = False


# The proxy's bounds (spec 8.4); saturation is the addition, bounded like contrast.
# Shifts are fractions of the image side, so the same space serves 28-px digits (0.1 is
# 2.8 px, the spec's +-3 px) and 224-px photos.
ATTRIBUTES: dict[str, Attribute] = {
    attribute.name: attribute
    for attribute in (
        Attribute("brightness", 0.0, 0.3, "added to every pixel"),
        Attribute("contrast", 1.0, 0.3, "factor around the image mean"),
        Attribute("saturation", 1.0, 0.3, "factor", needs_colour=True),
        Attribute("hue", 0.0, 0.1, "turns of the colour wheel", needs_colour=True),
        Attribute("rotation", 0.0, 15.0, "degrees"),
        Attribute("shift_x", 0.0, 0.1, "fraction of the width"),
        Attribute("shift_y", 0.0, 0.1, "fraction of the height"),
        Attribute("scale", 1.0, 0.1, "zoom factor"),
    )
}
PADDINGS = ("zeros", "border", "reflection")


def default_attributes(channels: int) -> tuple[str, ...]:
    """Every attribute that applies to images with ``channels`` channels (colour ones need 3)."""
    return tuple(name for name, attribute in ATTRIBUTES.items() if channels == 3 or not attribute.needs_colour)


def check_attributes(names: object, channels: int) -> tuple[str, ...]:
    """A non-empty sequence of distinct known attribute names that apply to the images."""
    if isinstance(names, str) or not hasattr(names, "__iter__"):
        raise TypeError(f"attributes must be a sequence of names, got {names!r}")
    names = tuple(names)
    if not names:
        raise ValueError("attributes must name at least one attribute")
    unknown = [name for name in names if name not in ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown attributes {unknown}; known: {list(ATTRIBUTES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"attributes must be distinct, got {list(names)}")
    colour = [name for name in names if ATTRIBUTES[name].needs_colour]
    if colour and channels != 3:
        raise ValueError(f"attributes {colour} need RGB images, got {channels} channel(s)")
    return names


def attribute_values(normalised: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """Normalised coordinates t in [-1, 1], shape (N, K), to values in each attribute's unit."""
    identity = torch.tensor([ATTRIBUTES[name].identity for name in names], dtype=normalised.dtype)
    radius = torch.tensor([ATTRIBUTES[name].radius for name in names], dtype=normalised.dtype)
    return identity.to(normalised.device) + normalised * radius.to(normalised.device)


def apply_attributes(
    images: torch.Tensor, normalised: torch.Tensor, names: tuple[str, ...], padding: str = "zeros"
) -> torch.Tensor:
    """Transform each image by its attributes: colour first (brightness, contrast,
    saturation, hue), then one affine warp (rotation, shift and zoom about the centre).

    Differentiable in ``images`` and in ``normalised`` (shape (N, K), one row per image);
    ``t = 0`` leaves the image unchanged up to float rounding. ``padding`` fills what the
    warp uncovers: 'zeros' suits digits on black, 'reflection' or 'border' suits photos.
    """
    from kornia.enhance import adjust_brightness, adjust_hue, adjust_saturation
    from kornia.geometry.transform import get_affine_matrix2d, warp_affine

    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    if normalised.shape != (images.shape[0], len(names)):
        raise ValueError(f"attribute coordinates must have shape {(images.shape[0], len(names))}, "
                         f"got {tuple(normalised.shape)}")
    values = dict(zip(names, attribute_values(normalised, names).unbind(1), strict=True))
    out = images
    if "brightness" in values:
        out = adjust_brightness(out, values["brightness"])
    if "contrast" in values:  # around the image mean, as torchvision's contrast is
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = ((out - mean) * values["contrast"].view(-1, 1, 1, 1) + mean).clamp(0, 1)
    if "saturation" in values:
        out = adjust_saturation(out, values["saturation"])
    if "hue" in values:
        out = adjust_hue(out, values["hue"] * 2 * torch.pi)
    geometric = {"rotation", "shift_x", "shift_y", "scale"} & values.keys()
    if geometric:
        count, height, width = images.shape[0], images.shape[-2], images.shape[-1]
        zero = torch.zeros(count, dtype=images.dtype, device=images.device)
        one = torch.ones_like(zero)
        shifts = torch.stack([values.get("shift_x", zero) * width, values.get("shift_y", zero) * height], dim=1)
        centre = torch.tensor([(width - 1) / 2, (height - 1) / 2], dtype=images.dtype, device=images.device)
        zoom = values.get("scale", one)
        matrix = get_affine_matrix2d(shifts, centre.expand(count, 2), torch.stack([zoom, zoom], dim=1),
                                     values.get("rotation", zero))
        out = warp_affine(out, matrix[:, :2], (height, width), padding_mode=padding, align_corners=True)
    return out.clamp(0, 1)


@dataclass(frozen=True)
class SemanticAttack:
    """The outcome of :func:`semantic_attack`, per image.

    ``transformed`` is the input under the found attributes alone; ``images`` adds the pixel
    perturbation, so ``images - transformed`` is the pixel part (at most ``eps``).
    """

    images: torch.Tensor
    transformed: torch.Tensor
    normalised: torch.Tensor
    names: tuple[str, ...]
    success: torch.Tensor

    @property
    def values(self) -> torch.Tensor:
        """The attributes in their own units, shape (N, K)."""
        return attribute_values(self.normalised, self.names)

    def dominant(self) -> torch.Tensor:
        """Per image, the index of the attribute moved furthest relative to its radius: the
        one to read first when diagnosing why the model failed."""
        return self.normalised.abs().argmax(dim=1)


def semantic_attack(
    model: Model,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    attributes: tuple[str, ...] | list[str] | None = None,
    eps: float = 4 / 255,
    alpha: float = 1 / 255,
    attribute_step: float = 0.2,
    steps: int = 10,
    padding: str = "zeros",
    targeted: bool = False,
    loss: str = "ce",
) -> SemanticAttack:
    """Joint signed-gradient ascent on the attributes and on an L-inf pixel perturbation.

    Each step moves every normalised attribute by ``attribute_step`` (0.2 = a tenth of its
    range, spec 8.4) along the sign of its gradient and clips it to [-1, 1], and moves the
    pixel perturbation by ``alpha`` and clips it to ``eps``. ``eps = 0`` gives a purely
    semantic attack. Both start at zero, the identity, so the result is deterministic.
    Never modifies ``images``; returns images in [0, 1] within ``eps`` of ``transformed``.
    """
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    if images.dim() != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    names = default_attributes(images.shape[1]) if attributes is None else check_attributes(attributes, images.shape[1])
    _checks.check_fraction(eps, "eps", 0.0, 1.0)
    _checks.check_fraction(alpha, "alpha", 0.0, 1.0)
    _checks.check_fraction(attribute_step, "attribute_step", 0.0, 2.0)
    steps = _checks.check_positive_int(steps, "steps")
    loss = _checks.check_loss(loss)
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")

    original = images.detach()
    normalised = torch.zeros(original.shape[0], len(names), dtype=original.dtype, device=original.device)
    delta = torch.zeros_like(original)
    with frozen_eval(model):
        for _ in range(steps):
            normalised.requires_grad_(True)
            delta.requires_grad_(True)
            candidate = (apply_attributes(original, normalised, names, padding) + delta).clamp(0, 1)
            objective = attack_objective(model(candidate), labels, loss=loss, targeted=targeted)
            grad_attributes, grad_pixels = torch.autograd.grad(objective.sum(), (normalised, delta))
            normalised = (normalised.detach() + attribute_step * grad_attributes.sign()).clamp(-1, 1)
            delta = (delta.detach() + alpha * grad_pixels.sign()).clamp(-eps, eps)
        with torch.no_grad():
            transformed = apply_attributes(original, normalised, names, padding)
            adversarial = (transformed + delta).clamp(0, 1)
            success = is_adversarial(model(adversarial), labels, targeted)
    return SemanticAttack(adversarial, transformed, normalised, names, success)
