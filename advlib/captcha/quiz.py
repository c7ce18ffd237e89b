""""You are the human": a CAPTCHA quiz in the notebook (ipywidgets).

The paper's human numbers come from a user study we cannot rerun in CI. The quiz lets each
reader add their own: it shows raw and adversarial CAPTCHAs in random order, the reader
types what they read, and the score per kind is shown beside the paper's. The scoring is a
plain function (:func:`score_answers`) so it is tested without a browser.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import torch
from PIL import Image

from advlib.utils import to_uint8


@dataclass(frozen=True)
class QuizItem:
    """One question: the image, the true text and the kind ('raw' or 'adversarial')."""

    image: torch.Tensor
    text: str
    kind: str


def make_quiz(
    raw: torch.Tensor, adversarial: torch.Tensor, texts: list[str], count: int, seed: int = 0
) -> list[QuizItem]:
    """``count`` raw and ``count`` adversarial CAPTCHAs of *different* texts, shuffled.

    Different CAPTCHAs for the two kinds, so that reading one does not tell the reader the
    answer to the other.
    """
    if raw.shape != adversarial.shape or raw.shape[0] != len(texts):
        raise ValueError("raw, adversarial and texts must describe the same CAPTCHAs")
    if not 1 <= count <= raw.shape[0] // 2:
        raise ValueError(f"count must be in 1..{raw.shape[0] // 2}, got {count}")
    rng = random.Random(seed)
    chosen = rng.sample(range(raw.shape[0]), 2 * count)
    items = [QuizItem(raw[i], texts[i], "raw") for i in chosen[:count]]
    items += [QuizItem(adversarial[i], texts[i], "adversarial") for i in chosen[count:]]
    rng.shuffle(items)
    return items


def score_answers(items: list[QuizItem], answers: list[str]) -> dict[str, float]:
    """Share of exactly right answers per kind (case and surrounding spaces ignored)."""
    if len(answers) != len(items):
        raise ValueError(f"need one answer per item ({len(items)}), got {len(answers)}")
    scores: dict[str, list[bool]] = {}
    for item, answer in zip(items, answers, strict=True):
        scores.setdefault(item.kind, []).append(answer.strip().lower() == item.text.lower())
    return {kind: sum(hits) / len(hits) for kind, hits in sorted(scores.items())}


def _png(image: torch.Tensor, zoom: int = 2) -> bytes:
    array = to_uint8(image).permute(1, 2, 0).cpu().numpy()
    picture = Image.fromarray(array)
    picture = picture.resize((picture.width * zoom, picture.height * zoom), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def quiz_widget(items: list[QuizItem], reference: dict[str, float] | None = None):
    """The live quiz: images, text boxes, a "Check" button and a result line.

    ``reference`` (e.g. the paper's human accuracies by kind) is printed beside the
    reader's score. Returns the widget; its ``check`` attribute runs the scoring (used by
    the tests to click without a browser).
    """
    import ipywidgets as widgets

    boxes = [widgets.Text(placeholder="type the characters", layout=widgets.Layout(width="160px")) for _ in items]
    rows = [
        widgets.HBox([widgets.Image(value=_png(item.image), format="png"), box])
        for item, box in zip(items, boxes, strict=True)
    ]
    result = widgets.HTML(value="")
    button = widgets.Button(description="Check my answers", button_style="primary")

    def check(_button: object = None) -> dict[str, float]:
        scores = score_answers(items, [box.value for box in boxes])
        parts = []
        for kind, value in scores.items():
            line = f"{kind}: you {value:.0%}"
            if reference and kind in reference:
                line += f" (the talk's humans, S0: {reference[kind]:.0%})"
            parts.append(line)
        answers = ", ".join(item.text for item in items)
        result.value = "<b>" + "; ".join(parts) + f"</b><br>answers in order: {answers}"
        return scores

    button.on_click(check)
    quiz = widgets.VBox([*rows, button, result])
    quiz.check = check
    quiz.boxes = boxes
    quiz.result = result
    return quiz
