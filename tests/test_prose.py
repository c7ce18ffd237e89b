"""The chapters' prose is bound to their runs: no typed measured number, no unchecked verdict,
no claim or glue key that the run does not know, and a working hidden solution per exercise."""

from __future__ import annotations

import re

import nbformat
import pytest

from advlib.repro import chapters, embedded_record
from advlib.repro.prose import (
    blocks,
    check_markdown,
    check_notebook,
    exercises,
    literals,
    sentences,
    solutions,
    worded_literals,
)

CLAIMS = {"pgd_drop"}
GLUE = {"accuracy", "pgd_drop"}
RESULTS = {"accuracy": 0.9766, "pgd_drop": 0.79}


def problems(markdown: str) -> list[str]:
    return check_markdown([markdown], RESULTS, GLUE, CLAIMS)


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("The model reads 97.7 % of the digits.", "typed measured value '97.7 %' (= accuracy)"),
        ("After the attack it reads 0.79 of them.", "typed measured value '0.79' (= pgd_drop)"),
        ("The talk reports 0.79 on its own data.", "typed measured value '0.79' (= pgd_drop)"),
        ("Its cost is 5.3x that of a natural epoch.", "typed number '5.3x' without glue or source"),
        ("We use a threshold of 0.85.", "typed number '0.85' without glue or source"),
        ("In math it is $0.977$ exactly.", "typed measured value '0.977' (= accuracy) in math"),
        ("The attack collapses the model.", "verdict 'collapses' without a {claim}"),
        ("It is left at a few per cent {claim}`unknown_key`.", "unknown claim 'unknown_key'"),
        ("It reads {glue:text}`nonsense:.2f`.", "unknown glue key 'nonsense'"),
    ],
)
def test_each_rule_fires(markdown, expected):
    found = problems(markdown)
    assert any(problem.startswith(expected) for problem in found), found


@pytest.mark.parametrize(
    "markdown",
    [
        "The model reads {glue:text}`accuracy:.1%` of the digits.",
        "PGD leaves {glue:text}`pgd_drop:.2f` and the defence collapses {claim}`pgd_drop`.",
        "The talk (S0) reports 81.4 % for a texture photograph.",
        "Geirhos et al. {cite}`g` report a shape bias of 21.4 % for ResNet-50.",
        "We attack with $\\epsilon = 0.1$ and `alpha=0.025`, on 4,000 digits in 2019, with 16/255.",
        "A 4 x 4 grid of 160 x 60 images under CC-BY-4.0, at most {glue:text}`accuracy:.0%`.",
        "Its gradient is zero almost everywhere; the constraint is most often the L-inf norm.",
    ],
)
def test_glued_sourced_and_setting_numbers_pass(markdown):
    assert problems(markdown) == []


SETTINGS = {"budget": 0.1, "check_images": 100, "train_steps": 5}


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("We attack at $\\epsilon = 0.1$ here.", "typed setting '0.1' (= budget; glue it) in math"),
        ("A callback checks 100 held-out images.", "typed setting '100' (= check_images; glue it)"),
        ("Train at a budget of 0.10 instead.", "typed setting '0.10' (= budget; glue it)"),
        ("As in the talk, we train at $\\epsilon = 0.1$.", "typed setting '0.1' (= budget; glue it) in math"),
        ("A callback checks a hundred held-out images.", "typed setting 'a hundred' in words (= check_images"),
        ("One Hundred images are checked.", "typed setting 'One Hundred' in words (= check_images"),
    ],
)
def test_a_typed_setting_fires(markdown, expected):
    found = check_markdown([markdown], RESULTS, GLUE | set(SETTINGS), CLAIMS, SETTINGS)
    assert any(problem.startswith(expected) for problem in found), found


@pytest.mark.parametrize(
    "markdown",
    [
        "We attack at $\\epsilon =$ {glue:text}`budget:.1f` on {glue:text}`check_images:.0f` images.",
        "PGD-5 takes 5 steps on 10 of the images.",
        "Madry et al. {cite}`m` train at one tenth of the range on a hundred images.",
        "Hundreds of images, ten per cent of them, in a one-pixel attack with five steps.",
    ],
)
def test_glued_single_digit_or_worded_settings_pass(markdown):
    assert check_markdown([markdown], RESULTS, GLUE | set(SETTINGS), CLAIMS, SETTINGS) == []


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("ten steps on two thousand digits", [10, 2000]),
        ("three hundred and twenty-five images, a thousand queries", [325, 1000]),
        ("Sixty thousand digits in a ten-step attack", [60000, 10]),
        ("hundreds of images, one tenth, anyone, none, often, tens of steps", [1]),
    ],
)
def test_numbers_written_in_words_are_read(text, values):
    """The prose check reads cardinals in words so that 'ten steps' cannot dodge a setting of 10;
    plurals ('hundreds of') and fractions ('one tenth' counts only its 'one') are not counts."""
    assert [literal.value for literal in worded_literals(text)] == values


def test_exercises_may_ask_with_verdicts_and_solutions_are_found_with_their_code():
    markdown = """Intro.

```{exercise}
:label: ex-one
Does momentum transfer better? Use a budget of $0.02$.
```

````{solution} ex-one
:class: dropdown
Explain why it fails.
```python
print("solved")
```
````
"""
    assert problems(markdown) == []
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(markdown)]
    assert exercises(notebook) == ["ex-one"]
    assert solutions(notebook) == {"ex-one": 'print("solved")'}
    kinds = [block.kind for block in blocks(markdown)]
    assert kinds == ["prose", "exercise", "solution", "code"]


def test_sentences_split_after_abbreviations_and_bold_headings():
    (block,) = blocks("Geirhos et al. found it. **It works.** Then e.g. this follows.")
    assert [s.text for s in sentences(block)] == ["Geirhos et al. found it.", "It works.", "Then e.g. this follows."]
    assert [literal.text for literal in literals("a 95.9 % share, 5.3x, 0.5 and 300 images")] == [
        "95.9 %", "5.3x", "0.5", "300"]


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.slug)
def test_chapter_prose_is_bound_to_its_run(chapter):
    notebook = nbformat.read(chapter.notebook, as_version=4)
    claim_keys = {target.key for target in chapter.targets["class"]}
    assert check_notebook(notebook, embedded_record(notebook), claim_keys) == []


@pytest.mark.parametrize("chapter", chapters(), ids=lambda c: c.slug)
def test_every_exercise_has_a_hidden_solution_with_code(chapter):
    notebook = nbformat.read(chapter.notebook, as_version=4)
    labels = exercises(notebook)
    assert labels, "every chapter has exercises"
    assert set(solutions(notebook)) == set(labels), "each exercise has one solution with Python code"
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    directives = re.findall(r"^`{3,}\{solution\}.*\n((?::\w+:.*\n)*)", markdown, flags=re.MULTILINE)
    assert len(directives) == len(labels) and all(":class: dropdown" in options for options in directives), (
        "solutions are folded by default"
    )
