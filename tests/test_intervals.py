"""Bootstrap intervals: coverage on known distributions, pairing, the crossed seeds-and-items
scheme against scipy's items-only bootstrap, determinism by seed, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from advlib.intervals import (
    Interval,
    mean_interval,
    paired_difference,
    paired_function_of_means,
    reading_against,
    reading_against_zero,
    unpaired_difference,
)


def _coverage(draw, truth: float, interval, repetitions: int = 200) -> float:
    rng = np.random.default_rng(1)
    hits = 0
    for repetition in range(repetitions):
        found = interval(*draw(rng), resamples=2000, seed=repetition)
        hits += found.low <= truth <= found.high
    return hits / repetitions


def test_a_rate_over_items_covers_the_true_rate_about_95_times_in_100():
    """200 samples of 200 Bernoulli(0.3) items: the BCa interval holds 0.3 in 0.96 of them
    (0.93-0.99 is within two binomial standard errors of 0.95 for 200 repetitions)."""
    coverage = _coverage(lambda rng: [(rng.random(200) < 0.3).astype(float)], 0.3, mean_interval)
    assert 0.92 <= coverage <= 0.99


def test_an_unpaired_difference_covers_the_true_difference():
    coverage = _coverage(lambda rng: [(rng.random(150) < 0.4).astype(float), (rng.random(150) < 0.5).astype(float)],
                         -0.1, unpaired_difference)
    assert 0.89 <= coverage <= 0.99


def test_seeds_and_items_cover_the_mean_over_seeds_despite_a_seed_effect():
    """Five seeds whose rates differ (a seed effect of sd 0.05 around 0.3), 100 items each."""

    def draw(rng):
        rates = 0.3 + rng.normal(0, 0.05, size=(5, 1))
        return [(rng.random((5, 100)) < rates).astype(float)]

    assert 0.92 <= _coverage(draw, 0.3, mean_interval) <= 1.0


def test_ignoring_the_seed_effect_would_not_cover():
    """The same draws pooled as 500 items of one seed: the interval is too narrow for the
    seed-to-seed spread, so its coverage falls well below 95 % (why seeds are a level)."""

    def draw(rng):
        rates = 0.3 + rng.normal(0, 0.05, size=(5, 1))
        return [(rng.random((5, 100)) < rates).astype(float).reshape(-1)]

    assert _coverage(draw, 0.3, mean_interval) < 0.85


def test_pairing_narrows_the_interval_of_correlated_methods():
    """Two methods that mostly agree item by item (as two attacks on the same photos): the
    paired interval of their difference is much narrower than the unpaired one, and both hold
    the estimate."""
    rng = np.random.default_rng(0)
    first = (rng.random(300) < 0.6).astype(float)
    second = first.copy()
    flips = rng.choice(300, size=30, replace=False)
    second[flips] = 1 - second[flips]
    paired = paired_difference(first, second)
    unpaired = unpaired_difference(first, second)
    assert paired.estimate == pytest.approx(unpaired.estimate) == pytest.approx(first.mean() - second.mean())
    assert (paired.high - paired.low) < 0.5 * (unpaired.high - unpaired.low)
    assert paired == mean_interval(first - second), "a paired difference is the interval of the differences"


def test_one_seed_of_the_crossed_scheme_is_scipys_percentile_bootstrap():
    """The hand-written crossed resampler with one seed draws items only: its percentile
    limits agree with scipy's percentile bootstrap within Monte Carlo error."""
    from advlib.intervals import _crossed

    values = (np.random.default_rng(3).random(400) < 0.7).astype(float)
    ours = _crossed(values[None, :], 0.95, 20000, seed=0)
    theirs = stats.bootstrap((values,), np.mean, method="percentile", n_resamples=20000,
                             rng=np.random.default_rng(1)).confidence_interval
    assert ours.low == pytest.approx(theirs.low, abs=0.006) and ours.high == pytest.approx(theirs.high, abs=0.006)
    assert ours.method == "percentile" and ours.n_seeds == 1 and ours.n_items == 400


def test_the_same_seed_gives_the_same_interval_and_another_seed_another():
    values = torch.rand(120, generator=torch.Generator().manual_seed(0))  # continuous: limits need not tie
    assert mean_interval(values, seed=5) == mean_interval(values, seed=5)
    assert mean_interval(values, seed=5) != mean_interval(values, seed=6)
    grid = np.random.default_rng(0).random((3, 50))
    assert mean_interval(grid, seed=1) == mean_interval(grid, seed=1) != mean_interval(grid, seed=2)


def test_a_rate_of_zero_or_one_gets_the_exact_binomial_interval_and_bca_falls_back_where_undefined():
    """0 of 300 is compatible with a true rate of about 1 % (Clopper-Pearson: 0 to 0.0122,
    the rule of three's 3/300 = 0.01); a constant that is not a rate has nothing to vary."""
    none = mean_interval(np.zeros(300))
    assert (none.low, none.method) == (0.0, "Clopper-Pearson") and none.high == pytest.approx(0.012221, abs=1e-6)
    every = mean_interval(np.ones((2, 50)))  # two seeds over the same 50 items: 50 trials, not 100
    assert every.high == 1.0 and every.low == pytest.approx(0.92888, abs=1e-5) and every.n_seeds == 2
    assert mean_interval(np.full(50, 0.5)) == Interval(0.5, 0.5, 0.5, 0.95, 50, method="constant")
    same = paired_difference(np.ones(40), np.ones(40))
    assert (same.low, same.high, same.method) == (0.0, 0.0, "constant"), "no disagreement: zero width (documented)"
    one_miss = np.ones(100)
    one_miss[7] = 0.0
    found = mean_interval(one_miss)
    assert found.low <= 0.99 <= found.high <= 1.0 and found.low < found.high


