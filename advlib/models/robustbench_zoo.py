"""Published robust models from the RobustBench model zoo, for the full-scale evaluation.

RobustBench (Croce et al., NeurIPS 2021 datasets track) collects adversarially trained
models with their AutoAttack accuracies. Chapter 2 evaluates a few of them with
:func:`advlib.robustness.worst_case.worst_case_evaluation` and writes the results in RobustBench's own
JSON schema beside the book's models, so the book's yardstick can be checked against the
leaderboard's on the same networks.

Installing: the PyPI release ``robustbench==1.1.1`` cannot be installed with its dependencies
in this environment (it pins ``timm==1.0.9``, older than the book's) and, as released,
does not import at all: it imports ``autoattack``, the module name of AutoAttack's GitHub
install, while its declared dependency ``pyautoattack`` installs the same code as
``pyautoattack``; and its data loader imports ``pkg_resources``, which setuptools dropped in
version 81. ``make setup`` therefore installs it with ``--no-deps`` together with what it
really imports (``requirements-nodeps.txt``, ``requirements-peer.txt``), pins setuptools
below 81 (``requirements.txt``), and :func:`import_robustbench` makes the one alias it
needs. Checked on the pinned torch 2.14.1 and timm 1.0.31: the zoo imports and builds its
models.

Checkpoints are cached under ``<data root>/robustbench/<dataset>/<threat model>/``, in the
zoo's own layout, so a file fetched elsewhere can be copied in. The zoo publishes no
checksums, so the first successful load records the file's SHA-256 beside it and every later
load verifies it: a truncated or swapped file is an error, not a silently different model.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from torch import nn

from advlib.data.pinned import sha256_of
from advlib.data.root import data_root, downloads_allowed
from advlib.errors import DataUnavailableError

INSTALL = ("make setup installs it; by hand: pip install setuptools==80.10.2, then pip install --no-deps "
           "robustbench==1.1.1 pyautoattack==0.2.0 gdown==5.1.0 geotorch==0.4.0 torchdiffeq==0.2.5")

# The published CIFAR-10 L-inf models the book's full scale evaluates, with the numbers
# their RobustBench entries give (model_info/cifar10/Linf/<name>.json, read in the
# RobustBench/robustbench repository): clean and AutoAttack accuracy in %, at eps = 8/255.
PUBLISHED_CIFAR10_LINF: dict[str, dict[str, object]] = {
    "Standard": {"architecture": "WideResNet-28-10", "clean_acc": 94.78, "autoattack_acc": 0.0},
    "Wong2020Fast": {"architecture": "ResNet-18", "clean_acc": 83.34, "autoattack_acc": 43.21},
    "Engstrom2019Robustness": {"architecture": "ResNet-50", "clean_acc": 87.03, "autoattack_acc": 49.25},
    "Rice2020Overfitting": {"architecture": "WideResNet-34-20", "clean_acc": 85.34, "autoattack_acc": 53.42},
}


def import_robustbench() -> ModuleType:
    """Import ``robustbench`` (see the module docstring for why it needs an alias), or raise
    an ImportError that says how to install it."""
    try:
        import pyautoattack
        import pyautoattack.state
    except ImportError as error:
        raise ImportError(f"the RobustBench model zoo needs pyautoattack: {INSTALL}") from error
    # robustbench.eval imports `autoattack` and `autoattack.state`: the same package under
    # the name its GitHub install uses
    sys.modules.setdefault("autoattack", pyautoattack)
    sys.modules.setdefault("autoattack.state", pyautoattack.state)
    try:
        return importlib.import_module("robustbench")
    except ImportError as error:
        raise ImportError(f"the RobustBench model zoo is not importable ({error}): {INSTALL}") from error


def zoo_models(dataset: str = "cifar10", threat_model: str = "Linf") -> list[str]:
    """The names the installed zoo knows for ``dataset`` and ``threat_model``."""
    import_robustbench()
    from robustbench.model_zoo import model_dicts
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    return sorted(model_dicts[BenchmarkDataset(dataset)][ThreatModel(threat_model)])


def checkpoint_path(name: str, dataset: str = "cifar10", threat_model: str = "Linf",
                    root: str | Path | None = None) -> Path:
    """Where the zoo keeps ``name``'s checkpoint under the data root."""
    return data_root(root) / "robustbench" / dataset / threat_model / f"{name}.pt"


def robustbench_model(name: str, *, dataset: str = "cifar10", threat_model: str = "Linf",
                      root: str | Path | None = None, download: bool | None = None) -> nn.Module:
    """A RobustBench model in eval mode, taking images in [0, 1] (the zoo's models include
    their own normalisation). Downloads the checkpoint into the data root if it is missing
    and downloads are allowed; otherwise, or if the download fails, raises
    :class:`~advlib.errors.DataUnavailableError` naming the file to provide."""
    known = zoo_models(dataset, threat_model)
    if name not in known:
        raise ValueError(f"{name!r} is not in RobustBench's {dataset} {threat_model} zoo; "
                         f"known models include {known[:8]}")
    from robustbench.utils import load_model

    path = checkpoint_path(name, dataset, threat_model, root)
    how = (f"Download RobustBench's checkpoint of {name} (robustbench.utils.load_model fetches it) "
           f"and save it as {path}.")
    if not path.exists() and not downloads_allowed(download):
        raise DataUnavailableError(f"RobustBench model {name}", path, how + " Downloading is off.")
    try:
        model = load_model(name, model_dir=str(path.parents[2]), dataset=dataset, threat_model=threat_model)
    except Exception as error:  # gdown, HTTP and hub failures all end in the same clear message
        if path.exists() and path.stat().st_size > 0 and not isinstance(error, OSError):
            raise  # the file is there: a loading error is a real error, not a missing file
        raise DataUnavailableError(f"RobustBench model {name}", path, how, cause=repr(error)) from error
    if path.exists():
        _verify_checksum(path)
    return model.eval()


def _verify_checksum(path: Path) -> None:
    """Record the checkpoint's SHA-256 on first use; afterwards insist on it."""
    actual = sha256_of(path)
    record = path.with_name(path.name + ".sha256")
    if not record.exists():
        record.write_text(actual + "\n")
        return
    expected = record.read_text().split()[0]
    if actual != expected:
        raise ValueError(f"{path} has SHA-256 {actual}, but {expected} was recorded when it was first "
                         f"loaded ({record}); the file changed. Delete both to fetch it again.")
