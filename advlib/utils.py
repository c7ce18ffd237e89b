"""Small helpers every module needs: seeding, device choice, model-state hygiene."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import platform
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and all GPUs) and return a seeded CPU generator.

    The returned generator is what library functions take as ``generator=`` so that a
    notebook can pass one object around instead of relying on hidden global state.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``/``"cpu"``/``"cuda"``/``"mps"`` into a usable ``torch.device``.

    Asking for an accelerator that is not there is an error, not a silent fallback to the
    CPU: a reader who requested ``device="cuda"`` for a full-scale run must learn at once
    that the run would take hours instead of minutes.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be a string such as 'auto' or 'cuda', got {device!r}")
    kind = device.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"device={device!r} is not one of {DEVICE_CHOICES} (optionally 'cuda:N')")
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but no CUDA GPU is available; use 'auto' or 'cpu'")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' was requested but MPS is not available; use 'auto' or 'cpu'")
    return torch.device(device)


@contextlib.contextmanager
def frozen_eval(model: nn.Module | object) -> Iterator[None]:
    """Run ``model`` in eval mode with its parameters frozen, then restore both exactly.

    Attacks differentiate with respect to the input only. Freezing the parameters means
    no gradient can leak into ``param.grad`` and autograd does not keep what it would need
    for weight gradients. The per-module train flags and ``requires_grad`` flags are
    recorded and restored even if the attack raises.
    """
    if not isinstance(model, nn.Module):
        yield
        return
    modes = [(module, module.training) for module in model.modules()]
    flags = [(param, param.requires_grad) for param in model.parameters()]
    model.eval()
    for param, _ in flags:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for module, was_training in modes:
            module.training = was_training
        for param, flag in flags:
            param.requires_grad_(flag)


def model_device(model: nn.Module | object, default: torch.device | None = None) -> torch.device:
    """The device of a model's first parameter (or ``default``/CPU for parameter-free ones)."""
    if isinstance(model, nn.Module):
        for param in model.parameters():
            return param.device
    return default or torch.device("cpu")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    Every file the library writes (checkpoints, records, reports, provisioned datasets)
    goes through here, so a run killed mid-write leaves the previous file intact, never a
    truncated one, and a failed write leaves no temporary file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] as 8-bit colours (clipped, rounded to nearest), same layout.

    The one conversion every file format, image library and web page needs; detached,
    because nothing downstream of 8-bit pixels can carry a gradient.
    """
    return (images.detach().clamp(0, 1) * 255).round().to(torch.uint8)


def to_8bit_within(adversarial: torch.Tensor, images: torch.Tensor, eps: float) -> torch.Tensor:
    """``adversarial`` as 8-bit colours that stay inside the L-inf ball of radius ``eps``
    around ``images`` (themselves 8-bit colours), as float images in [0, 1].

    A perturbation that is saved as an image file (a CAPTCHA served on a web page, a poisoned
    training set) is rounded to 8 bits. Rounding the perturbation to whole colour levels and
    clipping it to the largest whole number of levels inside ``eps`` keeps the stored image
    inside the budget: clipping to ``images +- eps`` instead would leave values between
    levels whenever ``eps * 255`` is not an integer (e.g. eps = 0.3 is 76.5 levels).
    """
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    if adversarial.shape != images.shape:
        raise ValueError(f"adversarial {tuple(adversarial.shape)} and images {tuple(images.shape)} differ in shape")
    levels = math.floor(eps * 255 + 1e-6)
    originals = (images.detach() * 255).round()
    steps = ((adversarial.detach() * 255).round() - originals).clamp(-levels, levels)
    return ((originals + steps).clamp(0, 255) / 255).to(images.dtype)


def library_fingerprint() -> str:
    """SHA-256 over the path and bytes of every advlib source file: what a cached or skipped
    result depends on besides its inputs (the sweeps and the training cache use it)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def cpu_identity() -> str:
    """Which processor computes float results here: vendor, family, model and name of the first
    processor in /proc/cpuinfo (x86 Linux; elsewhere what :mod:`platform` says), and the instruction
    set PyTorch's CPU kernels dispatch to. Two processors with different identities may round
    sums in different orders, so the same seed can train different weights and print different
    digits on them (seen with this book: an Intel Xeon and an AMD EPYC)."""
    fields: dict[str, str] = {}
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    if fields.get("vendor_id"):
        name = (f"{fields['vendor_id']} family {fields.get('cpu family', '?')} model {fields.get('model', '?')} "
                f"({fields.get('model name', 'unnamed')})")
    else:
        name = platform.processor() or platform.machine() or "unknown processor"
    return f"{name}, {torch.backends.cpu.get_cpu_capability()}"


def numerics() -> dict[str, object]:
    """What decides float results here besides the code and its inputs: torch's version, the
    architecture, the processor and the CPU threads in use now. One definition for the results
    records (which nbval compares by it) and the training cache's key."""
    return {"torch": torch.__version__, "machine": platform.machine(), "cpu": cpu_identity(),
            "cpu_threads": torch.get_num_threads()}
