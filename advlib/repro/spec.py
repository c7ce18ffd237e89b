"""What each chapter accepts (typed parameters with their allowed values) and what it must
reproduce (targets with provenance).

This module is the single source of truth for parameter validation: the chapter's own
validation cell calls :func:`check_parameters`, and ``advlib run``/``advlib reproduce`` call
it before any work starts. A test checks that every notebook's ``parameters`` cell declares
exactly these names with these defaults.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from advlib.data.registry import SCALES

CHAPTERS_DIR = Path(__file__).resolve().parents[2] / "chapters"


@dataclass(frozen=True)
class Parameter:
    """A papermill parameter: name, type, default and what values are allowed."""

    name: str
    kind: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None

    def allowed(self) -> str:
        if self.choices is not None:
            return f"one of {list(self.choices)}"
        if self.pattern is not None:
            return f"a {self.kind.__name__} matching {self.pattern!r}"
        bounds = []
        if self.minimum is not None:
            bounds.append(f">= {self.minimum}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum}")
        return f"a {self.kind.__name__}" + (f" {' and '.join(bounds)}" if bounds else "")

    def check(self, value: Any) -> Any:
        """Return the value (ints accepted for floats) or raise a ValueError that names the
        parameter, the bad value and what is allowed."""
        ok = isinstance(value, self.kind) and not (self.kind is not bool and isinstance(value, bool))
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if ok and self.kind is float and not math.isfinite(value):
            ok = False
        if ok and self.choices is not None:
            ok = value in self.choices
        if ok and self.minimum is not None:
            ok = value >= self.minimum
        if ok and self.maximum is not None:
            ok = value <= self.maximum
        if ok and self.pattern is not None:
            ok = re.fullmatch(self.pattern, value) is not None
        if not ok:
            raise ValueError(f"parameter {self.name!r} got {value!r}; allowed: {self.allowed()}")
        return value


SOURCE_KINDS: dict[str, str] = {
    "talk": "a seed talk (S0: Sang's slides; S3: Fu's talk notes)",
    "read": "a text read in full (S1: the G2LVAP paper; S2: Tao's survey)",
    "abstract": "a paper's abstract only (its body was not read)",
    "readme": "a repository's README or code",
    "data": "recomputed here from published raw data",
    "design": "this book's own claim about its run",
}
"""Where an expectation comes from. The distinction matters to a reader: a number from the
talk, a sentence from an abstract and a line of a README carry different weight, and the
book never states what an unread paper contains."""


@dataclass(frozen=True)
class Source:
    """Where a target's expectation comes from: ``kind`` (a key of :data:`SOURCE_KINDS`),
    ``citation`` (who and where, e.g. "S2 survey, C4") and ``says`` (what that source states,
    in the book's words)."""

    kind: str
    citation: str
    says: str

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"source kind {self.kind!r} is not one of {sorted(SOURCE_KINDS)}")
        if self.kind == "design" and self.citation != "this book":
            raise ValueError("a design source is this book's own claim: cite it as 'this book'")
        if not self.says:
            raise ValueError("a source must say what it states")

    def describe(self) -> str:
        return f"{self.citation} ({self.kind}): {self.says}"


def talk(citation: str, says: str) -> Source:
    return Source("talk", citation, says)


def read(citation: str, says: str) -> Source:
    return Source("read", citation, says)


def abstract(citation: str, says: str) -> Source:
    return Source("abstract", citation, says)


def readme(citation: str, says: str) -> Source:
    return Source("readme", citation, says)


def data(citation: str, says: str) -> Source:
    return Source("data", citation, says)


def design(says: str) -> Source:
    return Source("design", "this book", says)


