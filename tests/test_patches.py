"""Visible patches: placement, pasting, the generator, G2LVAP and LaVAN training, evaluation.

A tiny convolutional classifier on 32x32 colour images stands in for EfficientNet-Lite0 so
that every property runs in seconds.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advlib.patches import (
    G2LVAPConfig,
    LaVANConfig,
    PatchGenerator,
    class_comparison,
    correctly_classified,
    deconv_plan,
    fooled_per_image,
    paste,
    patch_mask,
    random_positions,
    salient_positions,
    sliding_positions,
    success_rates,
    train_g2lvap,
    train_lavan,
)
from advlib.patches.features import FeatureTap, last_conv_layer
from advlib.patches.g2lvap import derangement, fooling_loss, rms_distance


class TinyNet(nn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2),
                                      nn.ReLU())
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


@pytest.fixture()
def net() -> TinyNet:
    return TinyNet().eval()


@pytest.fixture()
def images() -> torch.Tensor:
    return torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def test_random_positions_keep_the_whole_patch_inside_and_cover_the_range():
    positions = random_positions(4000, (32, 40), 7, torch.Generator().manual_seed(0))
    assert positions.shape == (4000, 2) and positions.dtype == torch.int64
    assert positions[:, 0].min() == 0 and positions[:, 0].max() == 32 - 7
    assert positions[:, 1].min() == 0 and positions[:, 1].max() == 40 - 7


def test_sliding_positions_count_every_grid_place_that_fits():
    positions = sliding_positions((299, 299), 30, 2)
    assert positions.shape[0] == 135 * 135  # tops 0, 2, ..., 268
    assert positions[0].tolist() == [0, 0] and positions[1].tolist() == [0, 2] and positions[-1].tolist() == [268, 268]
    assert sliding_positions((224, 224), 22, 2).shape[0] == 102 * 102


@pytest.mark.parametrize(("size", "patch", "message"), [((32, 32), 0, "at least 1"), ((32, 32), 33, "does not fit")])
def test_patches_that_do_not_fit_are_rejected(size, patch, message):
    with pytest.raises(ValueError, match=message):
        random_positions(3, size, patch)
    with pytest.raises(ValueError, match=message):
        sliding_positions(size, patch, 1)


def test_paste_replaces_exactly_the_patch_pixels_and_leaves_the_input_alone(images):
    patches = torch.rand(12, 3, 5, 5)
    positions = random_positions(12, (32, 32), 5, torch.Generator().manual_seed(2))
    before = images.clone()
    pasted = paste(images, patches, positions)
    assert torch.equal(images, before)
    mask = patch_mask((32, 32), 5, positions)
    assert mask.sum(dim=(1, 2, 3)).tolist() == [25] * 12
    assert torch.equal(pasted.masked_select(~mask), images.masked_select(~mask))
    for index in range(12):
        top, left = positions[index].tolist()
        assert torch.equal(pasted[index, :, top : top + 5, left : left + 5], patches[index])


def test_one_patch_for_the_whole_batch_and_positions_at_the_borders(images):
    patch = torch.ones(3, 4, 4)
    positions = torch.tensor([[0, 0], [28, 28]] + [[10, 3]] * 10)
    pasted = paste(images, patch, positions)
    assert torch.equal(pasted[0, :, :4, :4], patch) and torch.equal(pasted[1, :, 28:, 28:], patch)


@pytest.mark.parametrize(
    ("positions", "patches", "message"),
    [(torch.tensor([[-1, 0]] * 12), torch.rand(3, 4, 4), "outside"),
     (torch.tensor([[29, 0]] * 12), torch.rand(3, 4, 4), "outside"),
     (torch.tensor([[0, 0]] * 11), torch.rand(3, 4, 4), r"\(12, 2\)"),
     (torch.tensor([[0, 0]] * 12), torch.rand(1, 4, 4), "patches must be"),
     (torch.tensor([[0, 0]] * 12), torch.rand(3, 4, 5), "square")],
)
def test_paste_rejects_bad_positions_and_patches(images, positions, patches, message):
    with pytest.raises(ValueError, match=message):
        paste(images, patches, positions)


def test_gradients_of_a_pasted_image_reach_only_the_patch_pixels(images):
    patch = torch.rand(3, 6, 6, requires_grad=True)
    source = images.clone().requires_grad_(True)
    positions = random_positions(12, (32, 32), 6, torch.Generator().manual_seed(3))
    paste(source, patch, positions).sum().backward()
    assert torch.equal(patch.grad, torch.full_like(patch, 12.0))  # each patch pixel appears once per image
    mask = patch_mask((32, 32), 6, positions)
    assert torch.equal(source.grad, (~mask).float().expand_as(source))


@pytest.mark.parametrize(("size", "start", "kernels"), [(15, 4, (4, 3)), (20, 5, (4, 4)), (25, 7, (3, 3)),
                                                         (30, 8, (3, 4))])
def test_the_deconvolution_plan_reproduces_the_spec_table(size, start, kernels):
    plan = deconv_plan(size)
    assert (plan.start, plan.kernel1, plan.kernel2) == (start, *kernels)


@pytest.mark.parametrize("size", [5, 8, 11, 15, 19, 22, 30, 42])
def test_the_generator_makes_patches_of_the_requested_size_in_the_pixel_range(size):
    generator = PatchGenerator(size)
    patches = generator(generator.sample_latent(4, torch.Generator().manual_seed(0)))
    assert patches.shape == (4, 3, size, size)
    assert patches.min() >= 0.0 and patches.max() <= 1.0


def test_the_generator_rejects_bad_sizes_and_latents():
    with pytest.raises(ValueError, match="at least 5"):
        PatchGenerator(4)
    with pytest.raises(ValueError, match=r"\(B, 100\)"):
        PatchGenerator(8)(torch.rand(2, 50))


def test_a_derangement_moves_every_index():
    for seed in range(20):
        permutation = derangement(7, torch.Generator().manual_seed(seed))
        assert sorted(permutation.tolist()) == list(range(7))
        assert bool((permutation != torch.arange(7)).all())
    with pytest.raises(ValueError):
        derangement(1)


def test_the_losses_on_hand_made_values():
    logits = torch.log(torch.tensor([[0.5, 0.5], [0.9, 0.1]]))
    labels = torch.tensor([0, 1])
    # Per image (the paper's equation 3, averaged): -(log 0.5 + log 0.9) / 2.
    expected = -(torch.log(torch.tensor(0.5)) + torch.log(torch.tensor(0.9))).item() / 2
    assert fooling_loss(logits, labels).item() == pytest.approx(expected)
    # NAG's form averages the probability first: -log(1 - 0.3).
    assert fooling_loss(logits, labels, per_image=False).item() == pytest.approx(-torch.log(torch.tensor(0.7)).item())
    # Exact where the clean probability rounds to 1: log(1 - p) from the logits, not from p.
    confident = torch.tensor([[40.0, 0.0]])
    assert fooling_loss(confident, torch.tensor([0])).item() == pytest.approx(40.0, rel=1e-5)
    assert rms_distance(torch.zeros(1, 4), torch.full((1, 4), 2.0)).item() == pytest.approx(2.0)


def test_the_feature_tap_reads_the_last_convolution(net, images):
    layer = last_conv_layer(net)
    assert layer is net.features[2]
    with FeatureTap(layer) as tap:
        net(images)
    assert tap.features.shape == (12, 8, 15, 15)
    with pytest.raises(ValueError, match="no convolutional layer"):
        last_conv_layer(nn.Linear(3, 2))


def test_g2lvap_training_changes_only_the_generator_and_lowers_the_clean_class_probability(net, images):
    labels = net(images).argmax(1)
    before = {name: value.clone() for name, value in net.state_dict().items()}
    images_before = images.clone()
    config = G2LVAPConfig(patch_size=10, steps=30, batch_size=6, lr=1e-2, seed=0)
    first = train_g2lvap(net, images, labels, config)
    assert torch.equal(images, images_before) and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(param.grad is None for param in net.parameters())
    assert all(param.requires_grad for param in net.parameters())  # restored afterwards
    assert len(first.history) == 30 and not first.generator.training
    assert any(param.grad is not None for param in first.generator.parameters())
    early = sum(step["fooling"] for step in first.history[:5])
    late = sum(step["fooling"] for step in first.history[-5:])
    assert late < early
    again = train_g2lvap(net, images, labels, config)  # the seed fixes everything
    assert [step["total"] for step in again.history] == [step["total"] for step in first.history]


def test_g2lvap_and_lavan_reject_bad_settings(net, images):
    with pytest.raises(ValueError, match="batch_size"):
        G2LVAPConfig(patch_size=8, steps=3, batch_size=1)
    with pytest.raises(ValueError, match="steps"):
        G2LVAPConfig(patch_size=8, steps=0)
    with pytest.raises(ValueError, match="labels"):
        train_g2lvap(net, images, torch.zeros(3, dtype=torch.int64), G2LVAPConfig(patch_size=8, steps=1))
    with pytest.raises(ValueError, match="step_size"):
        LaVANConfig(patch_size=8, steps=3, step_size=0)
    with pytest.raises(ValueError, match="already of the target class"):
        train_lavan(net, images, torch.zeros(12, dtype=torch.int64), LaVANConfig(patch_size=8, steps=1, target=0))


def test_lavan_pulls_images_towards_its_target_and_stays_a_valid_image(net, images):
    labels = net(images).argmax(1)
    target = int((labels.bincount(minlength=5)).argmin())  # the class the clean images avoid most
    result = train_lavan(net, images, labels, LaVANConfig(patch_size=14, steps=40, target=target, batch_size=12,
                                                          step_size=0.05))
    assert result.patch.shape == (3, 14, 14) and result.patch.min() >= 0 and result.patch.max() <= 1
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert all(param.grad is None for param in net.parameters())


def test_success_rates_count_changed_predictions_per_repeat(net, images):
    labels = net(images).argmax(1)
    rates = success_rates(net, images, labels, torch.rand(3, 6, 6), 4, torch.Generator().manual_seed(0))
    assert rates.shape == (4,) and bool(((rates >= 0) & (rates <= 1)).all())
    # A patch the size of the image replaces all of it: every image becomes images[0], so it
    # counts as fooled exactly when its clean class differs from images[0]'s.
    whole = success_rates(net, images, labels, images[0], 1, torch.Generator().manual_seed(0))
    assert whole.item() == pytest.approx((labels != labels[0]).float().mean().item())
    wrong = (labels + 1) % 5
    assert success_rates(net, images, wrong, torch.rand(3, 1, 1), 1, torch.Generator()).item() > 0.5
    calls = []
    success_rates(net, images, labels, lambda repeat: calls.append(repeat) or torch.rand(3, 4, 4), 3,
                  torch.Generator())
    assert calls == [0, 1, 2]
    with pytest.raises(ValueError, match="repeats"):
        success_rates(net, images, labels, torch.rand(3, 4, 4), 0, torch.Generator())


def test_fooled_per_image_is_what_the_success_rates_average(net, images):
    """The same placements (same generator seed) give per-image outcomes whose mean per repeat
    is the success rate; with the whole image covered, the outcome of each image is known."""
    labels = net(images).argmax(1)
    patch = torch.rand(3, 6, 6)
    fooled = fooled_per_image(net, images, labels, patch, 3, torch.Generator().manual_seed(0))
    rates = success_rates(net, images, labels, patch, 3, torch.Generator().manual_seed(0))
    assert fooled.shape == (3, len(images)) and fooled.dtype == torch.bool
    assert torch.equal(fooled.float().mean(dim=1), rates)
    whole = fooled_per_image(net, images, labels, images[0], 1, torch.Generator().manual_seed(0))
    assert torch.equal(whole[0], labels != labels[0])
    with pytest.raises(ValueError, match="repeats"):
        fooled_per_image(net, images, labels, patch, 0, torch.Generator())


def test_class_comparison_records_every_placement_on_images_and_canvas(net, images):
    patch = torch.rand(3, 12, 12, generator=torch.Generator().manual_seed(4))
    comparison = class_comparison(net, images[:3], patch, stride=5)
    assert comparison.positions.shape == (25, 2) and comparison.adversarial.shape == (3, 25)
    assert comparison.comparisons == 75 and comparison.canvas.shape == (25,)
    summary = comparison.summary()
    assert summary["same_class_rate"] + summary["differ_rate"] == pytest.approx(summary["success_rate"])
    assert 0 < summary["canvas_top_share"] <= 1
    # The canvas prediction is the model's reading of the patch on black at that place.
    top, left = comparison.positions[7].tolist()
    canvas = torch.zeros(1, 3, 32, 32)
    canvas[0, :, top : top + 12, left : left + 12] = patch
    assert comparison.canvas[7].item() == net(canvas).argmax(1).item()


def test_salient_positions_find_the_window_with_the_largest_saliency():
    class Corner(nn.Module):  # logits depend on the lower-right 4x4 corner only
        def forward(self, x):
            score = x[:, :, -4:, -4:].sum(dim=(1, 2, 3))
            return torch.stack([score, -score], dim=1)

    images = torch.rand(2, 3, 16, 16)
    positions = salient_positions(Corner(), images, torch.zeros(2, dtype=torch.int64), 4)
    assert positions.tolist() == [[12, 12], [12, 12]]


def test_correctly_classified_keeps_the_first_right_answers_in_pool_order(net, images):
    predicted = net(images).argmax(1)
    truth = predicted.clone()
    truth[::3] = (truth[::3] + 1) % 5  # every third image is now misread
    kept, labels, clean = correctly_classified(net, images, truth, batch_size=5)
    right = torch.nonzero(predicted == truth).squeeze(1)
    assert torch.equal(kept, images[right]) and torch.equal(labels, truth[right])
    assert clean == pytest.approx(8 / 12)
    first, _, same_clean = correctly_classified(net, images, truth, limit=3)
    assert torch.equal(first, images[right[:3]]) and same_clean == clean, "the accuracy is over the whole pool"
    with pytest.raises(ValueError, match="labels"):
        correctly_classified(net, images, truth[:-1])
