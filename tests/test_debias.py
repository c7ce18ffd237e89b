"""Chapter 7's library: C-MNIST, datasets with a bias attribute, the talk's fairness metrics,
the two-head network and the debiasing methods (AEDA and its baselines)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import advlib
from advlib.data.biased import BiasedDataset, concatenate, group_counts
from advlib.data.celeba import load_celeba_biased
from advlib.data.cmnist import (
    C_MNIST_BIAS_NAMES,
    C_MNIST_COLOURS,
    aligned_colour,
    biased_colour_mnist,
    colour_position,
    crossed_test_sets,
    recoloured,
)
from advlib.data.dataset import ImageDataset
from advlib.debias.fairness import (
    balanced_accuracy,
    confusion_matrix,
    fairness_report,
    group_accuracy,
    model_bias_per_class,
    reweighting_weights,
    undersample_index,
)
from advlib.debias.table import ROWS, debiasing_table, fairness_on
from advlib.debias.training import (
    METHODS,
    DebiasConfig,
    FlipAttack,
    bias_dataset,
    bias_flipped_copies,
    flip_rate,
    train_debiased,
)
from advlib.errors import DataUnavailableError
from advlib.models import SmallCNN
from advlib.models.two_head import TwoHeadNet, reverse_gradient, small_cnn_trunk
from advlib.train import TrainConfig


@pytest.fixture(scope="module")
def grey(mnist_class) -> ImageDataset:
    return mnist_class[0].subset(300)


@pytest.fixture(scope="module")
def fully_biased(grey) -> BiasedDataset:
    return biased_colour_mnist(grey, 1.0, seed=0)


# --- C-MNIST ---------------------------------------------------------------------------------


def test_fully_biased_set_puts_low_digits_on_red_and_high_digits_on_brown(grey, fully_biased):
    assert torch.equal(fully_biased.bias, (grey.labels >= 5).long())
    counts = fully_biased.group_counts()
    assert (counts[:5, 1] == 0).all() and (counts[5:, 0] == 0).all(), "no conflicting image at all"
    background = fully_biased.data.images[:, :, 0, 0].float() / 255  # MNIST corners carry no ink
    expected = C_MNIST_COLOURS[fully_biased.bias]
    assert torch.allclose(background, expected, atol=1 / 255)
    assert torch.equal(fully_biased.labels, grey.labels) and fully_biased.bias_names == C_MNIST_BIAS_NAMES


def test_strokes_stay_white_on_both_colours(grey):
    ink = grey.images[:, 0] == 255
    for test_set in crossed_test_sets(grey).values():
        assert (test_set.data.images.permute(0, 2, 3, 1)[ink] == 255).all()


def test_bias_ratio_sets_the_share_of_conflicting_images(mnist_class):
    digits = mnist_class[0]
    biased = biased_colour_mnist(digits, 0.9, seed=3)
    conflicting = (biased.bias != aligned_colour(digits.labels)).float().mean().item()
    assert abs(conflicting - 0.1) < 0.02
    assert torch.equal(biased.bias, biased_colour_mnist(digits, 0.9, seed=3).bias), "seeded"
    assert (biased_colour_mnist(digits, 0.5, seed=3).group_counts() > 0).all()


@pytest.mark.parametrize("ratio", [0.4, 1.2, "0.9", math.nan])
def test_bad_bias_ratio_is_refused(grey, ratio):
    with pytest.raises(ValueError, match="bias_ratio"):
        biased_colour_mnist(grey, ratio, seed=0)


def test_crossed_test_sets_hold_every_digit_on_each_colour(grey):
    sets = crossed_test_sets(grey)
    assert list(sets) == list(C_MNIST_BIAS_NAMES)
    for value, test_set in enumerate(sets.values()):
        assert (test_set.bias == value).all() and torch.equal(test_set.labels, grey.labels)


def test_recolouring_swaps_the_colour_and_keeps_the_digit(grey, fully_biased):
    swapped = recoloured(grey, fully_biased)
    assert torch.equal(swapped.bias, 1 - fully_biased.bias) and torch.equal(swapped.labels, fully_biased.labels)
    redrawn = crossed_test_sets(grey)
    for value, test_set in enumerate(redrawn.values()):
        chosen = swapped.bias == value
        assert torch.equal(swapped.data.images[chosen], test_set.data.images[chosen])
    with pytest.raises(ValueError, match="grey digits"):
        recoloured(grey.subset(10), fully_biased)


# --- datasets with a bias attribute -------------------------------------------------------------


def test_biased_dataset_keeps_labels_and_bias_aligned(fully_biased):
    index = torch.tensor([5, 0, 7])
    chosen = fully_biased.select(index)
    assert torch.equal(chosen.labels, fully_biased.labels[index])
    assert torch.equal(chosen.bias, fully_biased.bias[index])
    assert torch.equal(chosen.data.images, fully_biased.data.images[index])
    joined = concatenate([chosen, fully_biased.select(torch.tensor([1]))], "joined")
    assert len(joined) == 4 and torch.equal(joined.bias[:3], chosen.bias)
    seen = torch.cat([positions for *_, positions in fully_biased.batches(64, shuffle=True,
                                                                          generator=torch.Generator().manual_seed(0))])
    assert torch.equal(seen.sort().values, torch.arange(len(fully_biased)))


def test_biased_dataset_refuses_inconsistent_parts(grey):
    with pytest.raises(ValueError, match="bias must be int64"):
        BiasedDataset(grey, torch.zeros(3, dtype=torch.long), ("a", "b"))
    with pytest.raises(ValueError, match="bias values"):
        BiasedDataset(grey, torch.full((len(grey),), 2), ("a", "b"))
    with pytest.raises(ValueError, match="at least two"):
        BiasedDataset(grey, torch.zeros(len(grey), dtype=torch.long), ("a",))
    other = BiasedDataset(grey, torch.zeros(len(grey), dtype=torch.long), ("x", "y"))
    with pytest.raises(ValueError, match="same classes and bias names"):
        concatenate([biased_colour_mnist(grey, 1.0, seed=0), other], "mixed")


# --- metrics on hand-made cases ------------------------------------------------------------------


def test_group_accuracy_model_bias_and_balanced_accuracy_by_hand():
    # Class 0: red 2/2 right, brown 0/2 right (gap 1); class 1: red 1/2, brown 1/1 (gap 0.5).
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    bias = torch.tensor([0, 0, 1, 1, 0, 0, 1])
    predictions = torch.tensor([0, 0, 1, 1, 1, 0, 1])
    accuracy = group_accuracy(predictions, labels, bias, num_classes=2)
    assert torch.allclose(accuracy, torch.tensor([[1.0, 0.0], [0.5, 1.0]], dtype=torch.float64))
    assert torch.allclose(model_bias_per_class(accuracy), torch.tensor([1.0, 0.5], dtype=torch.float64))
    assert balanced_accuracy(accuracy) == pytest.approx(0.625)
    report = fairness_report(predictions, labels, bias, num_classes=2)
    assert report.bias_sum == pytest.approx(1.5) and report.bias_mean_percent == pytest.approx(75.0)
    assert report.accuracy == pytest.approx(4 / 7) and report.balanced_accuracy == pytest.approx(0.625)


def test_a_model_that_ignores_the_bias_has_no_bias():
    labels = torch.arange(3).repeat(4)
    bias = torch.tensor([0, 1]).repeat_interleave(6)
    predictions = labels.clone()
    predictions[[0, 6]] = 2  # one class-0 mistake on each colour
    report = fairness_report(predictions, labels, bias, num_classes=3)
    assert report.bias_sum == 0.0 and report.balanced_accuracy == pytest.approx(1 - 1 / 6)


def test_empty_groups_have_no_accuracy_and_the_metrics_say_so():
    labels, bias = torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1])
    accuracy = group_accuracy(labels, labels, bias, num_classes=2)
    assert math.isnan(accuracy[0, 1]) and accuracy[1, 1] == 1
    with pytest.raises(ValueError, match=r"every \(class, bias\) group"):
        model_bias_per_class(accuracy)
    with pytest.raises(ValueError, match=r"every \(class, bias\) group"):
        balanced_accuracy(accuracy)
    with pytest.raises(ValueError, match="binary"):
        model_bias_per_class(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="one length"):
        group_accuracy(labels[:2], labels, bias, num_classes=2)


def test_confusion_matrix_rows_are_true_classes():
    matrix = confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 0, 1, 2]), num_classes=3)
    assert torch.equal(matrix, torch.tensor([[1, 1, 0], [0, 1, 0], [0, 0, 1]]))
    assert matrix.sum() == 4


def test_reweighting_gives_every_group_the_same_total_weight():
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    bias = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1, 0])
    weights = reweighting_weights(labels, bias, num_classes=2)
    assert weights.mean().item() == pytest.approx(1.0)
    totals = torch.zeros(2, 2)
    totals.index_put_((labels, bias), weights, accumulate=True)
    assert torch.allclose(totals, totals[0, 0].expand(2, 2))


def test_resampling_is_undefined_on_a_fully_biased_set(fully_biased):
    for make in (lambda: reweighting_weights(fully_biased.labels, fully_biased.bias, 10),
                 lambda: undersample_index(fully_biased.labels, fully_biased.bias, 10,
                                           generator=torch.Generator().manual_seed(0))):
        with pytest.raises(ValueError, match=r"undefined.*no training sample"):
            make()


def test_undersampling_keeps_the_smallest_group_size_from_every_group(mnist_class):
    biased = biased_colour_mnist(mnist_class[0], 0.95, seed=0)
    index = undersample_index(biased.labels, biased.bias, 10, generator=torch.Generator().manual_seed(0))
    counts = biased.select(index).group_counts()
    assert (counts == biased.group_counts().min()).all()
    assert len(index.unique()) == len(index)


# --- the two-head network and gradient reversal -----------------------------------------------


def test_two_head_net_views_share_parameters():
    advlib.seed_everything(0)
    net = TwoHeadNet(small_cnn_trunk(width=4), 128, 10)
    images = torch.rand(3, 3, 28, 28)
    target, bias = net.both(images)
    assert torch.equal(net(images), target) and torch.equal(net.head("bias")(images), bias)
    assert torch.equal(net.head("target")(images), target)
    assert not list(net.head("bias").parameters()) or all(
        any(p is q for q in net.parameters()) for p in net.head("bias").parameters())
    with pytest.raises(ValueError, match="head must be one of"):
        net.head("colour")


def test_gradient_reversal_flips_and_scales_the_gradient():
    features = torch.randn(4, 5, requires_grad=True)
    reverse_gradient(features, 0.5).sum().backward()
    assert torch.equal(features.grad, torch.full((4, 5), -0.5))
    assert torch.equal(reverse_gradient(features, 2.0), features)
    with pytest.raises(ValueError, match="weight"):
        reverse_gradient(features, -1.0)


# --- flips and training -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def colour_reader(fully_biased) -> SmallCNN:
    advlib.seed_everything(0)
    model = SmallCNN(in_channels=3, num_classes=2, width=4)
    advlib.train.train(model, bias_dataset(fully_biased), TrainConfig(epochs=2, lr=3e-3, batch_size=32),
                       progress=False)
    return model.eval()


def test_flips_stay_in_the_budget_and_fool_the_bias_model(fully_biased, colour_reader):
    attack = FlipAttack(eps=0.3, steps=10, alpha=0.05)
    flipped = bias_flipped_copies(colour_reader, fully_biased, attack, generator=torch.Generator().manual_seed(0))
    assert torch.equal(flipped.labels, fully_biased.labels) and torch.equal(flipped.bias, 1 - fully_biased.bias)
    change = (flipped.data.images.float() - fully_biased.data.images.float()).abs().max() / 255
    assert change <= 0.3 + 1e-6
    assert flip_rate(colour_reader, flipped) > 0.9
    images = fully_biased.tensors()[0][:8].clone()
    before = images.clone()
    attack(colour_reader, images, fully_biased.bias[:8])
    assert torch.equal(images, before), "inputs are never modified"


def test_flip_attack_refuses_bad_settings(colour_reader):
    for bad in (dict(eps=0), dict(eps=1.5), dict(steps=0), dict(alpha=-0.1), dict(eps=math.inf)):
        with pytest.raises(ValueError):
            FlipAttack(**bad)
    with pytest.raises(ValueError, match="binary"):
        FlipAttack()(colour_reader, torch.rand(2, 3, 28, 28), torch.tensor([0, 2]))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_leaves_the_net_in_eval_mode(fully_biased, method):
    advlib.seed_everything(0)
    net = TwoHeadNet(small_cnn_trunk(width=4), 128, 10)
    before = [p.detach().clone() for p in net.parameters()]
    config = DebiasConfig(method=method, training=TrainConfig(epochs=1, batch_size=100),
                          flip=FlipAttack(eps=0.1, steps=2, alpha=0.05))
    history = train_debiased(net, fully_biased, config)
    assert len(history) == 1 and math.isfinite(history[0].loss) and not net.training
    changed = [not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True)]
    assert all(changed[:-2]), "trunk and target head learn"
    bias_head_learns = method != "plain"
    assert all(changed[-2:]) == bias_head_learns


def test_training_is_reproducible_for_a_seed(fully_biased):
    def run():
        advlib.seed_everything(0)
        net = TwoHeadNet(small_cnn_trunk(width=4), 128, 10)
        config = DebiasConfig(method="aeda_online", training=TrainConfig(epochs=1, batch_size=100, seed=3),
                              flip=FlipAttack(eps=0.1, steps=2, alpha=0.05))
        train_debiased(net, fully_biased, config)
        return torch.cat([p.flatten() for p in net.parameters()])
    assert torch.equal(run(), run())


def test_reweighting_changes_training_and_bad_weights_are_refused(grey):
    biased = biased_colour_mnist(grey, 0.9, seed=0)
    weights = reweighting_weights(biased.labels, biased.bias, 10)
    config = DebiasConfig(training=TrainConfig(epochs=1, batch_size=100))

    def run(sample_weights):
        advlib.seed_everything(0)
        net = TwoHeadNet(small_cnn_trunk(width=4), 128, 10)
        train_debiased(net, biased, config, sample_weights=sample_weights)
        return net.target_head.weight.detach().clone()

    assert torch.allclose(run(None), run(torch.ones(len(biased))), atol=1e-6), "uniform weights change nothing"
    assert not torch.allclose(run(None), run(weights))
    net = TwoHeadNet(small_cnn_trunk(width=4), 128, 10)
    with pytest.raises(ValueError, match="sample_weights"):
        train_debiased(net, biased, config, sample_weights=torch.ones(3))
    with pytest.raises(ValueError, match="go with method='plain'"):
        train_debiased(net, biased, dataclasses.replace(config, method="aeda_online"), sample_weights=weights)


def test_config_and_net_mismatches_are_refused(fully_biased):
    with pytest.raises(ValueError, match="method must be one of"):
        DebiasConfig(method="cyclegan")
    with pytest.raises(ValueError, match="must be 'natural'"):
        DebiasConfig(training=TrainConfig(method="pgd"))
    with pytest.raises(ValueError, match="reversal_weight"):
        DebiasConfig(reversal_weight=-1)
    with pytest.raises(ValueError, match="do not match"):
        train_debiased(TwoHeadNet(small_cnn_trunk(width=4), 128, 4), fully_biased, DebiasConfig())
    with pytest.raises(TypeError, match="TwoHeadNet"):
        train_debiased(SmallCNN(in_channels=3), fully_biased, DebiasConfig())


def test_group_counts_checks_its_inputs():
    with pytest.raises(ValueError, match="one length"):
        group_counts(torch.tensor([0, 1]), torch.tensor([0]), 2, 2)


def test_colour_meter_reads_red_as_zero_brown_as_one_and_halfway_between(grey):
    sets = crossed_test_sets(grey)
    red, brown = (sets[name].tensors()[0] for name in C_MNIST_BIAS_NAMES)
    assert torch.allclose(colour_position(red, grey), torch.zeros(len(grey)), atol=0.01)
    assert torch.allclose(colour_position(brown, grey), torch.ones(len(grey)), atol=0.01)
    assert torch.allclose(colour_position((red + brown) / 2, grey), torch.full((len(grey),), 0.5), atol=0.01)
    with pytest.raises(ValueError, match="RGB images"):
        colour_position(red[:, :1], grey)


# --- CelebA (full scale) on fake files in the real layout ----------------------------------------


@pytest.fixture()
def fake_celeba_root(tmp_path, monkeypatch):
    import torchvision
    from fakes import fake_celeba

    attributes = fake_celeba(tmp_path / "celeba", splits=(6, 3, 3))
    # The fake files cannot match torchvision's MD5 list; everything else is torchvision's own reading.
    monkeypatch.setattr(torchvision.datasets.CelebA, "_check_integrity", lambda self: True)
    return tmp_path, attributes


def test_celeba_gives_target_and_bias_attributes_per_split(fake_celeba_root):
    from fakes import CELEBA_ATTRIBUTES

    root, attributes = fake_celeba_root
    target, bias = CELEBA_ATTRIBUTES.index("Arched_Eyebrows"), CELEBA_ATTRIBUTES.index("Male")
    for split, rows in (("train", slice(0, 6)), ("valid", slice(6, 9)), ("test", slice(9, 12))):
        data = load_celeba_biased(split, image_size=32, root=root)
        assert data.data.images.shape == (rows.stop - rows.start, 3, 32, 32) and data.data.images.dtype == torch.uint8
        assert torch.equal(data.labels, torch.as_tensor(attributes[rows, target]))
        assert torch.equal(data.bias, torch.as_tensor(attributes[rows, bias]))
        assert data.bias_names == ("female", "male") and data.data.classes == ("not Arched_Eyebrows", "Arched_Eyebrows")
        assert (root / "celeba" / f"advlib_{split}_32.npy").is_file()
    from PIL import Image
    from torchvision.transforms import v2

    photo = Image.open(root / "celeba" / "img_align_celeba" / "000010.jpg")  # the first test image
    expected = v2.Compose([v2.PILToTensor(), v2.CenterCrop(178), v2.Resize(32, antialias=True)])(photo)
    assert torch.equal(data.data.images[0], expected), "row i of the cache is image i of the split"
    again = load_celeba_biased("train", image_size=32, root=root)  # from the decoded cache
    assert torch.equal(again.data.images, load_celeba_biased("train", image_size=32, root=root).data.images)
    batch = next(again.batches(4, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert batch[0].shape == (4, 3, 32, 32) and batch[0].max() <= 1


def test_celeba_refuses_bad_requests_and_names_missing_files(fake_celeba_root, tmp_path_factory):
    root, _ = fake_celeba_root
    with pytest.raises(ValueError, match="split must be one of"):
        load_celeba_biased("validation", root=root)
    with pytest.raises(ValueError, match="not one of CelebA's attributes"):
        load_celeba_biased("test", target="Arched_Eyebrow", image_size=16, root=root)
    with pytest.raises(ValueError, match="different attributes"):
        load_celeba_biased("test", target="Male", image_size=16, root=root)
    with pytest.raises(ValueError, match="image_size"):
        load_celeba_biased("test", image_size=512, root=root)
    (root / "celeba" / "list_attr_celeba.txt").unlink()
    with pytest.raises(DataUnavailableError, match=r"CelebA \(list_attr_celeba.txt\).*put them in"):
        load_celeba_biased("test", root=root)
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(DataUnavailableError, match="img_align_celeba/"):
        load_celeba_biased("test", root=empty)


# --- the table of methods ----------------------------------------------------------------------


def _tiny_table(train_set, test_set, **overrides):
    settings = dict(
        build_net=lambda: TwoHeadNet(small_cnn_trunk(width=4), 128, 10),
        build_bias_model=lambda: SmallCNN(in_channels=3, num_classes=2, width=4),
        training=TrainConfig(epochs=1, batch_size=100),
        flip=FlipAttack(eps=0.3, steps=1, alpha=0.3),
        seeds=(0, 1),
    )
    settings.update(overrides)
    return debiasing_table(train_set, test_set, **settings)


def test_table_runs_every_row_per_seed_and_marks_undefined_rows(grey, fully_biased, mnist_class):
    test_set = crossed_test_sets(mnist_class[1].subset(100))
    test_set = concatenate(list(test_set.values()), "crossed")
    seen = []
    table = _tiny_table(fully_biased, test_set, recoloured_set=recoloured(grey, fully_biased),
                        on_row=lambda row, result: seen.append(row))
    assert seen == list(ROWS) == list(table)
    for row in ("under-sampling", "reweighting"):
        assert "no training sample" in table[row].undefined and not table[row].reports
        assert math.isnan(table[row].summary()["balanced_accuracy_mean"])
    for row in ("original", "adversarial debiasing", "recolouring oracle", "AEDA_pre", "AEDA_online", "AEDA_robust"):
        assert len(table[row].reports) == 2 and not table[row].undefined
        summary = table[row].summary()
        values = [report.balanced_accuracy for report in table[row].reports]
        assert summary["balanced_accuracy_mean"] == pytest.approx(sum(values) / 2)
        assert summary["balanced_accuracy_std"] == pytest.approx(abs(values[0] - values[1]) / 2)
    assert len(table["AEDA_pre"].extra["flip_rate"]) == 2 and table["AEDA_pre"].bias_model is not None
    assert isinstance(table["AEDA_robust"].model, TwoHeadNet) and table["reweighting"].model is None
    first, second = (report.group_accuracy for report in table["original"].reports)
    assert not torch.equal(first, second), "each seed trains its own model"
    again = _tiny_table(fully_biased, test_set, rows=("original",), seeds=(0,))
    assert torch.equal(again["original"].reports[0].group_accuracy, first), "and the same seed the same one"


def test_table_defines_resampling_on_a_partly_biased_set_and_refuses_bad_requests(grey, mnist_class):
    partly = biased_colour_mnist(grey, 0.9, seed=0)
    test_set = concatenate(list(crossed_test_sets(mnist_class[1].subset(50)).values()), "crossed")
    table = _tiny_table(partly, test_set, rows=("under-sampling", "reweighting", "recolouring oracle"), seeds=(0,))
    assert len(table["under-sampling"].reports) == 1 and len(table["reweighting"].reports) == 1
    assert "no recolouring" in table["recolouring oracle"].undefined
    with pytest.raises(ValueError, match="unknown rows"):
        _tiny_table(partly, test_set, rows=("CycleGAN",))
    with pytest.raises(ValueError, match="at least one seed"):
        _tiny_table(partly, test_set, seeds=())


def test_fairness_on_a_dataset_matches_the_report_on_tensors(grey):
    advlib.seed_everything(0)
    net = TwoHeadNet(small_cnn_trunk(width=4), 128, 10)
    crossed = concatenate(list(crossed_test_sets(grey).values()), "crossed")
    images, labels, bias = crossed.tensors()
    with torch.no_grad():
        direct = fairness_report(net(images).argmax(1), labels, bias, 10)
    batched = fairness_on(net, crossed, batch_size=64)
    assert torch.equal(batched.group_accuracy, direct.group_accuracy) and batched.accuracy == direct.accuracy
