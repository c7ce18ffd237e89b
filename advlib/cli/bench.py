"""Benchmark: PGD-10 and APGD-100 on a ResNet-18 at 32x32, as ratios in one run.

* ours / torchattacks: the peer's PGD with the same model, inputs, budget and steps;
* ours / floor: the floor is what any PGD-10 must do, 10 forward passes plus 10 backward
  passes to the input, with nothing else (no projection, no bookkeeping);
* APGD: ours / pyautoattack's ``APGDAttack`` (the official code, CE loss, one run of the
  same number of updates) and ours / its floor (updates + 1 forward and backward passes).
  The labels are the model's own predictions, because the official code attacks only the
  correctly classified samples: this way both attack the whole batch.

Timings are interleaved (ours, peer, floor, ours, ...) and summarised by the median, so a
slow moment of the machine hits all three alike. On CUDA the optional bf16 autocast and
channels_last variants are measured too, each against a floor run the same way.

Every timed call is reported as it finishes (on stderr, with how many remain), and the
defaults (PGD on a batch of 32, APGD on its first 8; 3 repeats after 1 warm-up) finish in
about 3 minutes on 2 CPU cores (a ResNet-18 pass over 128 images takes about 2 s there);
``--batch-size``, ``--apgd-batch-size`` and ``--repeats`` ask for more.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F

from advlib.attacks import apgd, pgd
from advlib.models import ResNet18
from advlib.utils import frozen_eval, resolve_device


def _cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux); empty elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(function: Callable[[], object], device: torch.device) -> float:
    _synchronise(device)
    began = time.perf_counter()
    function()
    _synchronise(device)
    return time.perf_counter() - began


def _floor(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int) -> None:
    """``steps`` forward + backward-to-input passes, the least work PGD-k can do."""
    with frozen_eval(model):
        for _ in range(steps):
            point = images.detach().requires_grad_(True)
            torch.autograd.grad(F.cross_entropy(model(point), labels, reduction="sum"), point)


def run_benchmark(
    *,
    device: str = "auto",
    batch_size: int = 32,
    steps: int = 10,
    repeats: int = 3,
    warmup: int = 1,
    variants: tuple[str, ...] = ("fp32",),
    with_peer: bool = True,
    apgd_steps: int = 100,
    apgd_batch_size: int = 8,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Measure and return the figures as a dict (also what ``advlib bench`` prints as JSON).

    ``progress`` receives one line per timed call as it finishes (``advlib bench`` prints
    them to stderr), so a long run on a slow machine shows where it is.
    """
    report = progress or (lambda line: None)
    target = resolve_device(device)
    torch.manual_seed(0)
    model = ResNet18().to(target).eval()
    images = torch.rand(batch_size, 3, 32, 32, device=target)
    labels = torch.randint(0, 10, (batch_size,), device=target)
    eps, alpha = 8 / 255, 2 / 255
    results: dict = {
        "device": str(target),
        "device_name": (
            torch.cuda.get_device_name(target) if target.type == "cuda" else (_cpu_name() or platform.machine())
        ),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch_size": batch_size,
        "steps": steps,
        "apgd_steps": apgd_steps,
        "apgd_batch_size": apgd_batch_size,
        "repeats": repeats,
        "variants": {},
    }
    peer = None
    if with_peer:
        try:
            import torchattacks
        except ImportError:
            results["peer"] = "torchattacks not installed"
        else:
            peer = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)
            results["peer"] = f"torchattacks {torchattacks.__version__}"
    generator = torch.Generator().manual_seed(0)
    for variant in variants:
        memory_format = torch.channels_last if "channels_last" in variant else torch.contiguous_format
        model = model.to(memory_format=memory_format)
        x = images.contiguous(memory_format=memory_format)
        autocast = (
            torch.autocast(target.type, dtype=torch.bfloat16) if "bf16" in variant else nullcontext()
        )

        def ours(x: torch.Tensor = x, autocast=autocast, model=model) -> None:
            with autocast:
                pgd(model, x, labels, eps, alpha=alpha, steps=steps, generator=generator)

        def floor(x: torch.Tensor = x, autocast=autocast, model=model) -> None:
            with autocast:
                _floor(model, x, labels, steps)

        contenders: dict[str, Callable[[], object]] = {"ours": ours, "floor": floor}
        if peer is not None and variant == "fp32":
            contenders["torchattacks"] = lambda x=x: peer(x, labels)
        results["variants"][variant] = _measure(contenders, target, warmup, repeats, peer="torchattacks",
                                                label=f"PGD-{steps} {variant}", report=report)
    model.to(memory_format=torch.contiguous_format)
    if apgd_steps > 0:
        results["apgd"] = _measure(_apgd_contenders(model, images[:apgd_batch_size], eps, apgd_steps, with_peer),
                                   target, warmup, repeats, peer="pyautoattack", label=f"APGD-{apgd_steps}",
                                   report=report)
    return results