RELATIONS = ("<", ">", "<=", ">=", "~=")
# What a chapter's text may say of a target whose interval straddles its bound.
INCONCLUSIVE = "inconclusive"
# What a chapter's text may say of a claim that its run does not show: the interval does not
# lie wholly on the claimed side (it straddles the bound, or lies on the other side). A text
# that glues a reading of the interval may say more in each run ("no gain", "worse"), but what
# it pins is only this, so it stays true where another processor's float rounding trains
# another network and moves the interval's bound across the claim's.
NOT_SHOWN = "not shown"
# What a chapter's text may say of a comparison that goes either way between processors: it
# glues this run's reading of the interval ("lies above zero: ...", "contains zero: ...") and
# pins no side. Any outcome agrees with such a text, so finish_chapter refuses the target
# without an interval: the reading must come from an interval, never from a point value.
READ_FROM_RUN = "read from the run"
EXPECTATIONS = (True, False, INCONCLUSIVE, NOT_SHOWN, READ_FROM_RUN)


@dataclass(frozen=True)
class Target:
    """A result a chapter records and judges.

    ``relation`` is one of "<", ">", "<=", ">=" (a direction or a threshold, e.g. accuracy
    under PGD < 0.05) or "~=" (a number within ``tolerance``). ``source`` says where the
    expectation comes from. ``expect`` is what the chapter's text states about this target
    at this scale: True when the text says it holds, False when the text reports it as not
    reproduced, ``INCONCLUSIVE`` when the text says this scale cannot decide it (its
    interval straddles the bound, see :meth:`verdict`), ``NOT_SHOWN`` when the text says only
    that the run does not show it (inconclusive or not reproduced), ``READ_FROM_RUN`` when
    the text glues the run's reading of the target's interval and pins no side. At class scale the notebook asserts
    that the outcome agrees with the text, so a rerun that flips a sentence's truth fails
    loudly instead of leaving it false.
    """

    key: str
    relation: str
    value: float
    source: Source
    tolerance: float = 0.0
    expect: bool | str = True

    def __post_init__(self) -> None:
        if self.relation not in RELATIONS:
            raise ValueError(f"target {self.key!r}: relation {self.relation!r} is not one of {RELATIONS}")
        if (self.relation == "~=") != (self.tolerance > 0):
            raise ValueError(f"target {self.key!r}: a tolerance belongs to '~=' and only to it")
        if self.expect not in EXPECTATIONS:
            raise ValueError(f"target {self.key!r}: expect must be one of {EXPECTATIONS}, got {self.expect!r}")

    def holds(self, measured: float) -> bool:
        if self.relation == "<":
            return measured < self.value
        if self.relation == ">":
            return measured > self.value
        if self.relation == "<=":
            return measured <= self.value
        if self.relation == ">=":
            return measured >= self.value
        return abs(measured - self.value) <= self.tolerance

    def verdict(self, measured: float, interval: tuple[float, float] | None = None) -> bool | None:
        """Whether the target holds: on the point value alone where there is no interval;
        with a (low, high) interval, True only when the whole interval lies on the claimed
        side (for "~=": inside the tolerance band), False when it lies wholly on the other
        side, None (inconclusive) when it straddles a bound."""
        if interval is None:
            return self.holds(measured)
        low, high = interval
        if not low - 1e-6 <= measured <= high + 1e-6:  # float32 rounding of the value apart
            raise ValueError(f"target {self.key!r}: the value {measured} lies outside its interval [{low}, {high}]")
        if self.relation == "~=":
            lowest, highest = self.value - self.tolerance, self.value + self.tolerance
            if lowest <= low and high <= highest:
                return True
            return False if high < lowest or low > highest else None
        at_low, at_high = self.holds(low), self.holds(high)
        return at_low if at_low == at_high else None

    def describe(self) -> str:
        if self.relation == "~=":
            return f"{self.value:g} ± {self.tolerance:g}"
        return f"{self.relation} {self.value:g}"