def test_a_function_of_paired_means_agrees_with_the_paired_difference_and_keeps_the_pairing():
    """With ``combine`` a difference it is the paired difference's percentile interval; the
    pairing matters: two rates that move together have a narrow difference."""
    rng = np.random.default_rng(3)
    first = (rng.random(300) < 0.5).astype(float)
    second = np.where(rng.random(300) < 0.9, first, 1 - first)  # agrees with first on about 90 % of items
    found = paired_function_of_means([first, second], np.subtract, seed=4)
    reference = paired_difference(first, second, seed=4)
    assert found.estimate == pytest.approx(reference.estimate)
    assert found.low == pytest.approx(reference.low, abs=0.01) and found.high == pytest.approx(reference.high, abs=0.01)
    assert found.high - found.low < unpaired_difference(first, second, seed=4).high - unpaired_difference(
        first, second, seed=4).low
    assert paired_function_of_means([first, second], np.subtract, seed=4) == found  # the same seed, the same interval


def test_a_non_smooth_function_of_means_misses_only_on_the_low_side_at_its_kink():
    """content - |placement| where the true placement effect is 0, the statistic's kink:
    |mean| overestimates |0|, so the estimate and the interval lean low. Coverage stays
    within a few points of 95 % and every miss lies below the truth, so a claim that the
    statistic lies above zero is never helped by the kink; away from it coverage is normal."""
    rng = np.random.default_rng(5)
    below = above = 0
    for repetition in range(200):
        content, placement = rng.normal(0.2, 1.0, 150), rng.normal(0.0, 1.0, 150)
        found = paired_function_of_means([content, placement], lambda c, p: c - np.abs(p), resamples=2000,
                                         seed=repetition)
        below += found.high < 0.2
        above += found.low > 0.2
    assert above == 0 and below <= 30  # coverage of at least 0.85
    smooth = _coverage(lambda rng: [[rng.normal(0.2, 1.0, 150), rng.normal(0.5, 1.0, 150)]], -0.3,
                       lambda columns, **kw: paired_function_of_means(columns, lambda c, p: c - np.abs(p), **kw))
    assert 0.90 <= smooth <= 0.99


@pytest.mark.parametrize("low, high, expected", [
    (0.01, 0.2, "lies above zero: gain"), (-0.2, -0.01, "lies below zero: loss"),
    (-0.1, 0.1, "contains zero: unclear"), (-0.1, 0.0, "does not lie above zero: none"),
])
def test_an_interval_reads_against_zero_by_the_side_it_lies_on(low, high, expected):
    found = Interval(min(max(0.0, low), high), low, high, 0.95, 100)
    assert reading_against_zero(found, above="gain", below="loss", neither="unclear", not_above="none") == expected
    if high == 0.0:  # without not_above an interval ending at zero contains it
        assert reading_against_zero(found, above="gain", below="loss", neither="unclear").startswith("contains")


def test_an_interval_round_trips_through_json_and_refuses_an_estimate_outside_it():
    found = mean_interval(np.arange(10.0))
    assert Interval.from_json(found.to_json()) == found
    with pytest.raises(ValueError, match="outside its interval"):
        Interval(0.5, 0.6, 0.7, 0.95, 10)


@pytest.mark.parametrize("call, match", [
    (lambda: mean_interval([1.0]), "at least 2 items"),
    (lambda: mean_interval(np.zeros((2, 3, 4))), "shape"),
    (lambda: mean_interval([0.0, float("nan")]), "finite"),
    (lambda: mean_interval([0.0, 1.0], level=95), "level"),
    (lambda: mean_interval([0.0, 1.0], resamples=10), "resamples"),
    (lambda: paired_difference([0.0, 1.0, 1.0], [1.0, 0.0]), "same shape"),
    (lambda: unpaired_difference(np.zeros((2, 3)), [1.0, 0.0]), "one seed"),
    (lambda: paired_function_of_means([], np.subtract), "at least one column"),
    (lambda: paired_function_of_means([[0.0, 1.0, 1.0], [1.0, 0.0]], np.subtract), "same shape"),
    (lambda: paired_function_of_means([np.zeros((2, 3))], np.negative), "one seed"),
])
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_reading_against_a_bound_names_the_side_and_the_bound():
    def found(low, high):
        return Interval((low + high) / 2, low, high, 0.95, 100)

    words = dict(above="ok", below="no", neither="open", not_above="none")
    assert reading_against(found(-0.04, -0.01), -0.05, "the bound", **words) == "lies above the bound: ok"
    assert reading_against(found(-0.09, -0.06), -0.05, "the bound", **words) == "lies below the bound: no"
    assert reading_against(found(-0.07, -0.03), -0.05, "the bound", **words) == "contains the bound: open"
    assert reading_against(found(-0.07, -0.05), -0.05, "the bound", **words) == "does not lie above the bound: none"
    # zero is the special case the chapters use most, with the same wording
    assert reading_against(found(0.01, 0.02), 0.0, "zero", **words) == reading_against_zero(found(0.01, 0.02), **words)
