"""Models: the class-scale CNN's accuracy, the ResNet, the Normalized wrapper, and the
pretrained ImageNet classifiers."""

from __future__ import annotations

import pytest
import torch

from advlib.data import PHOTOS, imagenet_preprocess, load_photo
from advlib.errors import DataUnavailableError
from advlib.evaluate import accuracy
from advlib.models import (
    EFFICIENTNET_LITE_INPUT,
    IMAGENET_MEAN,
    IMAGENET_STD,
    Normalized,
    Resized,
    ResNet18,
    SmallCNN,
    efficientnet_lite,
    efficientnet_lite0,
    imagenet_categories,
    torchvision_classifier,
)
from advlib.models.pretrained import efficientnet_lite_weights


def test_small_cnn_reaches_97_percent_on_class_scale_mnist(trained_cnn, mnist_class):
    images, labels = mnist_class[1].tensors()
    assert accuracy(trained_cnn, images, labels) >= 0.97


def test_small_cnn_and_resnet_shapes():
    assert SmallCNN()(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert SmallCNN(in_channels=3, num_classes=4)(torch.rand(2, 3, 28, 28)).shape == (2, 4)
    resnet = ResNet18().eval()
    assert resnet(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert sum(p.numel() for p in resnet.parameters()) == pytest.approx(11.17e6, rel=0.01)


def test_normalized_applies_mean_and_std_and_checks_channels():
    seen = {}

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen["x"] = x
            return x.flatten(1)

    model = Normalized(Spy(), (0.5, 0.25, 0.0), (0.5, 0.25, 1.0))
    model(torch.ones(1, 3, 2, 2))
    torch.testing.assert_close(seen["x"][0, :, 0, 0], torch.tensor([1.0, 3.0, 1.0]))
    with pytest.raises(ValueError, match="channels"):
        model(torch.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match="same length"):
        Normalized(Spy(), (0.5,), (0.5, 0.5))
    with pytest.raises(ValueError, match="positive"):
        Normalized(Spy(), (0.5,), (0.0,))


def test_resized_feeds_the_model_its_own_input_size_and_passes_gradients():
    seen = {}

    class Spy(torch.nn.Module):
        def forward(self, x):
            seen["shape"] = tuple(x.shape)
            return x.mean(dim=(1, 2, 3)).unsqueeze(1)

    images = torch.rand(2, 3, 8, 8, requires_grad=True)
    output = Resized(Spy(), 12)(images)
    assert seen["shape"] == (2, 3, 12, 12)
    torch.testing.assert_close(output, torch.nn.functional.interpolate(
        images, size=(12, 12), mode="bilinear", align_corners=False).mean(dim=(1, 2, 3)).unsqueeze(1))
    output.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0, "attacks see through the resize"
    with pytest.raises(ValueError, match="side"):
        Resized(Spy(), 0)


@pytest.fixture(scope="module")
def lite0():
    return efficientnet_lite0()


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_efficientnet_lite_equals_the_original_port(variant, lite0):
    """Our timm-based loader computes what the original port computes, for every variant."""
    port = pytest.importorskip("efficientnet_lite_pytorch")
    original = port.EfficientNet.from_pretrained(
        f"efficientnet-lite{variant}", weights_path=efficientnet_lite_weights(variant)
    ).eval()
    ours = lite0 if variant == 0 else efficientnet_lite(variant)
    side = EFFICIENTNET_LITE_INPUT[variant][1]
    images = torch.rand(2, 3, side, side)
    with torch.no_grad():
        torch.testing.assert_close(ours(images), original((images - ours.mean) / ours.std), atol=1e-4, rtol=1e-4)


def test_efficientnet_lite_rejects_unknown_variants():
    with pytest.raises(ValueError, match="variant must be one of"):
        efficientnet_lite(3)


def test_efficientnet_lite0_recognises_the_shipped_photos(lite0):
    categories = imagenet_categories()
    assert len(categories) == 1000
    for name, accepted in PHOTOS.items():
        batch = imagenet_preprocess(load_photo(name))
        assert batch.shape == (1, 3, 224, 224) and batch.min() >= 0 and batch.max() <= 1
        with torch.no_grad():
            top1 = lite0(batch).argmax(1).item()
        assert top1 in accepted, f"{name}: predicted {categories[top1]!r}"


def test_efficientnet_lite0_uses_the_tensorflow_lite_normalisation(lite0):
    """The evidence behind LITE_MEAN/LITE_STD: the shipped photos' labelled classes are more
    likely under (255x - 127) / 128 than under ImageNet mean/std normalisation."""
    imagenet_normalised = Normalized(lite0.model, IMAGENET_MEAN, IMAGENET_STD).eval()

    def log_likelihood(model) -> float:
        total = 0.0
        for name, accepted in PHOTOS.items():
            with torch.no_grad():
                probabilities = model(imagenet_preprocess(load_photo(name))).softmax(1)[0]
            total += probabilities[list(accepted)].sum().log().item()
        return total

    assert log_likelihood(lite0) > log_likelihood(imagenet_normalised)


def test_unknown_photo_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown photo"):
        load_photo("no_such_photo")


def test_torchvision_classifier_missing_weights_is_a_clear_error(tmp_path):
    with pytest.raises(DataUnavailableError) as caught:
        torchvision_classifier("resnet18", root=tmp_path, download=False)
    message = str(caught.value)
    assert "resnet18" in message.lower() and str(tmp_path / "checkpoints") in message and "https://" in message
    with pytest.raises(ValueError, match="unknown torchvision"):
        torchvision_classifier("resnet_9000", root=tmp_path, download=False)
    with pytest.raises(ValueError, match=r"no weights 'IMAGENET1K_V9'.*IMAGENET1K_V1"):
        torchvision_classifier("resnet50", weights="IMAGENET1K_V9", root=tmp_path, download=False)


def test_torchvision_classifier_loads_the_named_weights(tmp_path):
    """Named weights load their own file: the original ResNet-50 weights, not the default's."""
    import torchvision.models as tv_models

    original, default = tv_models.ResNet50_Weights.IMAGENET1K_V1, tv_models.ResNet50_Weights.DEFAULT
    assert original != default  # else this test could not tell them apart
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.manual_seed(0)
    state = tv_models.resnet50(weights=None).state_dict()
    torch.save(state, folder / original.url.rsplit("/", 1)[1])
    model = torchvision_classifier("resnet50", weights="IMAGENET1K_V1", root=tmp_path, download=False)
    torch.testing.assert_close(model.model.fc.weight, state["fc.weight"])
    with pytest.raises(DataUnavailableError, match=default.url.rsplit("/", 1)[1]):
        torchvision_classifier("resnet50", root=tmp_path, download=False)


def test_torchvision_classifier_loads_weights_from_the_data_root(tmp_path):
    """A reader who copied the weight file into <root>/checkpoints gets the model, wrapped
    with the weights' own normalisation. (A random state dict stands in for the real file.)"""
    import torchvision.models as tv_models

    weights = tv_models.ResNet18_Weights.DEFAULT
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.manual_seed(0)
    state = tv_models.resnet18(weights=None).state_dict()
    torch.save(state, folder / weights.url.rsplit("/", 1)[1])
    model = torchvision_classifier("resnet18", root=tmp_path, download=False)
    assert isinstance(model, Normalized) and not model.training
    torch.testing.assert_close(model.mean.flatten(), torch.tensor(IMAGENET_MEAN))
    torch.testing.assert_close(model.model.fc.weight, state["fc.weight"])
    assert model(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_imagenet_preprocess_rejects_bad_shapes():
    with pytest.raises(ValueError, match="expected"):
        imagenet_preprocess(torch.rand(1, 1, 50, 50))


def test_torchvision_classifier_failed_download_names_the_cause(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    with pytest.raises(DataUnavailableError, match="network unreachable") as caught:
        torchvision_classifier("resnet18", root=tmp_path, download=True)
    assert str(tmp_path / "checkpoints") in str(caught.value)


def test_inception_v3_from_the_data_root_transforms_its_input_as_torchvision_does(tmp_path):
    """torchvision switches on ``transform_input`` when it loads Inception-v3's weights (they
    expect inputs in [-1, 1]); built without weights and loaded by hand, the model must too."""
    import torchvision.models as tv_models

    weights = tv_models.Inception_V3_Weights.DEFAULT
    (tmp_path / "checkpoints").mkdir()
    torch.manual_seed(0)
    network = tv_models.inception_v3(weights=None, init_weights=False)
    torch.save(network.state_dict(), tmp_path / "checkpoints" / weights.url.rsplit("/", 1)[1])
    model = torchvision_classifier("inception_v3", root=tmp_path, download=False)
    assert model.model.transform_input and not model.training
    reference = tv_models.inception_v3(weights=None, init_weights=False, transform_input=True)
    reference.load_state_dict(network.state_dict())
    images = torch.rand(1, 3, 299, 299)
    normalised = (images - model.mean) / model.std
    torch.testing.assert_close(model(images), reference.eval()(normalised))


def test_channels_last_keeps_the_outputs_and_takes_ordinary_inputs(lite0):
    import copy

    from advlib.models.normalized import channels_last

    images = load_photo("chelsea")[None, :, :224, :224].contiguous()
    before = images.clone()
    fast = channels_last(copy.deepcopy(lite0))
    with torch.no_grad():
        torch.testing.assert_close(fast(images), lite0(images), rtol=1e-4, atol=1e-4)
    assert torch.equal(images, before) and images.is_contiguous()
    assert fast.model.conv_stem.weight.is_contiguous(memory_format=torch.channels_last)


def test_fast_at_mnist_net_has_wong_et_al_s_layer_sizes():
    """Two strided 4x4 convolutions (16, 32 channels) and a 100-unit layer: 166,000-odd weights,
    logits for a batch of digits, and a clear error for a side that the strides cannot halve twice."""
    from advlib.models import FastATMnistNet

    model = FastATMnistNet()
    layers = (16 * 16 + 16) + (32 * 16 * 16 + 32) + (32 * 49 * 100 + 100) + (100 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == layers
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="divisible by 4"):
        FastATMnistNet(image_size=30)