@dataclass(frozen=True)
class Chapter:
    slug: str
    title: str
    parameters: tuple[Parameter, ...]
    targets: Mapping[str, tuple[Target, ...]] = field(default_factory=dict)  # by scale
    # The parameters of the chapter's reference run besides scale=reference (more test items,
    # seeds, steps); None: the chapter has no reference run.
    reference: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.reference is not None:
            known = {parameter.name for parameter in self.parameters} - {"scale", "results_dir"}
            if set(self.reference) - known:
                raise ValueError(f"chapter {self.slug}: reference parameters {sorted(set(self.reference) - known)} "
                                 f"are not among its parameters {sorted(known)}")
        for scale, targets in self.targets.items():
            keys = [target.key for target in targets]
            repeated = sorted({key for key in keys if keys.count(key) > 1})
            if repeated:
                raise ValueError(f"chapter {self.slug}: targets {repeated} appear twice at scale {scale!r}")

    @property
    def notebook(self) -> Path:
        return CHAPTERS_DIR / f"{self.slug}.ipynb"

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        raise KeyError(name)


COMMON = (
    Parameter("scale", str, "class", "how big a run: smoke (seconds), class (minutes on a CPU), reference (the "
              "chapter's declared reference run on a CPU, e.g. the full MNIST), full (a GPU and the papers' data)",
              choices=SCALES),
    Parameter("device", str, "auto", "auto, cpu, cuda, cuda:N or mps", pattern=r"auto|cpu|mps|cuda(:\d+)?"),
    Parameter("seed", int, 0, "seed for data order, initial weights and random starts", minimum=0),
    Parameter("results_dir", str, "../runs", "where the results record (JSON) is written, per scale"),
)

_CHAPTERS: dict[str, Chapter] = {}


def register(chapter: Chapter) -> Chapter:
    _CHAPTERS[chapter.slug] = chapter
    return chapter


def chapters() -> tuple[Chapter, ...]:
    return tuple(_CHAPTERS[slug] for slug in sorted(_CHAPTERS))


def get_chapter(name: str) -> Chapter:
    """Find a chapter by slug ("01_adversarial_examples") or number ("01", "1")."""
    if name in _CHAPTERS:
        return _CHAPTERS[name]
    if name.isdigit():
        for slug, chapter in _CHAPTERS.items():
            if slug.split("_", 1)[0] == f"{int(name):02d}":
                return chapter
    raise ValueError(f"unknown chapter {name!r}; available: {sorted(_CHAPTERS)}")


def check_parameters(chapter: str | Chapter, values: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a full or partial set of parameter values for ``chapter``.

    Unknown names and bad values raise ``ValueError`` naming the parameter, the value and
    what is allowed. Returns the complete set, defaults filled in.
    """
    spec = get_chapter(chapter) if isinstance(chapter, str) else chapter
    known = {parameter.name for parameter in spec.parameters}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for chapter {spec.slug}; known: {sorted(known)}")
    checked = {}
    for parameter in spec.parameters:
        checked[parameter.name] = parameter.check(values.get(parameter.name, parameter.default))
    if checked.get("scale") == "reference" and spec.reference is None:
        with_reference = [chapter.slug for chapter in chapters() if chapter.reference is not None]
        raise ValueError(f"chapter {spec.slug} has no reference run; chapters with one: {with_reference}")
    return checked


def reference_parameters(chapter: Chapter) -> dict[str, Any]:
    """The parameters a chapter's reference run is executed with (besides its defaults)."""
    if chapter.reference is None:
        raise ValueError(f"chapter {chapter.slug} has no reference run")
    return {**chapter.reference, "scale": "reference"}


def parse_value(parameter: Parameter, text: str) -> Any:
    """Turn a command-line string into the parameter's type (``-p eps=0.3``)."""
    if parameter.kind is bool:
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"parameter {parameter.name!r} got {text!r}; allowed: true or false")
    if parameter.kind in (int, float):
        try:
            return parameter.kind(text)
        except ValueError:
            raise ValueError(f"parameter {parameter.name!r} got {text!r}; allowed: {parameter.allowed()}") from None
    return text
