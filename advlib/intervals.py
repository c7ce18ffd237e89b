"""Bootstrap confidence intervals for the book's measured rates and differences.

A comparison such as "PGD-AT keeps more digits than FGSM-RS" is a claim about the
population the test items were drawn from, not about the items drawn. Its evidence is an
interval: the claim holds at this scale only when the whole 95 % interval lies on the
claimed side (see :mod:`advlib.repro.ledger`, where a straddling interval is "inconclusive").

Two resampling schemes, both nonparametric bootstraps of the mean of per-item values
(an item's 0/1 outcome, its loss, its difference between two methods):

* **items only** (one seed): ``scipy.stats.bootstrap`` with its BCa interval (percentile
  limits where BCa is undefined, e.g. when a single item differs from the rest). A paired
  comparison (two methods on the same items) is the interval of the mean of the per-item
  differences, which keeps the pairing; :func:`unpaired_difference` resamples two
  independent samples separately.
* **seeds and items** (several seeds, the same items under each): a crossed two-way
  bootstrap (seeds drawn with replacement, items drawn with replacement, the statistic the
  mean over the drawn grid), with percentile limits. scipy has no multi-level resampler,
  so this one is written here; with one seed it reduces to the items-only percentile
  bootstrap, against which the tests check it.

A rate measured as 0 or 1 on every item is the bootstrap's blind spot: every resample
gives the same mean, a zero-width interval, though 0 of 300 is compatible with a true rate
of about 1 %. There :func:`mean_interval` gives scipy's exact binomial (Clopper-Pearson)
interval instead, counting the items once (several seeds repeat the same items, so they
are not more trials). A paired difference that is the same on every item (no item on which
the two methods disagree) keeps a zero-width interval: the same blind spot, not covered
here.

Every function takes a ``seed``: the same inputs and seed give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

LEVEL = 0.95
RESAMPLES = 9999


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    level: float
    n_items: int
    n_seeds: int = 1
    method: str = "BCa"

    def __post_init__(self) -> None:
        if not self.low <= self.estimate <= self.high:
            raise ValueError(f"the estimate {self.estimate} lies outside its interval [{self.low}, {self.high}]")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> Interval:
        return cls(**values)


def _as_grid(values: Any) -> np.ndarray:
    """Per-item values as a float array of shape (seeds, items), with clear errors."""
    grid = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)
    if grid.ndim == 1:
        grid = grid[None, :]
    if grid.ndim != 2:
        raise ValueError(f"expected per-item values of shape (items,) or (seeds, items), got shape {grid.shape}")
    if grid.shape[1] < 2:
        raise ValueError(f"an interval needs at least 2 items, got {grid.shape[1]}")
    if not np.isfinite(grid).all():
        raise ValueError("per-item values must be finite (no NaN or infinity)")
    return grid


def _batch(n_items: int) -> int:
    """Resamples (and jackknife samples) per vectorised call: about 4 million values at a
    time, so all 10,000 MNIST test digits need some 30 MB, not the 800 MB of one call."""
    return max(1, 4_000_000 // n_items)


def _check(level: float, resamples: int) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    if not isinstance(resamples, int) or resamples < 100:
        raise ValueError(f"resamples must be an int >= 100, got {resamples!r}")


def mean_interval(values: Any, *, level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """The mean of per-item values with its bootstrap interval.

    ``values`` has shape (items,) for one seed, or (seeds, items) for several seeds over
    the same items (the crossed bootstrap of the module docstring). Values that are all 0
    or all 1 are read as a rate and get the exact binomial interval.
    """
    return _mean_interval(_as_grid(values), level, resamples, seed, rate=True)


def _mean_interval(grid: np.ndarray, level: float, resamples: int, seed: int, *, rate: bool) -> Interval:
    _check(level, resamples)
    estimate = float(grid.mean())
    if np.all(grid == grid.flat[0]):  # every resample gives the same mean
        if rate and grid.flat[0] in (0.0, 1.0):  # a rate of 0 or 1: the bootstrap cannot see past the sample
            items = grid.shape[1]  # seeds repeat the same items: they are not more trials
            exact = stats.binomtest(int(grid.flat[0]) * items, items).proportion_ci(level, method="exact")
            return Interval(estimate, float(exact.low), float(exact.high), level, grid.shape[1], grid.shape[0],
                            "Clopper-Pearson")
        return Interval(estimate, estimate, estimate, level, grid.shape[1], grid.shape[0], "constant")
    if grid.shape[0] > 1:
        return _crossed(grid, level, resamples, seed)
    result = stats.bootstrap((grid[0],), np.mean, confidence_level=level, n_resamples=resamples, method="BCa",
                             vectorized=True, batch=_batch(grid.shape[1]), rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):  # BCa undefined (e.g. one differing item): percentile
        return _crossed(grid, level, resamples, seed)
    return Interval(estimate, min(low, estimate), max(high, estimate), level, grid.shape[1])


def _crossed(grid: np.ndarray, level: float, resamples: int, seed: int) -> Interval:
    """Percentile limits of the mean over seeds and items drawn with replacement."""
    n_seeds, n_items = grid.shape
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = _batch(n_seeds * n_items)
    for start in range(0, resamples, step):  # in blocks: (block, seeds, items) stays small
        block = min(step, resamples - start)
        seeds = rng.integers(0, n_seeds, size=(block, n_seeds))
        items = rng.integers(0, n_items, size=(block, n_items))
        means[start:start + block] = grid[seeds[:, :, None], items[:, None, :]].mean(axis=(1, 2))
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    estimate = float(grid.mean())
    return Interval(estimate, min(float(low), estimate), max(float(high), estimate), level, n_items, n_seeds,
                    "percentile")


def paired_difference(first: Any, second: Any, *, level: float = LEVEL, resamples: int = RESAMPLES,
                      seed: int = 0) -> Interval:
    """mean(first) - mean(second) for two methods measured on the same items (and seeds):
    the interval of the mean per-item difference, so each item's pairing is kept."""
    first, second = _as_grid(first), _as_grid(second)
    if first.shape != second.shape:
        raise ValueError(f"paired values must have the same shape, got {first.shape} and {second.shape}")
    # the same difference on every item: zero width (the blind spot of the module docstring)
    return _mean_interval(first - second, level, resamples, seed, rate=False)