def _apgd_contenders(model: torch.nn.Module, images: torch.Tensor, eps: float, steps: int,
                     with_peer: bool) -> dict[str, Callable[[], object]]:
    with torch.no_grad():
        predicted = model(images).argmax(dim=1)
    generator = torch.Generator().manual_seed(0)
    contenders: dict[str, Callable[[], object]] = {
        "ours": lambda: apgd(model, images, predicted, eps, steps=steps, loss="ce", generator=generator),
        "floor": lambda: _floor(model, images, predicted, steps + 1),
    }
    if with_peer:
        try:
            from pyautoattack.autopgd_base import APGDAttack
        except ImportError:
            return contenders
        official = APGDAttack(model, n_iter=steps, eps=eps, norm="Linf", loss="ce", n_restarts=1, seed=0,
                              device=images.device)
        contenders["pyautoattack"] = lambda: official.perturb(images, predicted)
    return contenders


def _measure(contenders: dict[str, Callable[[], object]], target: torch.device, warmup: int, repeats: int,
             peer: str, label: str = "", report: Callable[[str], None] = lambda line: None) -> dict:
    """Interleaved timings of ``contenders`` ("ours", "floor" and maybe ``peer``), summarised
    by their medians and the ratios of ours to the floor and to the peer; ``report`` gets a
    line after every call (warm-ups included, which are not counted)."""
    calls, done = (warmup + repeats) * len(contenders), 0
    for name, function in contenders.items():
        for _ in range(warmup):
            seconds = _timed(function, target)
            done += 1
            report(f"{label}: [{done}/{calls}] {name} warm-up {seconds:.2f}s")
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for repeat in range(repeats):
        for name, function in contenders.items():
            times[name].append(_timed(function, target))
            done += 1
            report(f"{label}: [{done}/{calls}] {name} repeat {repeat + 1}/{repeats} {times[name][-1]:.2f}s")
    medians = {name: statistics.median(values) for name, values in times.items()}
    entry = {"median_seconds": medians, "ratio_to_floor": medians["ours"] / medians["floor"]}
    if peer in medians:
        entry["ratio_to_peer"] = medians["ours"] / medians[peer]
    return entry


def format_report(results: dict) -> str:
    lines = [
        f"PGD-{results['steps']} on ResNet-18 (32x32), batch {results['batch_size']}, device {results['device']} "
        f"({results['device_name']}), torch {results['torch']}, {results['threads']} threads, "
        f"median of {results['repeats']}",
    ]
    for variant, entry in results["variants"].items():
        medians = entry["median_seconds"]
        line = f"  {variant:>18}: ours {medians['ours']:.3f}s, floor {medians['floor']:.3f}s, " \
               f"ours/floor {entry['ratio_to_floor']:.3f}"
        if "ratio_to_peer" in entry:
            line += f", torchattacks {medians['torchattacks']:.3f}s, ours/torchattacks {entry['ratio_to_peer']:.3f}"
        lines.append(line)
    if "apgd" in results:
        entry = results["apgd"]
        medians = entry["median_seconds"]
        line = (f"APGD-{results['apgd_steps']} (CE, L-inf 8/255, batch {results['apgd_batch_size']}): "
                f"ours {medians['ours']:.3f}s, "
                f"floor {medians['floor']:.3f}s, ours/floor {entry['ratio_to_floor']:.3f}")
        if "ratio_to_peer" in entry:
            line += f", pyautoattack {medians['pyautoattack']:.3f}s, ours/pyautoattack {entry['ratio_to_peer']:.3f}"
        lines.append(line)
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    parser.add_argument("--batch-size", type=int, default=32, help="images PGD attacks (default: 32)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per contender (default: 3)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--variants", default=None,
        help="comma-separated among fp32, channels_last, bf16, bf16+channels_last "
             "(default: fp32 on CPU, all four on CUDA)",
    )
    parser.add_argument("--apgd-steps", type=int, default=100, help="APGD updates (0: skip the APGD benchmark)")
    parser.add_argument("--apgd-batch-size", type=int, default=8,
                        help="images APGD attacks, the first of the PGD batch, at most all of it (default: 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--no-peer", action="store_true", help="skip torchattacks and pyautoattack")
    parser.add_argument("--output", type=Path, default=None, help="also write the figures as JSON here")


VARIANTS = ("fp32", "channels_last", "bf16", "bf16+channels_last")


def main(arguments: argparse.Namespace) -> int:
    for name in ("batch_size", "steps", "repeats", "apgd_batch_size"):
        if getattr(arguments, name) < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be >= 1")
    if arguments.warmup < 0:
        raise SystemExit("--warmup must be >= 0")
    if arguments.apgd_steps < 0:
        raise SystemExit("--apgd-steps must be >= 0")
    device = resolve_device(arguments.device)
    if arguments.variants is None:
        variants = VARIANTS if device.type == "cuda" else ("fp32",)
    else:
        variants = tuple(v.strip() for v in arguments.variants.split(","))
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown:
            raise SystemExit(f"unknown --variants {unknown}; choose among {VARIANTS}")
    results = run_benchmark(
        device=str(device), batch_size=arguments.batch_size, steps=arguments.steps, repeats=arguments.repeats,
        warmup=arguments.warmup, variants=variants, with_peer=not arguments.no_peer,
        apgd_steps=arguments.apgd_steps, apgd_batch_size=min(arguments.apgd_batch_size, arguments.batch_size),
        progress=None if arguments.quiet else lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(format_report(results))
    if arguments.output is not None:
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(results, indent=2))
    return 0
