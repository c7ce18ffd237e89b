"""The MNIST network of Wong, Rice and Kolter's fast adversarial training code.

Chapter 2's reference run trains it with their MNIST recipe so that its robust accuracy can be
set beside a published MNIST number at the published budget (eps = 0.3). The layer sizes follow
``MNIST/mnist_net.py`` of locuslab/fast_adversarial (read, not copied): two strided 4x4
convolutions (16 and 32 channels) and a 100-unit hidden layer, about 166,000 weights, several
times cheaper per image than :class:`~advlib.models.SmallCNN`, which is what lets ten epochs of
adversarial training on all 60,000 digits fit a CPU's hour.
"""

from __future__ import annotations

from torch import nn

from advlib.models.normalized import channels_last


class FastATMnistNet(nn.Module):
    """conv(16, 4x4, stride 2)-conv(32, 4x4, stride 2)-fc(100)-fc(classes), ReLU throughout."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        if image_size % 4:
            raise ValueError(f"image_size must be divisible by 4 (two stride-2 convolutions), got {image_size}")
        self.in_channels, self.num_classes = in_channels, num_classes
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 4, stride=2, padding=1),
            nn.ReLU(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * (image_size // 4) ** 2, 100),
            nn.ReLU(),
            nn.Linear(100, num_classes),
        )
        channels_last(self)

    def forward(self, images):
        return self.classifier(self.features(images))
