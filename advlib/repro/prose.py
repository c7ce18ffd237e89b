"""Checks that keep a chapter's prose true to its run.

A chapter's markdown may state a measured quantity only by pasting it from the executed
notebook (``{glue:text}`key:.2f```); a sentence that judges a result ("collapses", "a few
per cent", "beats") must name its check (``{claim}`key```, a target of the chapter) or its
source. These functions find what breaks those rules; ``tests/test_prose.py`` runs them on
every chapter, so a typed number or an unchecked verdict fails CI.

The rules, precisely:

* **Typed measurements.** A number with a decimal point, a per-cent sign or a ratio suffix
  ("5.3x") in prose must be glued, or sit in a sentence that names its source (a
  ``{cite}`` role, the talk, a seed S0-S4, the survey, a README or an abstract). Settings
  belong in math (``$\\epsilon = 0.1$``) or code. Plain integers (counts, sizes, years) are
  free.
* **Measured values typed anyway.** A number in prose that equals, at the precision written,
  a value the run recorded is an error even in a sourced sentence: it is the run's number,
  so it must be glued. Numbers with fewer than two significant digits are exempt (0.1 is too
  common a setting to be evidence); in math, where settings live (a chance level of 0.25, a
  threshold of 0.85), the rule starts at three significant digits, since two-digit settings
  coincide with two-digit results of a 100-image evaluation too often to mean anything.
* **Scale-dependent settings typed anyway.** A chapter names the settings that change with
  the scale (its budget at this scale, a number of steps or images) in ``finish_chapter``'s
  ``settings``; a number in prose or math that equals one of them is an error, since the text
  would be wrong at another scale: it must be glued. Single-digit integers are exempt (too
  common to mean the setting). A sourced sentence is not: "the talk's ... at 0.3" next to our
  budget of 0.3 reads as ours; a paper's own setting that equals one of ours is written so that
  it cannot be taken for it (in words, or as the paper writes it). A number written in words
  ("ten steps", "two thousand digits") counts too where the sentence names no source: words
  are how a sourced sentence keeps a paper's setting apart from ours, not a way round the rule.
* **Verdicts.** A sentence with a judging word (:data:`VERDICT_WORDS`) outside exercises and
  solutions must carry a ``{claim}`` role or name a source.
* **References.** Every ``{claim}`` names a target of the chapter at class scale; every glued
  key exists in the run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import nbformat

VERDICT_WORDS = (
    r"(?<!at )most(?! often)|mostly|almost(?! everywhere)|nearly|collaps(?:e|es|ed|ing)|a few per cent|invisible|"
    r"imperceptible|barely|hardly|stark(?:ly)?|beats?|outperforms?|better|worse|stronger|weaker|strongest|weakest|"
    r"far (?:less|more|below|above|lower|higher)|much (?:less|more|lower|higher|better|worse|smaller|larger)|"
    r"little|no longer|shrugs? off|defeats?|fools?|matches"
)
"""Words that judge a measured result; a sentence using one must be checked or sourced."""

_VERDICT = re.compile(rf"\b(?:{VERDICT_WORDS})\b", re.IGNORECASE)
_SOURCE = re.compile(r"⟨cite⟩|\btalk(?:'s)?\b|\bS[0-4]\b|\bsurvey(?:'s)?\b|\bREADME\b|\babstract\b", re.IGNORECASE)
_ROLE = re.compile(r"\{([a-z][a-z0-9:_-]*)\}`([^`]*)`")
_MATH_BLOCK = re.compile(r"\$\$.+?\$\$", re.DOTALL)
_MATH_INLINE = re.compile(r"(?<![\\$])\$(?!\$)[^$\n]+?(?<!\\)\$")
_CODE = re.compile(r"``?[^`\n]+?``?")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+")
_NUMBER = re.compile(
    r"(?<![\w.\-/^_])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s?%|\s?per cent|x(?![\w])(?!\s*\d)|×(?!\s*\d))?"
)
_ABBREVIATIONS = ("et al.", "e.g.", "i.e.", "vs.", "Fig.", "Eq.", "cf.", "etc.")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,}|:{3,})\s*(\{[^}]*\})?\s*(\S*)")


@dataclass(frozen=True)
class Block:
    """A run of markdown lines of one kind: "prose", "exercise", "solution", or "code"
    (a fenced code block; ``language`` set). ``label`` is the exercise's label or the
    exercise a solution answers; ``within`` is where a code block sits ("prose",
    "exercise" or "solution")."""

    kind: str
    text: str
    label: str = ""
    language: str = ""
    within: str = ""


def blocks(markdown: str) -> list[Block]:
    """Split MyST markdown into prose, exercise, solution and code blocks.

    Directive fences (```` ```{exercise} ````, ``:::{solution} label``) may nest code fences;
    option lines (``:label: x``) are dropped. A fence closes with the same character, at
    least as long, and no info string.
    """
    result: list[Block] = []
    stack: list[tuple[str, int, Block]] = []  # (fence char, length, open block) for directives/code
    current: list[str] = []

    def context() -> tuple[str, str]:
        for _, _, block in reversed(stack):
            if block.kind in ("exercise", "solution"):
                return block.kind, block.label
        return "prose", ""

    def flush() -> None:
        if "".join(current).strip():
            kind, label = context()
            result.append(Block(kind, "\n".join(current), label))
        current.clear()

    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        match = _FENCE.match(line)
        if match:
            fence, directive, info = match.group(2), match.group(3), match.group(4)
            char, length = fence[0], len(fence)
            if stack and stack[-1][0] == char and length >= stack[-1][1] and not directive and not info:
                opened = stack[-1][2]
                if opened.kind == "code":
                    stack.pop()
                    within, label = context()
                    result.append(Block("code", "\n".join(current), label, opened.language, within))
                    current.clear()
                else:
                    flush()
                    stack.pop()
                index += 1
                continue
            if not (stack and stack[-1][2].kind == "code"):
                flush()
                if directive:
                    name = directive.strip("{}").strip()
                    kind = name if name in ("exercise", "solution") else "directive"
                    label = info if kind == "solution" else ""
                    index += 1
                    while index < len(lines) and re.match(r"\s*:[a-z-]+:", lines[index]):
                        option = re.match(r"\s*:label:\s*(\S+)", lines[index])
                        if option and kind == "exercise":
                            label = option.group(1)
                        index += 1
                    stack.append((char, length, Block(kind, "", label)))
                    continue
                stack.append((char, length, Block("code", "", language=info)))
                index += 1
                continue
        current.append(line)
        index += 1
    flush()
    return result


def _protect(text: str) -> str:
    for abbreviation in _ABBREVIATIONS:
        text = text.replace(abbreviation, abbreviation.replace(".", "·"))
    return text


@dataclass(frozen=True)
class Sentence:
    """One sentence of prose, with markup replaced: glued values by ⟨glued⟩, citations by
    ⟨cite⟩, other roles by ⟨ref⟩, math by ⟨math⟩ and code by ⟨code⟩. ``claims`` are the
    ``{claim}`` keys, ``glued`` the glue keys, ``math`` the math it contained."""

    text: str
    kind: str
    claims: tuple[str, ...]
    glued: tuple[str, ...]
    math: tuple[str, ...]


def sentences(block: Block) -> list[Sentence]:
    """The sentences of a prose, exercise or solution block (paragraph by paragraph)."""
    found = []
    for paragraph in re.split(r"\n\s*\n", block.text):
        text = " ".join(line.strip() for line in paragraph.splitlines() if line.strip())
        text = re.sub(r"^#+\s*", "", text)
        math: list[str] = []

        def hide(match: re.Match, formulas: list[str] = math) -> str:
            formulas.append(match.group(0))
            return f"⟨math⟩\x01{len(formulas) - 1}\x01"

        text = _MATH_INLINE.sub(hide, _MATH_BLOCK.sub(hide, text))
        pieces = _ROLE.split(text)
        rebuilt, roles = [pieces[0]], []
        for name, content, rest in zip(pieces[1::3], pieces[2::3], pieces[3::3], strict=True):
            roles.append((name, content))
            marker = "⟨glued⟩" if name.startswith("glue") else "⟨cite⟩" if name.startswith("cite") else "⟨ref⟩"
            rebuilt += [f"{marker}\x00{len(roles) - 1}\x00", rest]
        text = _CODE.sub("⟨code⟩", "".join(rebuilt))
        text = _URL.sub("⟨url⟩", _LINK.sub(r"\1", text))
        text = re.sub(r"(?<=\s)-(?=\d)", "−", text).replace("*", "")  # emphasis is markup, not text
        for part in re.split(r"(?<=[.!?])\s+(?=[A-Z(⟨\[0-9])", _protect(text)):
            indices = [int(i) for i in re.findall(r"\x00(\d+)\x00", part)]
            claims = tuple(roles[i][1] for i in indices if roles[i][0] == "claim")
            glued = tuple(roles[i][1].split("::")[-1].rsplit(":", 1)[0] if roles[i][0] == "glue:text"
                          else roles[i][1] for i in indices if roles[i][0].startswith("glue"))
            in_part = tuple(math[int(i)] for i in re.findall(r"\x01(\d+)\x01", part))
            clean = re.sub(r"\x00\d+\x00|\x01\d+\x01", "", part).replace("·", ".")
            found.append(Sentence(clean, block.kind, claims, glued, in_part))
    return found


@dataclass(frozen=True)
class Literal:
    text: str
    value: float
    decimals: int
    measurement_like: bool
    suffix: str = ""  # "%", "per cent", "x" or "×": a share or a ratio

    @property
    def significant_digits(self) -> int:
        digits = re.sub(r"\D", "", self.text.split("%")[0].split("x")[0].split("×")[0].split("per")[0])
        return len(digits.lstrip("0"))


def literals(text: str) -> list[Literal]:
    """The numbers written in ``text`` (already stripped of markup)."""
    found = []
    for match in _NUMBER.finditer(text):
        whole, fraction, suffix = match.group(1), match.group(2) or "", match.group(3) or ""
        value = float(whole.replace(",", "") + fraction)
        found.append(Literal(match.group(0).strip(), value, max(len(fraction) - 1, 0), bool(fraction or suffix),
                             suffix.strip()))
    return found


_UNITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_WORD_VALUES = {word: value for value, word in enumerate(_UNITS)} | {
    word: 10 * (index + 2) for index, word in enumerate(_TENS)}
_NUMBER_WORD = rf"(?:{'|'.join(_WORD_VALUES)}|hundred|thousand)"
_WORDED = re.compile(
    rf"(?<![\w-])(?:an?[ ](?=(?:hundred|thousand)\b))?{_NUMBER_WORD}(?:[ -](?:and[ ])?{_NUMBER_WORD})*\b"
    r"(\s(?:per cent|percent))?(?!\w)",
    re.IGNORECASE,
)


def _worded_value(words: str) -> int:
    """The value of an English cardinal ("three hundred and twenty-five", "a thousand")."""
    total = current = 0
    for word in re.split(r"[ -]+", words.lower()):
        if word in ("a", "an", "and"):
            continue
        if word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total, current = total + max(current, 1) * 1000, 0
        else:
            current += _WORD_VALUES[word]
    return total + current


def worded_literals(text: str) -> list[Literal]:
    """The numbers written in words in ``text``, as literals without decimals ("per cent" kept
    as the suffix, so a share stays exempt like its digits)."""
    found = []
    for match in _WORDED.finditer(text):
        suffix = (match.group(1) or "").strip()
        words = match.group(0)[: len(match.group(0)) - len(match.group(1) or "")]
        found.append(Literal(match.group(0), float(_worded_value(words)), 0, False, suffix))
    return found


def _matches(literal: Literal, measured: float) -> bool:
    scale = 10 ** literal.decimals
    return any(abs(round(candidate * scale) - literal.value * scale) < 1e-6
               for candidate in (measured, 100 * measured))


def check_markdown(
    cells: Iterable[str], results: Mapping[str, float], glue_keys: Iterable[str] = (), claim_keys: Iterable[str] = (),
    settings: Mapping[str, float] | None = None,
) -> list[str]:
    """Every violation of the rules above in a chapter's markdown cells, as readable lines."""
    glue_keys, claim_keys, settings = set(glue_keys), set(claim_keys), dict(settings or {})
    problems: list[str] = []

    def setting_match(literal: Literal) -> str | None:
        if literal.suffix or (not literal.decimals and "." not in literal.text and literal.value < 10):
            return None  # a share, a ratio or a single digit
        return next((key for key, value in settings.items() if math.isclose(literal.value, value, rel_tol=1e-9)),
                    None)

    def measured_match(literal: Literal) -> str | None:
        if literal.significant_digits < 2:
            return None
        for key, value in results.items():
            if _matches(literal, value):
                return key
        return None

    for cell in cells:
        for block in blocks(cell):
            if block.kind == "code":
                continue
            for sentence in sentences(block):
                shown = sentence.text if len(sentence.text) < 160 else sentence.text[:157] + "..."
                sourced = bool(_SOURCE.search(sentence.text))
                for literal in literals(sentence.text):
                    setting = setting_match(literal)
                    if setting is not None:
                        problems.append(f"typed setting {literal.text!r} (= {setting}; glue it) in: {shown}")
                        continue
                    key = measured_match(literal) if literal.measurement_like else None
                    if key is not None:
                        problems.append(f"typed measured value {literal.text!r} (= {key}) in: {shown}")
                    elif literal.measurement_like and not sourced:
                        problems.append(f"typed number {literal.text!r} without glue or source in: {shown}")
                for literal in [] if sourced else worded_literals(sentence.text):
                    setting = setting_match(literal)
                    if setting is not None:
                        problems.append(f"typed setting {literal.text!r} in words (= {setting}; glue it) in: {shown}")
                for formula in sentence.math:
                    for literal in literals(re.sub(r"\\[a-zA-Z]+", " ", formula)):
                        setting = setting_match(literal)
                        if setting is not None:
                            problems.append(f"typed setting {literal.text!r} (= {setting}; glue it) in math: {formula}")
                            continue
                        key = measured_match(literal) if literal.significant_digits >= 3 else None
                        if key is not None and "." in literal.text:
                            problems.append(f"typed measured value {literal.text!r} (= {key}) in math: {formula}")
                if sentence.kind == "prose" and _VERDICT.search(sentence.text) and not sentence.claims and not sourced:
                    word = _VERDICT.search(sentence.text).group(0)
                    problems.append(f"verdict {word!r} without a {{claim}} or a source in: {shown}")
                problems += [f"unknown claim {claim!r} (not a class-scale target) in: {shown}"
                             for claim in sentence.claims if claim not in claim_keys]
                problems += [f"unknown glue key {key!r} in: {shown}" for key in sentence.glued if key not in glue_keys]
    return problems


def check_notebook(notebook: nbformat.NotebookNode, record: Mapping, claim_keys: Iterable[str]) -> list[str]:
    """:func:`check_markdown` on an executed chapter notebook: the keys it may paste are the
    ones actually glued in it, the values it must not type are its record's results and
    settings."""
    from advlib.repro.record import glued_values

    cells = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    return check_markdown(cells, record["results"], glued_values(notebook), claim_keys, record.get("settings"))


def solutions(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The Python code of every solution in the notebook's markdown, by exercise label."""
    found: dict[str, str] = {}
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for block in blocks(cell.source):
            if block.kind == "code" and block.within == "solution" and block.language == "python":
                found[block.label] = (found.get(block.label, "") + "\n" + block.text).strip()
    return found


def exercises(notebook: nbformat.NotebookNode) -> list[str]:
    """The labels of the notebook's exercises, in order."""
    return [block.label for cell in notebook.cells if cell.cell_type == "markdown"
            for block in blocks(cell.source) if block.kind == "exercise"]
