"""Transfer of adversarial examples: craft on source models, count the misreadings of targets.

A black-box attacker who cannot query the victim crafts on models of their own and hopes the
examples *transfer* (survey, seed S2). Measuring it is one loop: for every seed, every
source and every target, the share of images the target misclassifies. The caller passes
images that every model reads correctly, so a "success" on a target is the attack's doing and
not a mistake the target already made. Chapter 9 (three ImageNet models) uses it; it stays in
the core beside :mod:`advlib.evaluate` because it is a measurement any chapter with several
models can use, not a topic of its own. (Chapter 1's two-CNN comparison is simpler: the second
model's accuracy on the first one's adversarial examples.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import pandas as pd
import torch
from torch import nn

from advlib.evaluate import attack_in_batches, predict

# craft(model, images, labels, generator) -> adversarial images; the generator carries the
# seed into the attacks whose steps are random (input diversity).
Craft = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def _with_generator(craft: Craft, generator: torch.Generator, model: nn.Module, images: torch.Tensor,
                    labels: torch.Tensor) -> torch.Tensor:
    """``craft`` with its generator bound: the three-argument attack ``attack_in_batches`` runs."""
    return craft(model, images, labels, generator)


@dataclass(frozen=True)
class TransferTable:
    """Per-image outcomes, shape (seeds, sources, targets, images): True where the target
    misreads the image crafted on the source with the seed. The success rates are their means
    over the images; the outcomes themselves are kept because a comparison of two attacks is
    judged on a paired interval over the same images (and seeds), :mod:`advlib.intervals`."""

    fooled: torch.Tensor
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    seeds: tuple[int, ...]

    @property
    def success(self) -> torch.Tensor:
        """Success rates, shape (seeds, sources, targets): the share of images each target
        misreads after crafting on each source with each seed."""
        return self.fooled.float().mean(-1)

    def outcomes(self, source: str, targets: Sequence[str] | None = None) -> torch.Tensor:
        """Per seed and image, the share of ``targets`` (default: every target but the source
        itself) that misread the image crafted on ``source``: shape (seeds, images), the grid
        a paired interval over seeds and images resamples."""
        if source not in self.sources:
            raise KeyError(f"no source {source!r}; the table has {self.sources}")
        chosen = [name for name in self.targets if name != source] if targets is None else list(targets)
        unknown = [name for name in chosen if name not in self.targets]
        if not chosen or unknown:
            raise ValueError(f"targets must be a non-empty selection of {self.targets}, got {chosen}")
        columns = [self.targets.index(name) for name in chosen]
        return self.fooled[:, self.sources.index(source), columns].float().mean(1)

    def mean(self) -> pd.DataFrame:
        """Mean over seeds, sources as rows and targets as columns."""
        return pd.DataFrame(self.success.mean(0).numpy(), index=list(self.sources), columns=list(self.targets))

    def std(self) -> pd.DataFrame:
        """Standard deviation over seeds (n - 1 in the denominator; 0 with one seed)."""
        spread = self.success.std(0) if len(self.seeds) > 1 else torch.zeros_like(self.success[0])
        return pd.DataFrame(spread.numpy(), index=list(self.sources), columns=list(self.targets))

    def formatted(self) -> pd.DataFrame:
        """'mean +- std' in per cent (the mean alone with one seed), for printing."""
        mean, std = self.mean() * 100, self.std() * 100
        if len(self.seeds) == 1:
            return mean.map(lambda value: f"{value:.1f}")
        return mean.combine(std, lambda m, s: m.map("{:.1f}".format) + " ± " + s.map("{:.1f}".format))


def transfer_table(
    craft: Craft,
    sources: Mapping[str, nn.Module],
    targets: Mapping[str, nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    seeds: Sequence[int] = (0,),
    batch_size: int = 16,
) -> TransferTable:
    """Craft on every source with every seed (in batches), and count each target's errors.

    A target that is also a source gives the white-box success on the diagonal. Deterministic
    attacks need one seed; attacks with random steps are run once per seed, each seed
    restarting its generator, so a table is reproducible from its seeds.
    """
    if not sources or not targets:
        raise ValueError("transfer_table needs at least one source and one target model")
    if images.dim() != 4 or labels.shape != (images.shape[0],):
        raise ValueError(f"images must be (N, C, H, W) and labels (N,), got {tuple(images.shape)} "
                         f"and {tuple(labels.shape)}")
    seeds = tuple(seeds)
    if not seeds or len(set(seeds)) != len(seeds) or not all(isinstance(s, int) for s in seeds):
        raise ValueError(f"seeds must be distinct ints, at least one, got {seeds!r}")
    fooled = torch.zeros(len(seeds), len(sources), len(targets), len(labels), dtype=torch.bool)
    for seed_index, seed in enumerate(seeds):
        for source_index, source in enumerate(sources.values()):
            generator = torch.Generator().manual_seed(seed)
            adversarial = attack_in_batches(source, images, labels, partial(_with_generator, craft, generator),
                                            batch_size)
            for target_index, target in enumerate(targets.values()):
                fooled[seed_index, source_index, target_index] = (
                    predict(target, adversarial, batch_size=batch_size) != labels).cpu()
    return TransferTable(fooled, tuple(sources), tuple(targets), seeds)
