"""Models that take images in [0, 1]: small trainable networks and pretrained classifiers."""

from advlib.models.fast_at_mnist import FastATMnistNet
from advlib.models.normalized import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Normalized,
    Resized,
)
from advlib.models.pretrained import (
    EFFICIENTNET_LITE_INPUT,
    efficientnet_lite,
    efficientnet_lite0,
    imagenet_categories,
    torchvision_classifier,
)
from advlib.models.resnet import ResNet18
from advlib.models.shallow import MLP, SoftmaxRegression
from advlib.models.small_cnn import SmallCNN

__all__ = [
    "CIFAR10_MEAN",
    "CIFAR10_STD",
    "EFFICIENTNET_LITE_INPUT",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MLP",
    "FastATMnistNet",
    "Normalized",
    "ResNet18",
    "Resized",
    "SmallCNN",
    "SoftmaxRegression",
    "efficientnet_lite",
    "efficientnet_lite0",
    "imagenet_categories",
    "torchvision_classifier",
]
