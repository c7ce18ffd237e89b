"""The talk's debiasing table: every method on one biased training set, over several seeds.

Single training runs on a few thousand images differ by tens of points of balanced accuracy
from one seed to the next (the flips, the initial weights and the batch order all change), so
a ranking of methods from one run would be noise. :func:`debiasing_table` trains every row
once per seed and keeps every report; :meth:`RowResult.summary` gives mean and standard
deviation. Rows that a training set cannot define (re-sampling on a fully biased set) are kept
with the reason instead of a number, as the talk's "-".

The same function serves C-MNIST at class scale and CelebA at full scale: the caller supplies
the network builder, the training settings and the optional oracle-recoloured copy (there is
no CycleGAN at hand offline; on CelebA the row is left out with that reason).
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

import advlib
from advlib.data.biased import BiasedDataset, concatenate
from advlib.debias.fairness import FairnessReport, fairness_report, reweighting_weights, undersample_index
from advlib.debias.training import (
    DebiasConfig,
    FlipAttack,
    bias_dataset,
    bias_flipped_copies,
    flip_rate,
    train_debiased,
)
from advlib.models.two_head import TwoHeadNet
from advlib.train import TrainConfig, train
from advlib.utils import frozen_eval

ROWS = ("original", "under-sampling", "reweighting", "adversarial debiasing", "recolouring oracle",
        "AEDA_pre", "AEDA_online", "AEDA_robust")


@dataclass
class RowResult:
    """One row of the table: a report per seed, or the reason the row is undefined."""

    reports: list[FairnessReport] = field(default_factory=list)
    seconds: float = 0.0
    undefined: str = ""
    extra: dict[str, list[float]] = field(default_factory=dict)
    model: nn.Module | None = None  # the first seed's trained network, for figures
    bias_model: nn.Module | None = None  # AEDA_pre's first fixed colour classifier

    def summary(self) -> dict[str, float]:
        """Mean and standard deviation (over seeds; 0 for one seed) of bACC, both bias aggregates
        and accuracy; NaN for an undefined row."""
        names = ("balanced_accuracy", "bias_sum", "bias_mean_percent", "accuracy")
        out: dict[str, float] = {}
        for name in names:
            values = [getattr(report, name) for report in self.reports]
            out[f"{name}_mean"] = statistics.fmean(values) if values else float("nan")
            out[f"{name}_std"] = statistics.pstdev(values) if len(values) > 1 else (0.0 if values else float("nan"))
        return out


def fairness_on(model: nn.Module, dataset: BiasedDataset, *, device: torch.device | str = "cpu",
                batch_size: int = 500) -> FairnessReport:
    """The talk's metrics for ``model`` on a test set with a binary bias attribute, batch by batch
    (the set may be a memory-mapped CelebA split)."""
    predictions = []
    with frozen_eval(model), torch.no_grad():
        for images, *_ in dataset.batches(batch_size, device=device):
            predictions.append(model(images).argmax(1).cpu())
    return fairness_report(torch.cat(predictions), dataset.labels, dataset.bias, dataset.num_classes)


def debiasing_table(
    train_set: BiasedDataset,
    test_set: BiasedDataset,
    *,
    build_net: Callable[[], TwoHeadNet],
    build_bias_model: Callable[[], nn.Module],
    training: TrainConfig,
    flip: FlipAttack,
    seeds: Sequence[int],
    recoloured_set: BiasedDataset | None = None,
    rows: Sequence[str] = ROWS,
    reversal_weight: float = 1.0,
    device: torch.device | str = "cpu",
    on_row: Callable[[str, RowResult], None] | None = None,
) -> dict[str, RowResult]:
    """Train and evaluate every row of ``rows`` once per seed.

    Args:
        build_net: a fresh two-head network (called after seeding, so the seed fixes its weights).
        build_bias_model: a fresh separate bias classifier for AEDA_pre (two outputs).
        training: optimisation settings of every row (its seed is replaced by each seed);
            under-sampling keeps the number of parameter updates of the full set by raising the
            epochs in proportion, so that a smaller set is not also a shorter training.
        recoloured_set: ``train_set`` with the bias attribute redrawn (the oracle row); without
            it that row is undefined.
        on_row: called after each row (e.g. to print progress).
    """
    unknown = [row for row in rows if row not in ROWS]
    if unknown:
        raise ValueError(f"unknown rows {unknown}; choose from {ROWS}")
    if not seeds:
        raise ValueError("need at least one seed")
    results: dict[str, RowResult] = {}
    for row in rows:
        result = RowResult()
        began = time.perf_counter()
        for seed in seeds:
            try:
                model = _train_row(row, train_set, seed, build_net, build_bias_model, training, flip, recoloured_set,
                                   reversal_weight, device, result)
            except _UndefinedRowError as reason:
                result.undefined = str(reason)
                break
            result.reports.append(fairness_on(model, test_set, device=device))
            if result.model is None:
                result.model = model
        result.seconds = time.perf_counter() - began
        results[row] = result
        if on_row is not None:
            on_row(row, result)
    return results


class _UndefinedRowError(Exception):
    pass


def _train_row(row: str, train_set: BiasedDataset, seed: int, build_net: Callable[[], TwoHeadNet],
               build_bias_model: Callable[[], nn.Module], training: TrainConfig, flip: FlipAttack,
               recoloured_set: BiasedDataset | None, reversal_weight: float, device: torch.device | str,
               result: RowResult) -> nn.Module:
    training = dataclasses.replace(training, seed=seed)
    method, data, weights = "plain", train_set, None
    if row == "under-sampling":
        try:
            index = undersample_index(train_set.labels, train_set.bias, train_set.num_classes, train_set.num_bias,
                                      generator=torch.Generator().manual_seed(seed))
        except ValueError as error:
            raise _UndefinedRowError(str(error)) from error
        data = train_set.select(index, name=f"{train_set.data.name}_undersampled")
        updates = training.epochs * -(-len(train_set) // training.batch_size)
        training = dataclasses.replace(training, epochs=max(1, -(-updates // -(-len(data) // training.batch_size))))
    elif row == "reweighting":
        try:
            weights = reweighting_weights(train_set.labels, train_set.bias, train_set.num_classes, train_set.num_bias)
        except ValueError as error:
            raise _UndefinedRowError(str(error)) from error
    elif row == "adversarial debiasing":
        method = "adversarial_debiasing"
    elif row == "recolouring oracle":
        if recoloured_set is None:
            raise _UndefinedRowError("no recolouring of this training set is at hand (the CycleGAN stand-in needs the "
                             "bias attribute redrawn exactly, as C-MNIST allows)")
        data = concatenate([train_set, recoloured_set], f"{train_set.data.name}_with_recoloured")
    elif row == "AEDA_pre":
        advlib.seed_everything(seed)
        bias_model = build_bias_model().to(device)
        train(bias_model, bias_dataset(train_set), dataclasses.replace(training, epochs=1), device=device,
              progress=False)
        flipped = bias_flipped_copies(bias_model, train_set, flip, generator=torch.Generator().manual_seed(seed),
                                      device=device)
        result.extra.setdefault("flip_rate", []).append(flip_rate(bias_model, flipped, device=device))
        if result.bias_model is None:
            result.bias_model = bias_model
        data = concatenate([train_set, flipped], f"{train_set.data.name}_with_flips")
    elif row in ("AEDA_online", "AEDA_robust"):
        method = row.lower()
    advlib.seed_everything(seed)
    net = build_net().to(device)
    config = DebiasConfig(method=method, training=training, reversal_weight=reversal_weight, flip=flip)
    train_debiased(net, data, config, sample_weights=weights, device=device)
    return net
