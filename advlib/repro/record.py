"""Results records: what a chapter measured, written atomically as JSON."""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from advlib.utils import atomic_path


def write_json_atomic(path: str | Path, payload: Any) -> Path:
    """Write JSON through a temporary file and a rename: readers never see half a file."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return Path(path)


def record_path(results_dir: str | Path, scale: str, slug: str) -> Path:
    return Path(results_dir) / scale / f"{slug}.json"


def save_record(
    slug: str,
    parameters: Mapping[str, Any],
    results: Mapping[str, float],
    *,
    seconds: float,
) -> Path:
    """Write a chapter's record to ``<results_dir>/<scale>/<slug>.json``.

    Besides the results it stores what makes them reproducible: the parameters, the
    hardware, the library versions and the run time.
    """
    device = parameters.get("device", "cpu")
    payload = {
        "chapter": slug,
        "parameters": dict(parameters),
        "results": {key: float(value) for key, value in results.items()},
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "device": str(device),
        },
        "seconds": round(seconds, 1),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return write_json_atomic(record_path(parameters["results_dir"], parameters["scale"], slug), payload)


def load_record(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())
