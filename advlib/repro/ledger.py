"""The ledger: every target of a run, judged and sorted by the kind of evidence it is.

"27 of 32 reproduced" mixes things a reader must keep apart: a paper's number matched within
a tolerance, the direction of a published claim seen on a class-scale proxy, the book's own
statements about its run, a value recomputed from the very data it was published from, and
what did not reproduce. The ledger keeps one category per target and counts each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from advlib.repro.spec import Chapter, Target

CATEGORIES: dict[str, str] = {
    "reproduced": "a published number, reproduced within the stated tolerance",
    "direction": "the direction of a published claim, reproduced on this scale's proxy",
    "own claim": "the book's own claim about its run, checked",
    "recomputed": "recomputed from published data (shown, not counted as a reproduction)",
    "not reproduced": "not reproduced, or an own claim that does not hold",
    "missing": "not measured in this run",
}


def category(target: Target, measured: float | None) -> str:
    """The ledger category of one target given its measured value (None: not measured)."""
    if measured is None or not math.isfinite(measured):
        return "missing"
    if not target.holds(measured):
        return "not reproduced"
    if target.source.kind == "design":
        return "own claim"
    if target.source.kind == "data":
        return "recomputed"
    return "reproduced" if target.relation == "~=" else "direction"


def judge(chapter: Chapter, results: Mapping[str, float], scale: str) -> list[dict[str, Any]]:
    """One row per target of ``chapter`` at ``scale``: what was expected, from which source,
    what was measured, whether it holds, whether the chapter's text says it holds, and the
    ledger category. Rows are plain JSON, so they travel inside the results record."""
    rows = []
    for target in chapter.targets.get(scale, ()):
        measured = results.get(target.key)
        holds = None if measured is None or not math.isfinite(measured) else target.holds(measured)
        rows.append({
            "key": target.key,
            "expected": target.describe(),
            "measured": measured,
            "holds": holds,
            "text_says_holds": target.expect,
            "category": category(target, measured),
            "source_kind": target.source.kind,
            "source": target.source.citation,
            "says": target.source.says,
        })
    return rows


def outcome(row: Mapping[str, Any]) -> str:
    """A ledger row's verdict in words: "holds", "does not hold" or "not measured"."""
    return {True: "holds", False: "does not hold", None: "not measured"}[row["holds"]]


def disagreements(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Targets whose outcome contradicts what the chapter's text says about them (or that
    were not measured): each one is a sentence of the book that this run makes false."""
    problems = []
    for row in rows:
        if row["holds"] is None:
            problems.append(f"{row['key']}: not measured (expected {row['expected']})")
        elif row["holds"] != row["text_says_holds"]:
            said = "holds" if row["text_says_holds"] else "does not hold"
            problems.append(
                f"{row['key']}: the text says it {said}, but measured {row['measured']:.4g} vs {row['expected']}"
            )
    return problems


def count(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many targets fall into each category (every category listed, zeros included)."""
    return {name: sum(row["category"] == name for row in rows) for name in CATEGORIES}


def label(slug: str, key: str) -> str:
    """The cross-reference label of one ledger entry; ``{claim}`` roles in a chapter link to it."""
    return f"ledger-{slug}-{key}".replace("_", "-").lower()


def format_measured(value: float | None) -> str:
    """Three decimals, or three significant digits for small non-zero values (1e-5 is not 0.000)."""
    if value is None:
        return "not measured"
    if abs(value) < 1e-12:  # floating-point residue of a difference of equal means
        value = 0.0
    return f"{value:.3g}" if value != 0 and abs(value) < 0.001 else f"{value:.3f}"


def render_markdown(scale: str, records: Mapping[str, Mapping[str, Any]]) -> str:
    """The reproduction report as markdown, from the records embedded in executed notebooks.

    First the count per category, then per chapter one labelled entry per target (a list,
    not a wide table, so the sources read well on narrow pages), then how each chapter ran.
    """
    all_rows = [row for record in records.values() for row in record["ledger"]]
    totals = count(all_rows)
    lines = [
        f"Scale `{scale}`. Rendered by `advlib reproduce` from the results records embedded in the executed",
        "notebooks, so every value below is the one the chapter pages show.",
        "",
        "| category | targets |",
        "|---|---|",
    ]
    lines += [f"| {CATEGORIES[name]} | {totals[name]} |" for name in CATEGORIES if name != "missing" or totals[name]]
    lines.append("")
    for slug, record in records.items():
        lines += [f"## {slug}", ""]
        for row in record["ledger"]:
            verdict = row["category"] if row["holds"] else f"**{row['category']}**"
            if row["holds"] is False and not row["text_says_holds"]:
                verdict += " (the chapter says so)"
            lines += [
                f"- ({label(slug, row['key'])})=",
                f"  `{row['key']}`: expected {row['expected']}, measured {format_measured(row['measured'])}: "
                f"{verdict}. *Source: {row['source']} ({row['source_kind']}): {row['says']}.*",
            ]
        lines.append("")
    lines += ["## Runs", "", "| chapter | run time (s) | hardware | torch | seed |", "|---|---|---|---|---|"]
    for slug, record in records.items():
        environment = record["environment"]
        hardware = environment["cuda"] or f"CPU, {environment['cpu_threads']} threads"
        lines.append(
            f"| {slug} | {record['seconds']} | {hardware} | {environment['torch']} | {record['parameters']['seed']} |"
        )
    lines.append("")
    return "\n".join(lines)
