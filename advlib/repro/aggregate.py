"""Mean +- std over seeds: the sweep's report, judged on the mean with the spread shown.

Papers report repeated runs as mean +- std (G2LVAP: 28.49 +- 2.30 over 10 placements). A
sweep runs each (chapter, parameter set) with several seeds; this module groups their
records, summarises every result over the seeds, judges each target on the mean (with
:func:`advlib.repro.ledger.judge`, the single-run judge, so the two cannot drift apart)
and says on how many seeds it held on its own, so a verdict carried by one lucky seed shows.

The standard deviation is the sample one (``ddof=1``, what papers mean by "+- std over n
runs"); with one seed it is undefined and shown as such, never as 0.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from advlib.repro.ledger import CATEGORIES, count, format_measured, judge
from advlib.repro.spec import get_chapter


@dataclass(frozen=True)
class Summary:
    """One result over seeds: the per-seed values (by seed) and their mean, std and n."""

    values: Mapping[int, float]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values.values())

    @property
    def std(self) -> float:
        """Sample standard deviation; NaN with a single seed (undefined, not zero)."""
        return statistics.stdev(self.values.values()) if self.n > 1 else math.nan

    def describe(self) -> str:
        """``0.512 +- 0.013 (n=3)``; the spread of one seed is written as undefined."""
        spread = "undefined" if self.n < 2 else format_measured(self.std)
        return f"{format_measured(self.mean)} ± {spread} (n={self.n})"

    def as_json(self) -> dict[str, Any]:
        std = self.std
        return {"mean": self.mean, "std": None if math.isnan(std) else std, "n": self.n,
                "per_seed": {str(seed): value for seed, value in sorted(self.values.items())}}


def summarise(records: Sequence[Mapping[str, Any]]) -> dict[str, Summary]:
    """Every result key over the records (one per seed): key -> :class:`Summary`.

    A key undefined in some seeds' runs (NaN on a tiny smoke run) is summarised over the
    seeds that defined it; ``n`` says how many.
    """
    seeds = [record["parameters"]["seed"] for record in records]
    repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1})
    if repeated:
        raise ValueError(f"seeds {repeated} appear more than once in one group of runs")
    values: dict[str, dict[int, float]] = {}
    for record in records:
        for key, value in record["results"].items():
            values.setdefault(key, {})[record["parameters"]["seed"]] = float(value)
    return {key: Summary(per_seed) for key, per_seed in sorted(values.items())}


def judge_group(slug: str, scale: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ledger of one group of seeds: each target judged on the mean, with the spread,
    n, the per-seed values and on how many seeds the target held on its own."""
    return _judge_summaries(slug, scale, summarise(records))


def _judge_summaries(slug: str, scale: str, summaries: Mapping[str, Summary]) -> list[dict[str, Any]]:
    chapter = get_chapter(slug)
    rows = judge(chapter, {key: summary.mean for key, summary in summaries.items()}, scale)
    targets = {target.key: target for target in chapter.targets.get(scale, ())}
    for row in rows:
        summary = summaries.get(row["key"])
        if summary is None:
            row.update(std=None, n=0, per_seed={}, seeds_holding=0)
            continue
        row.update(summary.as_json())
        row["seeds_holding"] = sum(targets[row["key"]].holds(value) for value in summary.values.values())
    return rows


def group_label(slug: str, varied: Mapping[str, Any]) -> str:
    """``01_adversarial_examples`` or ``01_adversarial_examples (eps=0.1, n_eval=100)``."""
    if not varied:
        return slug
    return f"{slug} ({', '.join(f'{name}={value}' for name, value in sorted(varied.items()))})"


def aggregate(scale: str, groups: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The sweep report from groups ``label -> {"chapter", "varied", "records"}``.

    Returns plain JSON: per group the chapter, its non-default parameters, the seeds, the
    judged rows (mean, std, n, per-seed values) and every result's summary.
    """
    report: dict[str, Any] = {"scale": scale, "groups": {}}
    for label, group in groups.items():
        records = group["records"]
        summaries = summarise(records)
        report["groups"][label] = {
            "chapter": group["chapter"],
            "varied": dict(group["varied"]),
            "seeds": sorted(record["parameters"]["seed"] for record in records),
            "ledger": _judge_summaries(group["chapter"], scale, summaries),
            "results": {key: summary.as_json() for key, summary in summaries.items()},
        }
    return report


def render_markdown(report: Mapping[str, Any], *, per_seed: bool = False) -> str:
    """The sweep report as markdown: counts per category (judged on the mean), then per
    group each target as mean +- std (n) and on how many seeds it held; ``per_seed`` adds
    every seed's value."""
    rows = [row for group in report["groups"].values() for row in group["ledger"]]
    totals = count(rows)
    lines = [
        f"Scale `{report['scale']}`; every target is judged on its mean over the seeds, with the sample "
        "standard deviation and the number of seeds (n) beside it.",
        "",
        "| category (judged on the mean) | targets |",
        "|---|---|",
    ]
    lines += [f"| {CATEGORIES[name]} | {totals[name]} |" for name in CATEGORIES
              if name not in ("missing", "inconclusive") or totals[name]]
    lines.append("")
    for label, group in report["groups"].items():
        lines += [f"## {label}", "", f"Seeds: {', '.join(map(str, group['seeds']))}.", ""]
        for row in group["ledger"]:
            if row["n"] == 0:
                lines.append(f"- `{row['key']}`: expected {row['expected']}, not measured: **missing**.")
                continue
            summary = summary_from_json(row)
            verdict = row["category"] if row["holds"] else f"**{row['category']}**"
            line = (f"- `{row['key']}`: expected {row['expected']}, measured {summary.describe()}: {verdict}; "
                    f"holds on {row['seeds_holding']} of {row['n']} seeds.")
            lines.append(line + (_per_seed_text(row) if per_seed else ""))
        judged = {row["key"] for row in group["ledger"]}
        others = {key: summary for key, summary in group["results"].items() if key not in judged}
        if others:
            lines += ["", "Results without a target at this scale:", ""]
            for key, summary in others.items():
                line = f"- `{key}`: {summary_from_json(summary).describe()}."
                lines.append(line + (_per_seed_text(summary) if per_seed else ""))
        lines.append("")
    return "\n".join(lines)


def _per_seed_text(payload: Mapping[str, Any]) -> str:
    values = ", ".join(f"{seed}: {format_measured(value)}" for seed, value in payload["per_seed"].items())
    return f" Per seed: {values}."


def summary_from_json(payload: Mapping[str, Any]) -> Summary:
    """A :class:`Summary` back from its JSON form (:meth:`Summary.as_json`)."""
    return Summary({int(seed): value for seed, value in payload["per_seed"].items()})
