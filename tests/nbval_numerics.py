"""A pytest plugin for nbval: compare a chapter's digits only where they can repeat.

nbval compares a chapter's result cells with the committed outputs. A rerun prints the same
digits only with the numerics of the run that published them (torch, processor, threads,
GPU, as the record embedded in the notebook names them): the same seed trains different
weights on another processor. Elsewhere this plugin turns the digit-by-digit comparison off
(a record that does not name its processor, written before the field existed, is compared
as before); the cells still run, and every chapter's last cells still fail if the run
contradicts a checked claim of its text. The test summary names the chapters not compared
and why.

Every chapter pins its CPU threads to at most 2 below full scale (the cell after its
parameters; ``tests/test_repro.py`` checks it), so that is the thread count its kernel gets here,
whatever this pytest process uses.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from advlib.repro.record import embedded_record, environment, numerics_differ

_NOT_COMPARED = pytest.StashKey[dict]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here, verdicts = None, {}
    for item in items:
        options = getattr(item, "options", None)
        if item.path.suffix != ".ipynb" or not isinstance(options, dict) or not options.get("check"):
            continue
        if item.path not in verdicts:
            here = here or {**environment("auto"), "cpu_threads": min(torch.get_num_threads(), 2)}
            verdicts[item.path] = _differences(item.path, here)
        if verdicts[item.path]:
            options["check"] = False
    config.stash[_NOT_COMPARED] = {path: why for path, why in verdicts.items() if why}


def _differences(notebook: Path, here: dict) -> list[str]:
    try:
        recorded = embedded_record(notebook)["environment"]
    except (ValueError, KeyError):  # not a chapter (no record): compare as nbval always does
        return []
    return numerics_differ(recorded, here)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    not_compared = config.stash.get(_NOT_COMPARED, {})
    if not_compared:
        terminalreporter.section("chapters run but not compared digit by digit")
        for path, why in sorted(not_compared.items()):
            terminalreporter.write_line(f"{path.name}: published with other numerics ({'; '.join(why)})")
