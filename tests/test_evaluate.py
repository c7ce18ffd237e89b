"""Evaluation: accuracies and the two ARES robustness curves."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advlib import attacks as A
from advlib.evaluate import (
    accuracy,
    accuracy_vs_budget,
    accuracy_vs_iterations,
    map_correlation,
    minimal_perturbation_from_attack,
    minimal_perturbation_search,
    noise_of_equal_norm,
    perturbation_norms,
    pgd_budget_attack,
    predict,
    robust_accuracy,
)


class Linear2(nn.Module):
    """Two-class linear model with logits (0, w.x + b): its minimal L-inf adversarial
    budget is known in closed form, |w.x + b| / ||w||_1 (when the box does not bind)."""

    def __init__(self, weight: torch.Tensor, bias: float) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(torch.tensor(bias))

    def forward(self, x):
        score = x.flatten(1) @ self.weight + self.bias
        return torch.stack([torch.zeros_like(score), score], dim=1)


def test_accuracy_and_robust_accuracy(cnn, test_batch):
    x, y = test_batch
    manual = (cnn(x).argmax(1) == y).float().mean().item()
    assert accuracy(cnn, x, y, batch_size=7) == pytest.approx(manual)
    assert torch.equal(predict(cnn, x, batch_size=5), cnn(x).argmax(1))

    def attack(m, xs, ys):
        return A.fgsm(m, xs, ys, 0.2)

    expected = accuracy(cnn, A.fgsm(cnn, x, y, 0.2), y)
    assert robust_accuracy(cnn, x, y, attack, batch_size=10) == pytest.approx(expected)


def test_accuracy_vs_budget_formula():
    eps_star = torch.tensor([0.0, 0.1, 0.2, float("inf")])
    curve = accuracy_vs_budget(eps_star, [0.0, 0.05, 0.1, 0.15, 1.0])
    torch.testing.assert_close(curve, torch.tensor([0.75, 0.75, 0.5, 0.5, 0.25]))


def test_minimal_perturbation_search_recovers_the_closed_form():
    torch.manual_seed(0)
    weight = torch.randn(64) * 0.1
    model = Linear2(weight, 0.0).eval()
    x = 0.25 + 0.5 * torch.rand(40, 1, 8, 8)  # inside the box, far from its faces
    labels = model(x).argmax(1)
    score = (x.flatten(1) @ weight).abs()
    truth = score / weight.abs().sum()

    def fgsm_budget(m, xs, ys, eps):
        return A.fgsm(m, xs, ys, eps)

    found = minimal_perturbation_search(model, x, labels, fgsm_budget, initial_eps=0.01, search_steps=8,
                                        binary_steps=12)
    reachable = truth < 0.25  # within the box and the largest budget tried (0.01 * 2^7 = 1.28)
    assert reachable.any()
    torch.testing.assert_close(found[reachable], truth[reachable], atol=1e-3, rtol=0.01)


def test_minimal_perturbation_search_marks_errors_and_failures(cnn, test_batch):
    x, y = test_batch
    with torch.no_grad():
        right = cnn(x).argmax(1) == y
    x, y = x[right], y[right]  # digits the network reads right, whatever weights this processor trained
    wrong = y.clone()
    wrong[0] = (y[0] + 1) % 10  # now "misclassified": eps* = 0
    found = minimal_perturbation_search(cnn, x[:6], wrong[:6], pgd_budget_attack(steps=5), initial_eps=1e-4,
                                        search_steps=2, binary_steps=2)
    assert found[0] == 0
    assert torch.isinf(found[1:]).all()  # 2e-4 fools nothing


def test_minimal_perturbation_curve_is_consistent_with_pgd_at_that_budget(cnn, test_batch):
    x, y = test_batch
    found = minimal_perturbation_search(cnn, x, y, pgd_budget_attack(steps=10, random_start=False),
                                        initial_eps=0.02, search_steps=5, binary_steps=6)
    assert (found > 0).float().mean() == pytest.approx(accuracy(cnn, x, y))
    curve = accuracy_vs_budget(found, [0.0, 0.1, 0.2, 0.3])
    assert (curve[1:] <= curve[:-1]).all() and curve[-1] < 0.1


def test_accuracy_vs_iterations_matches_the_attack(cnn, test_batch):
    x, y = test_batch
    curve = accuracy_vs_iterations(cnn, x, y, eps=0.2, alpha=0.02, steps=8, batch_size=10)
    assert curve.shape == (9,)
    assert curve[0] == pytest.approx(accuracy(cnn, x, y))
    final = accuracy(cnn, A.bim(cnn, x, y, 0.2, alpha=0.02, steps=8), y)
    assert curve[-1] == pytest.approx(final)
    assert curve[-1] < curve[0]


def test_perturbation_norms():
    a = torch.zeros(2, 1, 2, 2)
    b = a.clone()
    b[0, 0, 0, 0], b[1, 0, 1, 1], b[1, 0, 0, 0] = 0.3, 0.3, -0.4
    torch.testing.assert_close(perturbation_norms(b, a, "linf"), torch.tensor([0.3, 0.4]))
    torch.testing.assert_close(perturbation_norms(b, a, "l2"), torch.tensor([0.3, 0.5]))


def test_minimal_perturbation_from_a_minimal_attack(cnn, test_batch):
    x, y = test_batch
    labels = y.clone()
    labels[0] = (y[0] + 1) % 10
    found = minimal_perturbation_from_attack(cnn, x[:8], labels[:8], lambda m, xs, ys: A.deepfool(m, xs, ys),
                                             norm="l2", batch_size=3)
    assert found[0] == 0
    adversarial = A.deepfool(cnn, x[1:8], labels[1:8])
    expected = perturbation_norms(adversarial, x[1:8], "l2")
    torch.testing.assert_close(found[1:], expected, atol=1e-5, rtol=1e-5)
    never = minimal_perturbation_from_attack(cnn, x[1:4], y[1:4], lambda m, xs, ys: xs.clone())
    assert torch.isinf(never).all()


def test_map_correlation_is_one_for_the_same_pattern_and_near_zero_for_unrelated_ones():
    maps = torch.rand(4, 6, 6, generator=torch.Generator().manual_seed(0))
    assert map_correlation(maps, 3 * maps + 1) == pytest.approx(1.0)
    assert map_correlation(maps, -maps) == pytest.approx(-1.0)
    unrelated = torch.rand(200, 32, 32, generator=torch.Generator().manual_seed(1))
    assert abs(map_correlation(unrelated[:100], unrelated[100:])) < 0.02
    with pytest.raises(ValueError, match="one shape"):
        map_correlation(maps, maps[:2])


def test_noise_of_equal_norm_matches_the_perturbation_norm_and_its_seed():
    images = torch.full((3, 1, 8, 8), 0.5)
    adversarial = images + 0.1 * torch.sign(torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(2)))
    noisy = noise_of_equal_norm(images, adversarial, torch.Generator().manual_seed(0))
    torch.testing.assert_close((noisy - images).flatten(1).norm(dim=1), torch.full((3,), 0.8))  # 0.1 * sqrt(64)
    agreement = (torch.sign(noisy - images) == torch.sign(adversarial - images)).float().mean()
    assert 0.3 < agreement < 0.7, "a random direction: about half the signs agree with the perturbation's"
    assert torch.equal(noisy, noise_of_equal_norm(images, adversarial, torch.Generator().manual_seed(0)))
    clipped = noise_of_equal_norm(torch.full((2, 1, 4, 4), 0.9), torch.full((2, 1, 4, 4), 0.1))
    assert clipped.min() >= 0 and clipped.max() <= 1, "clipped to [0, 1]"
    with pytest.raises(ValueError, match="shape"):
        noise_of_equal_norm(images, adversarial[:2])