def paired_function_of_means(columns: Sequence[Any], combine: Callable[..., Any], *, level: float = LEVEL,
                             resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """``combine(mean of columns[0], mean of columns[1], ...)`` for per-item values measured
    on the same items (one seed): a statistic that is not itself a mean, such as one effect
    less the size of another (``lambda c, p: c - np.abs(p)``).

    ``scipy.stats.bootstrap`` with ``paired=True``: items are drawn with replacement, the same
    draw for every column (so each item's pairing is kept), and the interval has percentile
    limits: ``combine`` may be non-smooth (an absolute value, a minimum), where BCa's
    acceleration estimate is unreliable. ``combine`` receives numpy arrays of resampled
    means and must work elementwise. At a kink (one effect
    less ``|p|`` where the true ``p`` is 0) the estimate is biased low and the interval
    leans low with it: in the tests' 200 draws it missed the truth only from below, so a
    claim that the statistic lies above zero gains nothing from the kink.
    """
    _check(level, resamples)
    if len(columns) == 0:
        raise ValueError("paired_function_of_means needs at least one column of per-item values")
    grids = [_as_grid(column) for column in columns]
    if any(grid.shape[0] != 1 for grid in grids):
        raise ValueError("paired_function_of_means takes one seed's values per column (shape (items,))")
    if len({grid.shape for grid in grids}) != 1:
        raise ValueError(f"paired columns must have the same shape, got {[grid.shape[1:] for grid in grids]}")
    values = [grid[0] for grid in grids]
    estimate = float(combine(*(column.mean() for column in values)))

    def statistic(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        return combine(*(sample.mean(axis=axis) for sample in samples))

    result = stats.bootstrap(tuple(values), statistic, paired=True, vectorized=True, confidence_level=level,
                             n_resamples=resamples, method="percentile", batch=_batch(len(values[0]) * len(values)),
                             rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    return Interval(estimate, min(low, estimate), max(high, estimate), level, len(values[0]), method="percentile")


def unpaired_difference(first: Sequence[float], second: Sequence[float], *, level: float = LEVEL,
                        resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """mean(first) - mean(second) for two independent samples (different items), each
    resampled on its own; BCa, or percentile limits where BCa is undefined."""
    _check(level, resamples)
    a, b = _as_grid(first), _as_grid(second)
    if a.shape[0] != 1 or b.shape[0] != 1:
        raise ValueError("unpaired_difference takes one seed's values per sample (shape (items,))")
    a, b = a[0], b[0]
    estimate = float(a.mean() - b.mean())
    n_items = len(a) + len(b)

    def difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return x.mean(axis=axis) - y.mean(axis=axis)

    if np.all(a == a[0]) and np.all(b == b[0]):
        return Interval(estimate, estimate, estimate, level, n_items)
    for method in ("BCa", "percentile"):
        result = stats.bootstrap((a, b), difference, confidence_level=level, n_resamples=resamples, method=method,
                                 vectorized=True, batch=_batch(n_items), rng=np.random.default_rng(seed))
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return Interval(estimate, min(low, estimate), max(high, estimate), level, n_items, method=method)
    raise RuntimeError("the bootstrap gave no finite interval")  # pragma: no cover - percentile is always finite


def reading_against(found: Interval, bound: float, name: str, *, above: str, below: str, neither: str,
                    not_above: str | None = None) -> str:
    """How an interval reads against a bound, as a phrase a chapter glues after it: which side
    of ``bound`` (written ``name`` in the phrase: "zero", "one half", "the bound of -0.05") it
    lies on, then the chapter's consequence for that side. This is the ledger's reading of a
    one-sided target on its interval (:meth:`advlib.repro.spec.Target.verdict`), in words.

    ``not_above`` is for an interval that ends exactly at the bound (a difference that no item
    favours, e.g. [-0.04, 0] against zero): it "does not lie above" the bound, which is truer
    than "contains" it for a claimed gain. Without it such an interval reads as containing it.
    """
    if found.low > bound:
        return f"lies above {name}: {above}"
    if found.high < bound:
        return f"lies below {name}: {below}"
    if found.high == bound and not_above is not None:
        return f"does not lie above {name}: {not_above}"
    return f"contains {name}: {neither}"


def reading_against_zero(found: Interval, *, above: str, below: str, neither: str, not_above: str | None = None) -> str:
    """:func:`reading_against` with the bound zero, the usual one of a difference or a gain."""
    return reading_against(found, 0.0, "zero", above=above, below=below, neither=neither, not_above=not_above)
