"""The library's layers: no import runs from a lower layer up to a higher one.

``advlib`` is a stack. At the bottom, errors and helpers; then data, models, attacks; then
training, evaluation, transfer and the recipes; then one subpackage per chapter topic, side by
side; on top the reproduction machinery and the command line. A chapter's topic may use
everything below it but not another topic, and nothing below a topic may know it exists. The
test reads every module's absolute ``advlib`` imports (top-level and the lazy ones inside
functions) with ``ast``, so it also sees an import that only runs on one code path; relative
imports are refused, so none slips past. It cannot see ``advlib.x`` reached as an attribute
after ``import advlib``, which the library uses only for ``advlib.seed_everything``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "advlib"

# Every top-level module or subpackage of advlib, by layer. A unit may import every lower layer;
# within its own layer, a topic (layer 5) only itself, any other unit every unit of the layer.
LAYERS: dict[str, int] = {
    "advlib": 0, "errors": 0, "utils": 0, "distributed": 0, "plot": 0,
    "data": 1,
    "models": 2,
    "attacks": 3,
    "train_cache": 4, "train": 4, "evaluate": 4, "intervals": 4, "transfer": 4, "recipes": 4,
    "robustness": 5, "perception": 5, "generalization": 5, "faces": 5, "captcha": 5, "debias": 5, "patches": 5,
    "repro": 6, "cli": 6,
}
TOPIC_LAYER = 5
# The chapter each topic subpackage serves (its docstring says so).
TOPIC_CHAPTERS = {"robustness": 2, "perception": 3, "generalization": 4, "faces": 5, "captcha": 6, "debias": 7,
                  "patches": 8}


def unit_of(module: str) -> str:
    """``advlib.robustness.worst_case`` -> ``robustness``; ``advlib`` -> ``advlib``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imported_modules(source: str) -> list[str]:
    """Every ``advlib`` module a source file imports, anywhere in the file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            found.append(f"relative import (level {node.level}) of {node.module or '.'}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "advlib":  # from advlib import x: x is the unit
                found += [f"advlib.{alias.name}" for alias in node.names]
            elif node.module.startswith("advlib."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name == "advlib" or alias.name.startswith("advlib.")]
    return found


def layering_violations(importer: str, imported: list[str]) -> list[str]:
    """The imports of unit ``importer`` that run upward, or sideways from one topic to another."""
    problems = []
    for module in imported:
        if module.startswith("relative import"):
            problems.append(f"{importer}: {module}; write it as an absolute advlib import")
            continue
        target = unit_of(module)
        if target == importer or target not in LAYERS:  # advlib.__version__ and the like
            continue
        if LAYERS[target] > LAYERS[importer]:
            problems.append(f"{importer} (layer {LAYERS[importer]}) imports {module} (layer {LAYERS[target]})")
        elif LAYERS[target] == LAYERS[importer] == TOPIC_LAYER:
            problems.append(f"topic {importer} imports another topic's {module}")
    return problems


def library_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_top_level_unit_has_a_layer():
    units = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    units |= {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert units - set(LAYERS) == set(), "place the new module in LAYERS"
    assert set(LAYERS) - units - {"advlib"} == set(), "LAYERS names a unit that no longer exists"


@pytest.mark.parametrize("path", library_modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_import_runs_upward(path: Path):
    relative = path.relative_to(PACKAGE)
    importer = "advlib" if relative.name == "__init__.py" and len(relative.parts) == 1 else (
        relative.parts[0] if len(relative.parts) > 1 else relative.stem)
    assert layering_violations(importer, imported_modules(path.read_text())) == []


@pytest.mark.parametrize("topic", sorted(TOPIC_CHAPTERS))
def test_every_topic_package_says_which_chapter_uses_it(topic: str):
    docstring = ast.get_docstring(ast.parse((PACKAGE / topic / "__init__.py").read_text())) or ""
    assert re.search(rf"\bchapter {TOPIC_CHAPTERS[topic]}\b", docstring), docstring[:200]


def test_the_checker_flags_upward_and_sideways_imports():
    source = "from advlib.models import SmallCNN\ndef f():\n    from advlib.debias import FlipAttack\n"
    assert imported_modules(source) == ["advlib.models", "advlib.debias"]
    assert layering_violations("data", imported_modules(source)) == [
        "data (layer 1) imports advlib.models (layer 2)", "data (layer 1) imports advlib.debias (layer 5)"]
    assert layering_violations("captcha", ["advlib.debias.training"]) == [
        "topic captcha imports another topic's advlib.debias.training"]
    assert layering_violations("debias", ["advlib.debias.fairness", "advlib.attacks", "advlib.utils"]) == []
    assert imported_modules("from advlib import attacks as A, __version__\nimport advlib.data\n") == [
        "advlib.attacks", "advlib.__version__", "advlib.data"]
    assert layering_violations("data", imported_modules("from ..models import SmallCNN\n")) == [
        "data: relative import (level 2) of models; write it as an absolute advlib import"]
