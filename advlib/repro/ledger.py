"""The ledger: every target of a run, judged and sorted by the kind of evidence it is.

"27 of 32 reproduced" mixes things a reader must keep apart: a paper's number matched within
a tolerance, the direction of a published claim seen on a class-scale proxy, the book's own
statements about its run, a value recomputed from the very data it was published from, and
what did not reproduce. The ledger keeps one category per target and counts each.

A result measured with a bootstrap interval (:mod:`advlib.intervals`) is judged on the
interval: it holds only when the whole interval lies on the claimed side, and it is
"inconclusive" when the interval straddles the bound, whatever side the point value is on.
A result without an interval is judged on its value, as before; its row has no interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from advlib.repro.spec import INCONCLUSIVE, NOT_SHOWN, READ_FROM_RUN, Chapter, Target

CATEGORIES: dict[str, str] = {
    "reproduced": "a published number, reproduced within the stated tolerance",
    "direction": "the direction of a published claim, reproduced on this scale's proxy",
    "own claim": "the book's own claim about its run, checked",
    "recomputed": "recomputed from published data (shown, not counted as a reproduction)",
    "inconclusive": "its 95 % interval straddles the bound: this scale cannot decide it",
    "not reproduced": "not reproduced, or an own claim that does not hold",
    "missing": "not measured in this run",
}


def category(target: Target, measured: float | None, interval: tuple[float, float] | None = None) -> str:
    """The ledger category of one target given its measured value (None: not measured) and,
    where it was measured with one, its interval."""
    if measured is None or not math.isfinite(measured):
        return "missing"
    verdict = target.verdict(measured, interval)
    if verdict is None:
        return "inconclusive"
    if not verdict:
        return "not reproduced"
    if target.source.kind == "design":
        return "own claim"
    if target.source.kind == "data":
        return "recomputed"
    return "reproduced" if target.relation == "~=" else "direction"


def judge(chapter: Chapter, results: Mapping[str, float], scale: str,
          intervals: Mapping[str, Sequence[float]] | None = None) -> list[dict[str, Any]]:
    """One row per target of ``chapter`` at ``scale``: what was expected, from which source,
    what was measured (with its ``[low, high]`` interval where ``intervals`` has one), whether
    it holds (None: not measured, or inconclusive), whether the chapter's text says it holds,
    and the ledger category. Rows are plain JSON, so they travel inside the results record."""
    intervals = intervals or {}
    rows = []
    for target in chapter.targets.get(scale, ()):
        measured = results.get(target.key)
        interval = tuple(intervals[target.key]) if target.key in intervals else None
        finite = measured is not None and math.isfinite(measured)
        holds = target.verdict(measured, interval) if finite else None
        row: dict[str, Any] = {
            "key": target.key,
            "expected": target.describe(),
            "measured": measured,
            "holds": holds,
            "text_says_holds": target.expect,
            "category": category(target, measured, interval if finite else None),
            "source_kind": target.source.kind,
            "source": target.source.citation,
            "says": target.source.says,
        }
        if interval is not None and finite:
            row["interval"] = list(interval)
        rows.append(row)
    return rows


def outcome(row: Mapping[str, Any]) -> str:
    """A ledger row's verdict in words: "holds", "does not hold", "inconclusive" or "not measured"."""
    if row["holds"] is None:
        return "not measured" if row["measured"] is None or row["category"] == "missing" else INCONCLUSIVE
    return {True: "holds", False: "does not hold"}[row["holds"]]


def _said(expect: bool | str) -> str:
    return {True: "holds", False: "does not hold", NOT_SHOWN: "is not shown",
            READ_FROM_RUN: "reads as this run's interval shows"}.get(expect, "is inconclusive")


def agrees_with_text(row: Mapping[str, Any]) -> bool:
    """Whether a measured row's outcome is what the chapter's text says of it (a text that says
    "not shown" agrees with any outcome but "holds"; one that glues the run's reading of the
    interval agrees with any outcome)."""
    if row["text_says_holds"] == READ_FROM_RUN:
        return True
    if row["text_says_holds"] == NOT_SHOWN:
        return row["holds"] is not True
    return (INCONCLUSIVE if row["holds"] is None else row["holds"]) == row["text_says_holds"]


