"""Robust accuracy as the field reports it: the worst case per sample over a list of attacks.

A sample counts as robust only if it is classified correctly and *no* attack in the list
fools it (Croce and Hein's AutoAttack protocol, issue 16). The attacks run in order, each
only on the samples the earlier ones left, so the strong cheap attacks go first and the
expensive ones see few samples. The result says, per sample, which attack broke it, and
carries the sanity warnings of :mod:`advlib.robustness.sanity`.

AutoAttack's standard list is APGD-CE, APGD-T, FAB-T and Square. This library has no FAB-T,
so its ``"standard"`` list is APGD-CE, APGD-T (9 target classes) and Square (5,000 queries);
``"fast"`` is the two APGD attacks. Either is a worst case over fewer attacks than
AutoAttack's, so its robust accuracy can only be higher or equal for the same runs of the
other three; say which list a number comes from.

Long full-scale runs are resumable: with ``state_file``, the flags are saved after every
batch of every attack, and a rerun with the same inputs continues where the last one
stopped. Every batch of every attack draws its random numbers from its own seed, so a
resumed run gives the same result as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from advlib.attacks import _checks
from advlib.attacks.apgd import apgd, apgd_targeted
from advlib.attacks.square import square
from advlib.evaluate import perturbation_norms
from advlib.robustness.sanity import SanityWarning, check_black_box, run_model_checks
from advlib.utils import atomic_path, frozen_eval

AttackRun = Callable[[nn.Module, torch.Tensor, torch.Tensor, float, str, torch.Generator], torch.Tensor]
CLEAN = "clean"  # broken_by for a sample misclassified without any attack
_STATE_VERSION = 1


@dataclass(frozen=True)
class EvalAttack:
    """One attack of an evaluation: ``run(model, images, labels, eps, norm, generator)``
    returns adversarial images; ``white_box`` is False for attacks that read only scores."""

    name: str
    run: AttackRun
    white_box: bool = True
    norms: tuple[str, ...] = ("linf", "l2")


def apgd_ce(steps: int = 100) -> EvalAttack:
    """APGD on the cross-entropy, one run of ``steps`` updates with a random start."""
    return EvalAttack("apgd-ce", lambda model, x, y, eps, norm, generator: apgd(
        model, x, y, eps, steps=steps, norm=norm, loss="ce", generator=generator))


def apgd_t(steps: int = 100, target_classes: int = 9) -> EvalAttack:
    """APGD-T: targeted DLR against the ``target_classes`` likeliest wrong classes in turn."""
    def run(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, norm: str,
            generator: torch.Generator) -> torch.Tensor:
        with frozen_eval(model), torch.no_grad():
            classes = model(x[:1]).shape[1]
        return apgd_targeted(model, x, y, eps, steps=steps, norm=norm, generator=generator,
                             target_classes=min(target_classes, classes - 1))
    return EvalAttack("apgd-t", run)


def square_attack(queries: int = 5000) -> EvalAttack:
    """The L-inf Square Attack with ``queries`` queries (score-based, no gradients)."""
    return EvalAttack("square", lambda model, x, y, eps, norm, generator: square(
        model, x, y, eps, queries=queries, generator=generator), white_box=False, norms=("linf",))


ATTACK_LISTS: dict[str, tuple[Callable[[], EvalAttack], ...]] = {
    "standard": (apgd_ce, apgd_t, square_attack),
    "fast": (apgd_ce, apgd_t),
}
_BY_NAME: dict[str, Callable[[], EvalAttack]] = {"apgd-ce": apgd_ce, "apgd-t": apgd_t, "square": square_attack}


def attack_list(attacks: str | Sequence[str | EvalAttack], norm: str = "linf") -> list[EvalAttack]:
    """Resolve ``"standard"``, ``"fast"`` or a list of names/:class:`EvalAttack` objects.
    For L2 the named lists leave Square out (only its L-inf version is implemented)."""
    if isinstance(attacks, str):
        if attacks not in ATTACK_LISTS:
            raise ValueError(f"unknown attack list {attacks!r}; choose from {sorted(ATTACK_LISTS)} "
                             "or pass a list of attacks")
        resolved = [factory() for factory in ATTACK_LISTS[attacks]]
        return [attack for attack in resolved if norm in attack.norms]
    resolved = []
    for attack in attacks:
        if isinstance(attack, str):
            if attack not in _BY_NAME:
                raise ValueError(f"unknown attack {attack!r}; choose from {sorted(_BY_NAME)} or pass an EvalAttack")
            attack = _BY_NAME[attack]()
        if not isinstance(attack, EvalAttack):
            raise TypeError(f"attacks must be names or EvalAttack objects, got {type(attack).__name__}")
        if norm not in attack.norms:
            raise ValueError(f"{attack.name} does not support norm={norm!r} (only {attack.norms})")
        resolved.append(attack)
    names = [attack.name for attack in resolved]
    if not resolved or len(set(names)) != len(names) or CLEAN in names:
        raise ValueError(f"the attack list must be non-empty with distinct names other than {CLEAN!r}, got {names}")
    return resolved


@dataclass
class WorstCaseResult:
    """Per-sample outcome of a worst-case evaluation.

    ``broken_by[i]`` is ``"clean"`` if sample i is misclassified without attack, the name of
    the first attack that fooled it, or None if it is robust.
    """

    eps: float
    norm: str
    attacks: list[str]
    broken_by: list[str | None]
    warnings: list[SanityWarning] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def accuracy_after(self) -> dict[str, float]:
        """Each attack, in the order run, mapped to the robust accuracy once it had run."""
        after, remaining = {}, sum(cause != CLEAN for cause in self.broken_by)
        for name in self.attacks:
            remaining -= self.broken_by.count(name)
            after[name] = remaining / len(self.broken_by)
        return after

    @property
    def robust(self) -> torch.Tensor:
        """Per-sample flags: True where no attack (and no clean error) broke the sample."""
        return torch.tensor([cause is None for cause in self.broken_by])

    @property
    def clean_accuracy(self) -> float:
        return sum(cause != CLEAN for cause in self.broken_by) / len(self.broken_by)

    @property
    def robust_accuracy(self) -> float:
        return sum(cause is None for cause in self.broken_by) / len(self.broken_by)

    def broken_counts(self) -> dict[str, int]:
        """How many samples each attack broke first (and how many were wrong when clean)."""
        return {name: self.broken_by.count(name) for name in (CLEAN, *self.attacks)}

    def warning_names(self) -> list[str]:
        return [warning.name for warning in self.warnings]

    def to_robustbench(self, **model_info: object) -> dict[str, object]:
        """This result as a RobustBench model-info entry (its ``model_info/<dataset>/<threat>/
        <name>.json`` schema): ``clean_acc`` and ``autoattack_acc`` as percentage strings with
        two decimals, ``eps`` as RobustBench writes it ("8/255" where it is a whole number of
        levels). ``model_info`` supplies or overrides the descriptive fields (name, link,
        authors, architecture, venue, dataset, reported, ...). The attack list and the
        warnings are added under keys RobustBench does not use, so the number's provenance
        travels with it."""
        levels = self.eps * 255
        eps_text = f"{round(levels)}/255" if abs(levels - round(levels)) < 1e-6 else f"{self.eps:g}"
        entry: dict[str, object] = {
            "link": "", "name": "", "authors": "", "additional_data": False, "number_forward_passes": 1,
            "dataset": "cifar10", "venue": "", "architecture": "", "eps": eps_text,
            "clean_acc": f"{100 * self.clean_accuracy:.2f}", "reported": "",
            "autoattack_acc": f"{100 * self.robust_accuracy:.2f}",
        }
        entry.update(model_info)
        entry["advlib_attacks"] = list(self.attacks)
        entry["advlib_warnings"] = [str(warning) for warning in self.warnings]
        return entry


def worst_case_evaluation(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    *,
    norm: str = "linf",
    attacks: str | Sequence[str | EvalAttack] = "standard",
    batch_size: int = 500,
    seed: int = 0,
    state_file: str | Path | None = None,
    sanity_checks: bool = True,
    sanity_samples: int = 100,
    device: torch.device | str | None = None,
) -> WorstCaseResult:
    """Run ``attacks`` in order at budget ``eps`` and keep each sample's worst case.

    ``images``/``labels`` may live on the CPU and are moved batch by batch to ``device``
    (default: the model's). Every attack's output is checked to lie in [0, 1] and within
    ``eps``; an attack that steps outside is an error, not a success. ``sanity_checks`` runs
    the checks of :mod:`advlib.robustness.sanity` on up to ``sanity_samples`` correctly classified
    samples, plus the black-box check after the attacks.
    """
    started = time.perf_counter()
    _checks.check_images(images)
    labels = _checks.check_labels(labels, images)
    norm = _checks.check_norm(norm)
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < float("inf"):
        raise ValueError(f"eps must be a positive number, got {eps!r}")
    eps = float(eps)
    batch_size = _checks.check_positive_int(batch_size, "batch_size")
    resolved = attack_list(attacks, norm)
    names = [attack.name for attack in resolved]
    if device is None:
        device = next((param.device for param in model.parameters()), torch.device("cpu"))
    device = torch.device(device)
    batches = [range(start, min(start + batch_size, len(labels))) for start in range(0, len(labels), batch_size)]

    fingerprint = _fingerprint(images, labels, eps, norm, names, seed, batch_size)
    state = _load_state(state_file, fingerprint)
    if state is None:
        state = {"version": _STATE_VERSION, "fingerprint": fingerprint, "broken_by": None, "done": []}
    if state["broken_by"] is None:
        clean = _predictions(model, images, batches, device)
        state["broken_by"] = [None if correct else CLEAN for correct in (clean == labels.cpu()).tolist()]
        _save_state(state_file, state)
    broken_by: list[str | None] = state["broken_by"]
    done = {tuple(pair) for pair in state["done"]}

    for position, attack in enumerate(resolved):
        for number, batch in enumerate(batches):
            if (position, number) in done:
                continue
            chosen = [index for index in batch if broken_by[index] is None]
            if chosen:
                x = images[chosen].to(device)
                y = labels[chosen].to(device)
                generator = torch.Generator().manual_seed(_batch_seed(seed, position, number))
                adversarial = attack.run(model, x, y, eps, norm, generator)
                _check_output(attack.name, adversarial, x, eps, norm)
                with frozen_eval(model), torch.no_grad():
                    fooled = (model(adversarial).argmax(dim=1) != y).cpu().tolist()
                for index, hit in zip(chosen, fooled, strict=True):
                    if hit:
                        broken_by[index] = attack.name
            done.add((position, number))
            state["done"] = sorted(done)
            _save_state(state_file, state)

    result = WorstCaseResult(eps, norm, names, list(broken_by))
    if sanity_checks:
        correct = [index for index, cause in enumerate(broken_by) if cause != CLEAN][:sanity_samples]
        if correct:
            with frozen_eval(model):
                result.warnings += run_model_checks(model, images[correct].to(device), labels[correct].to(device))
        black = check_black_box(result.accuracy_after, [attack.name for attack in resolved if not attack.white_box])
        if black is not None:
            result.warnings.append(black)
    result.seconds = time.perf_counter() - started
    return result


def _batch_seed(seed: int, position: int, number: int) -> int:
    """A seed per (attack, batch): resuming mid-way redraws exactly what the full run drew."""
    return (seed * 1_000_003 + position * 10_007 + number) % (2**63)


def _predictions(model: nn.Module, images: torch.Tensor, batches: list[range], device: torch.device) -> torch.Tensor:
    with frozen_eval(model), torch.no_grad():
        return torch.cat([model(images[batch.start:batch.stop].to(device)).argmax(dim=1).cpu() for batch in batches])


def _check_output(name: str, adversarial: torch.Tensor, images: torch.Tensor, eps: float, norm: str) -> None:
    """An attack that leaves the box or the budget has not found a valid adversarial example."""
    if adversarial.shape != images.shape:
        raise ValueError(f"{name} returned shape {tuple(adversarial.shape)} for inputs {tuple(images.shape)}")
    if not torch.isfinite(adversarial).all() or adversarial.min() < 0 or adversarial.max() > 1:
        raise ValueError(f"{name} returned images outside [0, 1]")
    size = perturbation_norms(adversarial, images, norm)
    if (size > eps * (1 + 1e-5) + 1e-6).any():
        raise ValueError(f"{name} returned perturbations of {norm} size up to {size.max().item():.6g} > eps {eps:.6g}")


def _fingerprint(images: torch.Tensor, labels: torch.Tensor, eps: float, norm: str, names: list[str],
                 seed: int, batch_size: int) -> str:
    digest = hashlib.sha256()
    digest.update(images.detach().cpu().contiguous().numpy().tobytes())
    digest.update(labels.detach().cpu().contiguous().numpy().tobytes())
    digest.update(json.dumps([eps, norm, names, seed, batch_size]).encode())
    return digest.hexdigest()


def _load_state(path: str | Path | None, fingerprint: str) -> dict | None:
    if path is None or not Path(path).exists():
        return None
    try:
        state = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"the state file {path} is not readable JSON ({error}); delete it to start over") from error
    if state.get("version") != _STATE_VERSION or state.get("fingerprint") != fingerprint:
        raise ValueError(f"the state file {path} belongs to a different evaluation (other images, labels, "
                         "eps, norm, attacks, seed or batch size); delete it or pass another state_file")
    return state


def _save_state(path: str | Path | None, state: dict) -> None:
    if path is None:
        return
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(state))
