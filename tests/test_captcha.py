"""CAPTCHA generation, transforms, solver layout and the robust-CAPTCHA attack (chapter 6)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

import advlib
from advlib.attacks import BPDA, EOT, Ensemble, Preprocessed, iterative_attack
from advlib.captcha import (
    DIFFICULTIES,
    CaptchaAttackConfig,
    CaptchaSolver,
    CaptchaSpec,
    RandomCaptchaTransform,
    binarize,
    craft_captchas,
    gaussian_blur,
    jpeg,
    make_captchas,
    median_filter,
    random_affine,
    render_captcha,
    string_accuracy,
    strings_read,
    to_8bit_within,
)
from advlib.train import TrainConfig, train

# --- generation -----------------------------------------------------------------------------


def test_render_is_a_pure_function_of_text_and_seed():
    a = render_captcha("0123", seed=7)
    b = render_captcha("0123", seed=7)
    c = render_captcha("0123", seed=8)
    assert a.size == (160, 60)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_render_leaves_the_package_cryptographic_by_default():
    import secrets

    from captcha import image as captcha_image

    render_captcha("0000", seed=1)
    assert captcha_image.secrets is secrets


def test_make_captchas_shapes_prefix_and_workers():
    small = make_captchas(6, seed=3)
    assert small.images.shape == (6, 3, 60, 160) and small.images.dtype == torch.uint8
    assert small.labels.shape == (6, 4) and small.labels.max() < 10
    larger = make_captchas(9, seed=3, workers=2)
    assert torch.equal(larger.images[:6], small.images)
    assert torch.equal(larger.labels[:6], small.labels)
    assert not torch.equal(make_captchas(6, seed=4).images, small.images)
    texts = CaptchaSpec().decode(small.labels)
    assert all(len(text) == 4 and text.isdigit() for text in texts)


def test_spec_rejects_bad_input():
    spec = CaptchaSpec()
    with pytest.raises(ValueError, match="4 characters"):
        spec.encode("123")
    with pytest.raises(ValueError, match="not in the charset"):
        spec.encode("12a4")
    with pytest.raises(ValueError, match="distinct"):
        CaptchaSpec(charset="11")
    with pytest.raises(ValueError, match="count"):
        make_captchas(0, seed=1)
    with pytest.raises(ValueError, match="seed"):
        render_captcha("1234", seed=-1)


# --- transforms -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def captchas():
    return make_captchas(8, seed=11)


def test_identity_settings_leave_images_unchanged(captchas):
    x = captchas.tensors()[0]
    same = random_affine(x, rotation_deg=0, scale=(1.0, 1.0), shift_px=0)
    assert torch.allclose(same, x, atol=1e-5)
    assert torch.allclose(gaussian_blur(x, torch.zeros(len(x))), x, atol=1e-6)
    assert torch.equal(median_filter(x, 1), x)


def test_blur_keeps_mean_and_smooths():
    x = torch.zeros(2, 1, 21, 21)
    x[:, :, 10, 10] = 1
    blurred = gaussian_blur(x, torch.tensor([1.0, 2.0]))
    assert torch.allclose(blurred.sum(dim=(1, 2, 3)), torch.ones(2), atol=1e-4)
    assert blurred[0].max() > blurred[1].max()  # the wider kernel spreads more


def test_median_network_equals_sorting():
    x = torch.rand(4, 3, 17, 23)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    by_sorting = F.unfold(padded.reshape(12, 1, 19, 25), 3).median(dim=1).values.view(4, 3, 17, 23)
    assert torch.equal(median_filter(x), by_sorting)
    assert median_filter(x, 5).shape == x.shape
    with pytest.raises(ValueError, match="odd"):
        median_filter(x, 2)


def test_median_filter_removes_isolated_dots_and_binarize_is_binary(captchas):
    x = torch.full((1, 3, 9, 9), 0.9)
    x[:, :, 4, 4] = 0.0
    assert torch.allclose(median_filter(x), torch.full_like(x, 0.9))
    b = binarize(captchas.tensors()[0], 0.8)
    assert set(b.unique().tolist()) <= {0.0, 1.0}


def test_jpeg_is_exact_forward_and_identity_backward(captchas):
    x = captchas.tensors()[0].requires_grad_(True)
    y = jpeg(x, 75)
    assert (y - x).abs().max() > 0  # real compression happened
    assert torch.allclose(y * 255, (y * 255).round(), atol=1e-4)  # 8-bit values
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.equal(grad, torch.ones_like(x))


def test_jpeg_keeps_grey_images_grey():
    grey = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    compressed = jpeg(grey, 20)
    assert compressed.shape == grey.shape
    assert 0 < (compressed - grey).abs().mean() < 0.2  # compressed, yet close to the input


@pytest.mark.parametrize("level", sorted(DIFFICULTIES))
def test_random_transform_is_seeded_in_range_and_differentiable(captchas, level):
    x = captchas.tensors()[0]
    first = RandomCaptchaTransform(level, torch.Generator().manual_seed(0))(x)
    second = RandomCaptchaTransform(level, torch.Generator().manual_seed(0))(x)
    other = RandomCaptchaTransform(level, torch.Generator().manual_seed(1))(x)
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert first.shape == x.shape and first.min() >= 0 and first.max() <= 1
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(RandomCaptchaTransform(level)(x).sum(), x)
    assert grad.abs().sum() > 0


def test_harder_levels_move_images_further(captchas):
    x = captchas.tensors()[0]
    change = {
        level: (RandomCaptchaTransform(level, torch.Generator().manual_seed(0))(x) - x).abs().mean().item()
        for level in ("easy", "medium", "hard")
    }
    assert change["easy"] < change["medium"] < change["hard"]


def test_unknown_level_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown difficulty"):
        RandomCaptchaTransform("extreme")


# --- sequence outputs through the generic library ------------------------------------------


def test_multi_position_objective_is_the_sum_over_positions():
    from advlib.attacks import cross_entropy_objective, is_adversarial, margin_objective

    torch.manual_seed(0)
    logits, labels = torch.randn(5, 10, 4), torch.randint(0, 10, (5, 4))
    per_position = torch.stack([F.cross_entropy(logits[..., k], labels[:, k], reduction="none") for k in range(4)], 1)
    assert torch.allclose(cross_entropy_objective(logits, labels, False), per_position.sum(1))
    margins = torch.stack([margin_objective(logits[..., k], labels[:, k], False) for k in range(4)], 1)
    assert torch.allclose(margin_objective(logits, labels, False), margins.sum(1))
    right = logits.argmax(1)
    wrong_one = right.clone()
    wrong_one[:, 2] = (wrong_one[:, 2] + 1) % 10
    assert not is_adversarial(logits, right, False).any()
    assert is_adversarial(logits, wrong_one, False).all()  # one wrong character breaks the string
    assert is_adversarial(logits, right, True).all() and not is_adversarial(logits, wrong_one, True).any()


def test_eot_and_ensemble_average_per_position():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 30), torch.nn.Unflatten(1, (10, 3)))
    x = torch.rand(4, 3, 2, 2)
    single = torch.log_softmax(net(x), dim=1)
    assert torch.allclose(EOT(net, lambda t: t, samples=3)(x), single, atol=1e-5)
    assert torch.allclose(Ensemble([net, net])(x), single, atol=1e-5)
    assert torch.allclose(Ensemble([net])(x).exp().sum(1), torch.ones(4, 3), atol=1e-5)


def test_iterative_attack_takes_sequence_labels_and_custom_losses():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 30), torch.nn.Unflatten(1, (10, 3)))
    x, y = torch.rand(4, 3, 2, 2), torch.randint(0, 10, (4, 3))
    adv = iterative_attack(net, x, y, eps=0.1, alpha=0.02, steps=5)
    assert (adv - x).abs().max() <= 0.1 + 1e-6
    calls = []

    def objective(out, labels, targeted):
        calls.append(out.shape)
        return out[:, 0, 0]

    iterative_attack(net, x, y, eps=0.1, alpha=0.02, steps=2, loss=objective)
    assert calls == [(4, 10, 3), (4, 10, 3)]
    with pytest.raises(ValueError, match="restarts"):
        iterative_attack(net, x, y, eps=0.1, alpha=0.02, steps=2, loss=objective, restarts=2, random_start=True)
    with pytest.raises(ValueError, match=r"\(4,\) or \(4, L\)"):
        iterative_attack(net, x, y[:2], eps=0.1, alpha=0.02, steps=2)


def test_to_8bit_within_stays_on_grid_and_in_budget():
    x = torch.randint(0, 256, (3, 3, 5, 5)).float() / 255
    adv = (x + 0.05 * torch.randn_like(x)).clamp(0, 1)
    q = to_8bit_within(adv, x, 8 / 255)
    assert torch.allclose(q * 255, (q * 255).round(), atol=1e-4)
    assert (q - x).abs().max() <= 8 / 255 + 1e-6


# --- a tiny trained solver: the attack and its modules ---------------------------------------


@pytest.fixture(scope="module")
def tiny_solver():
    """A width-8 solver trained briefly on 2-digit CAPTCHAs (seconds, not minutes)."""
    spec = CaptchaSpec(length=2)
    data = make_captchas(1200, seed=1, spec=spec, split="train")
    advlib.seed_everything(0)
    solver = CaptchaSolver(num_classes=10, length=2, width=8, dropout=0.0)
    history = train(solver, data, TrainConfig(epochs=6, lr=3e-3, batch_size=64, schedule="warmup"), progress=False)
    return solver.eval(), history, spec


def test_solver_layout_and_training_learns(tiny_solver):
    solver, history, spec = tiny_solver
    assert history[-1].train_accuracy > history[0].train_accuracy + 0.2  # per-character accuracy
    test = make_captchas(200, seed=2, spec=spec)
    images, labels = test.tensors()
    assert solver(images[:3]).shape == (3, 10, 2)
    assert string_accuracy(solver, images, labels) > 0.3  # far above chance (1 %)
    read = strings_read(solver, images, labels, batch_size=64)  # several batches, per CAPTCHA
    assert read.shape == (200,) and read.dtype == torch.bool
    assert read.float().mean().item() == pytest.approx(string_accuracy(solver, images, labels))
    one_wrong = labels.clone()
    one_wrong[:, 1] = (one_wrong[:, 1] + 1) % 10  # one wrong position: a string read right fails it
    assert read.any() and not (strings_read(solver, images, one_wrong) & read).any()
    with pytest.raises(ValueError, match="labels must have shape"):
        strings_read(solver, images, labels[:10])


def test_craft_captchas_fools_the_solver_within_budget(tiny_solver):
    solver, _, spec = tiny_solver
    images, labels = make_captchas(40, seed=5, spec=spec).tensors()
    config = CaptchaAttackConfig(eps=8 / 255, steps=10, eot=False)
    adv = craft_captchas([solver], images, labels, config)
    assert (adv - images).abs().max() <= 8 / 255 + 1e-6
    assert torch.allclose(adv * 255, (adv * 255).round(), atol=1e-4)
    before = string_accuracy(solver, images, labels)
    assert string_accuracy(solver, adv, labels) < before / 3
    assert torch.equal(images, make_captchas(40, seed=5, spec=spec).tensors()[0])  # input untouched


def test_bpda_lets_the_attack_through_binarisation(tiny_solver):
    solver, _, spec = tiny_solver
    images, labels = make_captchas(40, seed=6, spec=spec).tensors()
    cracker = Preprocessed(solver, lambda x: binarize(x, 0.8))
    config = CaptchaAttackConfig(eps=16 / 255, steps=10, eot=False)
    x = images.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(cracker(x), labels), x)
    assert grad.abs().sum() == 0  # binarisation blocks the true gradient ...
    without = craft_captchas([cracker], images, labels, config, bpda=False)
    assert torch.equal(without, images)  # ... so a plain attack does not move at all
    with_bpda = craft_captchas([cracker], images, labels, config, bpda=True)
    assert string_accuracy(cracker, with_bpda, labels) < string_accuracy(cracker, images, labels)


def test_eot_attack_is_seeded(tiny_solver):
    solver, _, spec = tiny_solver
    images, labels = make_captchas(10, seed=7, spec=spec).tensors()
    config = CaptchaAttackConfig(eps=8 / 255, steps=3, eot_samples=2)
    first = craft_captchas([copy.deepcopy(solver)], images, labels, config)
    second = craft_captchas([solver], images, labels, config)
    assert torch.equal(first, second)


def test_attack_config_rejects_bad_values():
    with pytest.raises(ValueError, match="eps"):
        CaptchaAttackConfig(eps=0)
    with pytest.raises(ValueError, match="eot_level"):
        CaptchaAttackConfig(eot_level="extreme")
    with pytest.raises(ValueError, match="at least one"):
        craft_captchas([], torch.rand(1, 3, 60, 160), torch.zeros(1, 4, dtype=torch.long))


def test_bpda_wrapper_is_used_for_preprocessed_crackers(tiny_solver):
    from advlib.captcha import bpda_view

    solver = tiny_solver[0]
    viewed = bpda_view(Preprocessed(solver, median_filter))
    assert isinstance(viewed.preprocess, BPDA) and viewed.model is solver
    assert bpda_view(solver) is solver


# --- the "you are the human" quiz --------------------------------------------------------------


def test_quiz_uses_different_captchas_per_kind_and_scores():
    from advlib.captcha.quiz import make_quiz, score_answers

    raw = torch.rand(10, 3, 60, 160)
    texts = [f"{i:04d}" for i in range(10)]
    items = make_quiz(raw, raw.clone(), texts, count=3, seed=1)
    assert len(items) == 6 and sorted(item.kind for item in items) == ["adversarial"] * 3 + ["raw"] * 3
    assert len({item.text for item in items}) == 6
    answers = [item.text if item.kind == "raw" else "0000x" for item in items]
    assert score_answers(items, answers) == {"adversarial": 0.0, "raw": 1.0}
    with pytest.raises(ValueError, match="one answer per item"):
        score_answers(items, answers[:2])
    with pytest.raises(ValueError, match="count"):
        make_quiz(raw, raw, texts, count=6)


def test_quiz_widget_checks_typed_answers():
    pytest.importorskip("ipywidgets")
    from advlib.captcha.quiz import make_quiz, quiz_widget

    raw = torch.rand(4, 3, 60, 160)
    items = make_quiz(raw, raw, ["1111", "2222", "3333", "4444"], count=1, seed=0)
    quiz = quiz_widget(items, reference={"raw": 0.99, "adversarial": 0.94})
    for box, item in zip(quiz.boxes, items, strict=True):
        box.value = f" {item.text} "
    assert quiz.check() == {"adversarial": 1.0, "raw": 1.0}
    assert "the talk's humans, S0: 99%" in quiz.result.value


def test_input_saliency_is_normalised_and_follows_the_gradient(tiny_solver):
    from advlib.evaluate import input_saliency

    solver, _, spec = tiny_solver
    images, labels = make_captchas(3, seed=8, spec=spec).tensors()
    maps = input_saliency(solver, images, labels)
    assert maps.shape == (3, 60, 160)
    assert torch.allclose(maps.flatten(1).amax(1), torch.ones(3))
    assert (maps >= 0).all()
