"""Face verification: pairs, distances, true-accept rate, verification accuracy, photo quality.

A verifier accepts two photos as the same person when the squared Euclidean distance of their
L2-normalised embeddings is below a threshold (APF's code uses 1.02, i.e. cosine > 0.49).
APF's privacy metric is the true-accept rate (TAR) on *genuine* pairs after the first photo
of each pair is protected: the share of protected photos still matched to their owner. Lower
is better privacy. The standard verification accuracy (genuine and impostor pairs, the
threshold chosen on the other folds) says how good the verifier is to begin with.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Pairs:
    """Index pairs into one set of photos; ``same`` marks genuine (same-identity) pairs."""

    first: torch.Tensor
    second: torch.Tensor
    same: torch.Tensor

    def __len__(self) -> int:
        return self.first.shape[0]


def genuine_pairs(identities: torch.Tensor, shots: torch.Tensor) -> Pairs:
    """Each subject's photos paired in shot order: (0, 1), (2, 3), ... (a leftover is dropped).

    The first photo of a pair is the one to protect, the second the enrolled reference.
    """
    first, second = [], []
    for identity in torch.unique(identities).tolist():
        members = torch.nonzero(identities == identity).flatten()
        members = members[torch.argsort(shots[members])]
        for k in range(0, len(members) - 1, 2):
            first.append(int(members[k]))
            second.append(int(members[k + 1]))
    if not first:
        raise ValueError("no subject has two photos, so there are no genuine pairs")
    count = len(first)
    return Pairs(torch.tensor(first), torch.tensor(second), torch.ones(count, dtype=torch.bool))


def impostor_pairs(identities: torch.Tensor, count: int, *, seed: int) -> Pairs:
    """``count`` random pairs of photos of two different subjects (seeded)."""
    generator = torch.Generator().manual_seed(seed)
    n = identities.shape[0]
    if torch.unique(identities).numel() < 2:
        raise ValueError("impostor pairs need at least two subjects")
    first, second = [], []
    while len(first) < count:
        a, b = torch.randint(0, n, (2,), generator=generator).tolist()
        if identities[a] != identities[b]:
            first.append(a)
            second.append(b)
    return Pairs(torch.tensor(first), torch.tensor(second), torch.zeros(count, dtype=torch.bool))


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise squared Euclidean distance of two (N, D) embedding batches."""
    return (a - b).pow(2).sum(dim=1)


def accepted(probes: torch.Tensor, references: torch.Tensor, threshold: float) -> torch.Tensor:
    """Whether each pair is accepted as one person: ``||e(probe) - e(reference)||^2 < threshold``;
    (N,) booleans, per pair so that two protections of the same pairs can be compared with a
    paired bootstrap interval (:mod:`advlib.intervals`)."""
    return squared_distance(probes, references) < threshold


def true_accept_rate(probes: torch.Tensor, references: torch.Tensor, threshold: float) -> float:
    """Share of genuine pairs still accepted (the mean of :func:`accepted` over genuine pairs)."""
    return float(accepted(probes, references, threshold).float().mean())


def best_threshold(distances: torch.Tensor, same: torch.Tensor) -> float:
    """The threshold that classifies the most pairs right (accept = distance below it).

    Candidates are midpoints between consecutive sorted distances, so the choice does not
    depend on a grid.
    """
    if same.all() or not same.any():
        raise ValueError("choosing a threshold needs both genuine and impostor pairs")
    ordered = torch.sort(distances).values
    candidates = torch.cat([ordered[:1] - 1e-6, (ordered[1:] + ordered[:-1]) / 2, ordered[-1:] + 1e-6])
    accepted = distances.unsqueeze(0) < candidates.unsqueeze(1)
    correct = (accepted == same.unsqueeze(0)).float().mean(dim=1)
    return float(candidates[int(torch.argmax(correct))])


def verification_accuracy(distances: torch.Tensor, same: torch.Tensor, folds: int = 10) -> float:
    """k-fold verification accuracy (the LFW protocol): each fold is scored with the threshold
    that is best on the other folds. Pairs are split into contiguous folds in the given order."""
    if not 2 <= folds <= distances.shape[0]:
        raise ValueError(f"folds must be between 2 and the number of pairs, got {folds}")
    bounds = torch.linspace(0, distances.shape[0], folds + 1).round().long().tolist()
    correct = 0
    for k in range(folds):
        held = torch.zeros_like(same)
        held[bounds[k] : bounds[k + 1]] = True
        threshold = best_threshold(distances[~held], same[~held])
        correct += int(((distances[held] < threshold) == same[held]).sum())
    return correct / distances.shape[0]


def photo_quality(protected: torch.Tensor, original: torch.Tensor) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM of protected photos against the originals (torchmetrics)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    psnr = peak_signal_noise_ratio(protected, original, data_range=1.0, reduction="none", dim=(1, 2, 3))
    ssim = structural_similarity_index_measure(protected, original, data_range=1.0, reduction="none")
    return float(psnr.mean()), float(ssim.mean())