def disagreements(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Targets whose outcome contradicts what the chapter's text says about them (or that
    were not measured): each one is a sentence of the book that this run makes false."""
    problems = []
    for row in rows:
        found = outcome(row)
        if found == "not measured":
            problems.append(f"{row['key']}: not measured (expected {row['expected']})")
        elif not agrees_with_text(row):
            problems.append(
                f"{row['key']}: the text says it {_said(row['text_says_holds'])}, but measured "
                f"{_measured_text(row)} vs {row['expected']}: {found}"
            )
    return problems


def _measured_text(row: Mapping[str, Any]) -> str:
    """The measured value, with its interval where the row has one."""
    text = f"{row['measured']:.4g}"
    if "interval" in row:
        text += f" [{row['interval'][0]:.4g}, {row['interval'][1]:.4g}]"
    return text


def count(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many targets fall into each category (every category listed, zeros included)."""
    return {name: sum(row["category"] == name for row in rows) for name in CATEGORIES}


def label(slug: str, key: str, scale: str = "class") -> str:
    """The cross-reference label of one ledger entry; ``{claim}`` roles in a chapter link to it
    (in a reference run's page, to the entry of the reference report)."""
    prefix = "ledger" if scale == "class" else f"ledger-{scale}"
    return f"{prefix}-{slug}-{key}".replace("_", "-").lower()


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
    # "missing" and "inconclusive" appear only where some target is: a report without
    # intervals has no inconclusive targets to count, which is not the same as zero
    lines += [f"| {CATEGORIES[name]} | {totals[name]} |" for name in CATEGORIES
              if name not in ("missing", "inconclusive") or totals[name]]
    lines.append("")
    for slug, record in records.items():
        lines += [f"## {slug}", ""]
        for row in record["ledger"]:
            verdict = row["category"] if row["holds"] else f"**{row['category']}**"
            if row["holds"] is not True and row["category"] != "missing" and agrees_with_text(row):
                verdict += " (the chapter says so)"
            measured = format_measured(row["measured"])
            if "interval" in row:
                low, high = (format_measured(limit) for limit in row["interval"])
                measured += f" (95 % interval {low} to {high})"
            lines += [
                f"- ({label(slug, row['key'], scale)})=",
                f"  `{row['key']}`: expected {row['expected']}, measured {measured}: "
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


def _cell(row: Mapping[str, Any] | None) -> str:
    """One scale's outcome of a target in a side-by-side table: value, interval, category."""
    if row is None:
        return "not a target here"
    text = format_measured(row["measured"])
    if "interval" in row:
        low, high = (format_measured(limit) for limit in row["interval"])
        text += f" ({low} to {high})"
    return f"{text}: {row['category'] if row['holds'] else '**' + row['category'] + '**'}"


def render_side_by_side(records_by_scale: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """The scales' reports side by side, for the chapters that every scale ran.

    One count per category and scale over those chapters, then per chapter one row per target
    (the union of the scales' targets, in the order the first scale lists them) with each
    scale's value, 95 % interval where it has one, and category. The point is the change: a
    comparison that the class run leaves inconclusive and the reference run decides, or a claim
    that holds in one run and not in the other. A larger scale may also train other models (more
    data), so a change need not be precision alone.
    """
    scales = list(records_by_scale)
    if len(scales) < 2:
        raise ValueError(f"a side-by-side report needs two scales or more, got {scales}")
    slugs = [slug for slug in records_by_scale[scales[-1]] if all(slug in records_by_scale[s] for s in scales)]
    lines = ["| category | " + " | ".join(scales) + " |", "|---|" + "---|" * len(scales)]
    totals = {scale: count([row for slug in slugs for row in records_by_scale[scale][slug]["ledger"]])
              for scale in scales}
    lines += [f"| {CATEGORIES[name]} | " + " | ".join(str(totals[scale][name]) for scale in scales) + " |"
              for name in CATEGORIES if any(totals[scale][name] for scale in scales)]
    lines.append("")
    for slug in slugs:
        rows = {scale: {row["key"]: row for row in records_by_scale[scale][slug]["ledger"]} for scale in scales}
        keys = list(dict.fromkeys(key for scale in scales for key in rows[scale]))
        lines += [f"### {slug}", "", "| target | expected | " + " | ".join(scales) + " |",
                  "|---|---|" + "---|" * len(scales)]
        for key in keys:
            expected = next(rows[scale][key]["expected"] for scale in scales if key in rows[scale])
            lines.append(f"| `{key}` | {expected} | "
                         + " | ".join(_cell(rows[scale].get(key)) for scale in scales) + " |")
        lines.append("")
    return "\n".join(lines)
