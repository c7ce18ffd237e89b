"""Properties every attack must have, whatever its algorithm."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from advlib import attacks as A
from advlib.evaluate import accuracy
from advlib.robustness import RandomShift, quantise

EPS_LINF, EPS_L2 = 0.3, 2.0


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# name -> (attack(model, x, y, eps, **kw), norm, deterministic)
BUDGETED = {
    "fgsm": (lambda m, x, y, e, **k: A.fgsm(m, x, y, e, **k), "linf", True),
    "fgm_l2": (lambda m, x, y, e, **k: A.fgsm(m, x, y, e, norm="l2", **k), "l2", True),
    "bim": (lambda m, x, y, e, **k: A.bim(m, x, y, e, steps=10, **k), "linf", True),
    "pgd": (lambda m, x, y, e, **k: A.pgd(m, x, y, e, steps=10, generator=_gen(), **k), "linf", False),
    "pgd_l2": (lambda m, x, y, e, **k: A.pgd(m, x, y, e, steps=10, norm="l2", generator=_gen(), **k), "l2", False),
    "mifgsm": (lambda m, x, y, e, **k: A.mifgsm(m, x, y, e, steps=10, **k), "linf", True),
    "difgsm": (lambda m, x, y, e, **k: A.difgsm(m, x, y, e, steps=10, decay=1.0, generator=_gen(), **k),
               "linf", False),
    "bim_margin": (lambda m, x, y, e, **k: A.bim(m, x, y, e, steps=10, loss="margin", **k), "linf", True),
}
UNBUDGETED = {
    "cw_l2": lambda m, x, y: A.cw_l2(m, x, y, c=10.0, steps=60, lr=0.05),
    "deepfool": lambda m, x, y: A.deepfool(m, x, y, steps=30),
}


def _budget(norm: str) -> float:
    return EPS_LINF if norm == "linf" else EPS_L2


def _norms(delta: torch.Tensor, norm: str) -> torch.Tensor:
    flat = delta.flatten(1)
    return flat.abs().amax(1) if norm == "linf" else flat.norm(dim=1)


@pytest.mark.parametrize("name", BUDGETED)
def test_zero_budget_returns_the_input(cnn, test_batch, name):
    attack, _, _ = BUDGETED[name]
    x, y = test_batch
    assert torch.equal(attack(cnn, x, y, 0.0), x)


@pytest.mark.parametrize("name", BUDGETED)
def test_output_inside_ball_and_box(cnn, test_batch, name):
    attack, norm, _ = BUDGETED[name]
    x, y = test_batch
    adv = attack(cnn, x, y, _budget(norm))
    assert adv.shape == x.shape and adv.dtype == x.dtype
    assert adv.min() >= 0 and adv.max() <= 1
    assert (_norms(adv - x, norm) <= _budget(norm) * (1 + 1e-5) + 1e-6).all()


@pytest.mark.parametrize("name", [*BUDGETED, *UNBUDGETED])
def test_inputs_not_mutated_mode_restored_no_parameter_gradients(cnn, test_batch, name):
    x, y = test_batch
    x_before, y_before = x.clone(), y.clone()
    cnn.train()
    flags = [p.requires_grad for p in cnn.parameters()]
    if name in BUDGETED:
        attack, norm, _ = BUDGETED[name]
        attack(cnn, x, y, _budget(norm))
    else:
        UNBUDGETED[name](cnn, x, y)
    assert torch.equal(x, x_before) and torch.equal(y, y_before)
    assert all(module.training for module in cnn.modules())
    assert [p.requires_grad for p in cnn.parameters()] == flags
    assert all(p.grad is None for p in cnn.parameters())
    cnn.eval()
    UNBUDGETED["deepfool"](cnn, x, y)
    assert not any(module.training for module in cnn.modules())


@pytest.mark.parametrize("name", [n for n, spec in BUDGETED.items() if spec[2]] + list(UNBUDGETED))
def test_batch_size_independence(cnn, test_batch, name):
    x, y = test_batch
    x, y = x[:12], y[:12]

    def run(xs, ys):
        if name in BUDGETED:
            attack, norm, _ = BUDGETED[name]
            return attack(cnn, xs, ys, _budget(norm))
        return UNBUDGETED[name](cnn, xs, ys)

    whole = run(x, y)
    pieces = torch.cat([run(x[i : i + 5], y[i : i + 5]) for i in range(0, 12, 5)])
    torch.testing.assert_close(whole, pieces, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["pgd", "pgd_l2", "difgsm"])
def test_random_attacks_are_reproducible_with_a_generator(cnn, test_batch, name):
    attack, norm, _ = BUDGETED[name]
    x, y = test_batch
    assert torch.equal(attack(cnn, x, y, _budget(norm)), attack(cnn, x, y, _budget(norm)))


def test_untargeted_attacks_fool_the_model(cnn, test_batch):
    x, y = test_batch
    assert accuracy(cnn, x, y) > 0.9
    assert accuracy(cnn, A.pgd(cnn, x, y, EPS_LINF, steps=20, generator=_gen()), y) < 0.05
    assert accuracy(cnn, A.fgsm(cnn, x, y, 0.05), y) < accuracy(cnn, x, y)
    for name, attack in UNBUDGETED.items():
        assert accuracy(cnn, attack(cnn, x, y), y) < 0.1, name


@pytest.mark.parametrize("name", ["fgsm", "bim", "pgd", "mifgsm", "pgd_l2", "bim_margin"])
def test_targeted_attacks_move_toward_the_target(cnn, test_batch, name):
    attack, norm, _ = BUDGETED[name]
    x, y = test_batch
    target = (y + 1) % 10
    # Reaching a chosen class takes more L2 budget than leaving the true one: at 2.0 the
    # target probability rises for every digit but only about a third reach the target.
    budget = EPS_LINF if norm == "linf" else 3.0
    adv = attack(cnn, x, target, budget, targeted=True)
    with torch.no_grad():
        before = cnn(x).softmax(1).gather(1, target[:, None])
        after = cnn(adv).softmax(1).gather(1, target[:, None])
    assert (after >= before).float().mean() >= 0.95
    if name != "fgsm":  # one step is not enough to hit a chosen class reliably
        assert (cnn(adv).argmax(1) == target).float().mean() >= 0.8


def test_targeted_cw_hits_the_target(cnn, test_batch):
    x, y = test_batch
    target = (y + 3) % 10
    adv = A.cw_l2(cnn, x[:16], target[:16], c=10.0, steps=100, lr=0.05, targeted=True)
    assert (cnn(adv).argmax(1) == target[:16]).float().mean() >= 0.8


def test_cw_finds_smaller_perturbations_than_a_fixed_budget_attack(cnn, test_batch):
    x, y = test_batch
    adv = A.cw_l2(cnn, x, y, c=10.0, steps=100, lr=0.05, binary_search_steps=3)
    fooled = cnn(adv).argmax(1) != y
    assert fooled.float().mean() > 0.9
    pgd_adv = A.pgd(cnn, x, y, 3.0, steps=20, norm="l2", generator=_gen())
    cw_norms = (adv - x).flatten(1).norm(dim=1)[fooled]
    pgd_norms = (pgd_adv - x).flatten(1).norm(dim=1)
    assert cw_norms.median() < 0.8 * pgd_norms.median()


def test_cw_returns_input_when_it_cannot_succeed(cnn, test_batch):
    x, y = test_batch
    adv = A.cw_l2(cnn, x[:4], y[:4], c=1e-6, steps=5, lr=1e-4)
    assert torch.equal(adv, x[:4])


def test_per_sample_budgets(cnn, test_batch):
    x, y = test_batch
    eps = torch.zeros(x.shape[0])
    eps[::2] = 0.3
    adv = A.bim(cnn, x, y, eps, steps=10)
    assert torch.equal(adv[1::2], x[1::2])
    assert (adv[::2] - x[::2]).abs().amax() > 0.29


def test_restarts_keep_every_success_of_the_first_start(cnn, test_batch):
    x, y = test_batch
    one = A.pgd(cnn, x, y, 0.1, steps=5, generator=_gen(3))
    three = A.pgd(cnn, x, y, 0.1, steps=5, restarts=3, generator=_gen(3))
    assert ((cnn(three).argmax(1) != y) | (cnn(one).argmax(1) == y)).all()
    assert (three - x).abs().amax() <= 0.1 + 1e-6


def test_callback_sees_every_step(cnn, test_batch):
    x, y = test_batch
    seen = []
    A.pgd(cnn, x, y, 0.1, steps=7, restarts=2, generator=_gen(), callback=lambda s, adv: seen.append(s))
    assert seen == [1, 2, 3, 4, 5, 6, 7] * 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"eps": -0.1}, ValueError),
        ({"eps": float("nan")}, ValueError),
        ({"eps": "big"}, TypeError),
        ({"steps": 0}, ValueError),
        ({"steps": 2.5}, ValueError),
        ({"norm": "l1"}, ValueError),
        ({"loss": "hinge"}, ValueError),
        ({"alpha": -1.0}, ValueError),
        ({"restarts": 0}, ValueError),
        ({"decay": -1.0}, ValueError),
        ({"diversity_prob": 1.5}, ValueError),
        ({"resize_rate": 0.0}, ValueError),
    ],
)
def test_bad_arguments_raise_clear_errors(cnn, test_batch, kwargs, error):
    x, y = test_batch
    arguments = {"eps": 0.1, "alpha": 0.01, "steps": 3, **kwargs}
    with pytest.raises(error, match=next(iter(kwargs))):
        A.iterative_attack(cnn, x, y, **arguments)


def test_bad_inputs_raise_clear_errors(cnn, test_batch):
    x, y = test_batch
    with pytest.raises(ValueError, match="shape"):
        A.pgd(cnn, x, y[:-1], 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        A.pgd(cnn, x * 2 - 1, y, 0.1)
    with pytest.raises(TypeError, match="integer"):
        A.fgsm(cnn, x, y.float(), 0.1)
    with pytest.raises(TypeError, match="floating"):
        A.fgsm(cnn, (x * 255).to(torch.uint8), y, 0.1)
    with pytest.raises(ValueError, match="steps"):
        A.deepfool(cnn, x, y, steps=0)
    with pytest.raises(ValueError, match="c must"):
        A.cw_l2(cnn, x, y, c=-1.0)
    with pytest.raises(ValueError, match="eps"):
        A.pgd(cnn, x, y, torch.full((3,), 0.1))


def test_eot_with_identity_transform_is_the_model(cnn, test_batch):
    x, _ = test_batch
    wrapped = A.EOT(cnn, lambda images: images, samples=3)
    torch.testing.assert_close(wrapped(x), cnn(x).log_softmax(1), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="samples"):
        A.EOT(cnn, lambda images: images, samples=0)


def test_eot_attack_beats_plain_attack_on_a_randomised_defence(cnn, mnist_class):
    """A randomised defence (each image shifted by a random offset): the plain attack
    follows the gradient of one random draw per step; the EOT attack the gradient of the
    expectation, and it fools the defended (expected) classifier more often. A claim about
    digits, not about one draw: on 200 test digits, the digits that only EOT fools outnumber
    those that only the plain attack fools, by a one-sided sign test at the 1% level."""
    x, y = mnist_class[1].tensors()
    x, y = x[:200], y[:200]
    random_shift = RandomShift(max_shift=3, generator=torch.Generator().manual_seed(1))

    class RandomShiftDefence(nn.Module):
        def forward(self, images):
            return cnn(random_shift(images))

    plain = A.bim(RandomShiftDefence(), x, y, 0.15, steps=10)
    eot = A.bim(A.EOT(cnn, random_shift, samples=8), x, y, 0.15, steps=10)
    defended = A.EOT(cnn, random_shift, samples=32)
    with torch.no_grad():
        survives_plain = defended(plain).argmax(1) == y
        survives_eot = defended(eot).argmax(1) == y
    only_eot = int((survives_plain & ~survives_eot).sum())
    only_plain = int((~survives_plain & survives_eot).sum())
    assert _sign_test_p(only_eot, only_plain) < 0.01, (only_eot, only_plain)


def _sign_test_p(wins: int, losses: int) -> float:
    """One-sided exact sign test: P(at least ``wins`` of the discordant pairs) under 50/50."""
    pairs = wins + losses
    return sum(math.comb(pairs, k) for k in range(wins, pairs + 1)) / 2**pairs


def test_bpda_forward_is_exact_and_backward_is_the_approximation():
    quantise = A.BPDA(lambda images: torch.round(images * 4) / 4)
    x = torch.rand(2, 1, 4, 4, requires_grad=True)
    out = quantise(x)
    torch.testing.assert_close(out, torch.round(x.detach() * 4) / 4)
    (grad,) = torch.autograd.grad(out.sum(), x)
    assert torch.equal(grad, torch.ones_like(x))


def test_bpda_breaks_a_gradient_masking_defence(cnn, test_batch):
    """Bit-depth reduction has zero gradient almost everywhere: PGD through it cannot move,
    so the defence looks robust; with BPDA the same PGD succeeds."""
    x, y = test_batch
    masked = A.Preprocessed(cnn, quantise)
    with_bpda = nn.Sequential(A.BPDA(quantise), cnn)
    naive = A.bim(masked, x, y, 0.3, steps=10)
    bpda = A.bim(with_bpda, x, y, 0.3, steps=10)
    assert accuracy(masked, naive, y) > 0.8
    assert accuracy(masked, bpda, y) < 0.2


def test_attacks_run_on_the_model_device_and_dtype(cnn64, test_batch):
    x, y = test_batch
    adv = A.pgd(cnn64, x.double(), y, 0.1, steps=2, generator=_gen())
    assert adv.dtype == torch.float64
