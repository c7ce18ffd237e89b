"""Text CAPTCHAs from the ``captcha`` package, made reproducible.

``captcha.image.ImageCaptcha`` draws every random choice (font size, per-character offset,
rotation and warp, colours, noise dots and curve) from :mod:`secrets`, the operating
system's cryptographic generator. That is right for a web site and wrong for a book: a
table must be regenerated bit for bit. :func:`render_captcha` therefore swaps the module's
``secrets`` for a seeded stand-in *for the duration of one call* (under a lock), so the
package's own drawing code runs unchanged and every image is a pure function of its text
and seed. Each image gets its own seed, derived from the split seed and the image index,
so a split can be rendered in any order or in parallel and still come out the same.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from captcha import image as captcha_image
from PIL import Image

from advlib.data.dataset import ImageDataset

DIGITS = "0123456789"
_PATCH_LOCK = threading.Lock()


@dataclass(frozen=True)
class CaptchaSpec:
    """What a CAPTCHA looks like: its alphabet, its length and its image size.

    The defaults are the book's scheme: 4 digits on 160 x 60 RGB images, the ``captcha``
    package's default size, with its one bundled font (DroidSansMono, Apache 2.0).
    """

    charset: str = DIGITS
    length: int = 4
    width: int = 160
    height: int = 60

    def __post_init__(self) -> None:
        charset = self.charset
        if not isinstance(charset, str) or len(charset) < 2 or len(set(charset)) != len(charset):
            raise ValueError(f"charset must be a string of at least 2 distinct characters, got {self.charset!r}")
        if any(not ch.isprintable() or ch.isspace() for ch in self.charset):
            raise ValueError(f"charset must hold printable, non-space characters, got {self.charset!r}")
        limits = (("length", self.length, 1), ("width", self.width, 32), ("height", self.height, 32))
        for name, value, minimum in limits:
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")

    @property
    def num_classes(self) -> int:
        return len(self.charset)

    def encode(self, text: str) -> list[int]:
        """Character indices of ``text``; a wrong length or an unknown character is an error."""
        if len(text) != self.length:
            raise ValueError(f"CAPTCHA text must have {self.length} characters, got {text!r}")
        unknown = sorted(set(text) - set(self.charset))
        if unknown:
            raise ValueError(f"characters {unknown} of {text!r} are not in the charset {self.charset!r}")
        return [self.charset.index(ch) for ch in text]

    def decode(self, indices: torch.Tensor) -> list[str]:
        """Texts of a (N, length) tensor of character indices."""
        return ["".join(self.charset[int(i)] for i in row) for row in indices]


class _SeededSecrets:
    """The three functions of :mod:`secrets` that ``captcha.image`` uses, from one seeded RNG."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self._rng.getrandbits(k)

    def choice(self, seq):  # mirrors secrets.choice
        return self._rng.choice(seq)


def render_captcha(text: str, seed: int, spec: CaptchaSpec = CaptchaSpec()) -> Image.Image:
    """Render one CAPTCHA with ``ImageCaptcha``; the same (text, seed, spec) gives the same image."""
    spec.encode(text)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    generator = captcha_image.ImageCaptcha(width=spec.width, height=spec.height)
    with _PATCH_LOCK:
        original = captcha_image.secrets
        captcha_image.secrets = _SeededSecrets(seed)
        try:
            return generator.generate_image(text)
        finally:
            captcha_image.secrets = original


def _image_seed(seed: int, index: int) -> int:
    """A per-image seed that does not collide across nearby split seeds."""
    return (seed * 1_000_003 + index) % 2**63


def _render_range(args: tuple[int, int, int, CaptchaSpec]) -> tuple[list[str], np.ndarray]:
    """Texts and images for indices [start, stop) of a split (runs in a worker process)."""
    seed, start, stop, spec = args
    texts, arrays = [], []
    for index in range(start, stop):
        rng = random.Random(_image_seed(seed, index) ^ 0x5EED)
        text = "".join(rng.choice(spec.charset) for _ in range(spec.length))
        texts.append(text)
        arrays.append(np.asarray(render_captcha(text, _image_seed(seed, index), spec), dtype=np.uint8))
    return texts, np.stack(arrays) if arrays else np.zeros((0, spec.height, spec.width, 3), np.uint8)


def make_captchas(
    count: int, seed: int, spec: CaptchaSpec = CaptchaSpec(), *, split: str = "test", scale: str = "class",
    workers: int = 1,
) -> ImageDataset:
    """``count`` CAPTCHAs with uniformly random texts: a pure function of (count, seed, spec).

    Returned as an :class:`~advlib.data.ImageDataset` whose labels are character indices,
    shape (count, spec.length), and whose classes are the charset's characters; read the
    texts back with ``spec.decode(dataset.labels)``.

    Image ``i`` depends only on ``(seed, i)``, so ``make_captchas(n, s)`` is a prefix of
    ``make_captchas(m, s)`` for ``n < m``, and ``workers`` (processes) changes only the speed.
    Rendering takes about 2 ms per image on one CPU core.
    """
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count must be an int >= 1, got {count!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be an int >= 1, got {workers!r}")
    chunks = min(workers * 4, count) if workers > 1 else 1
    bounds = [round(count * k / chunks) for k in range(chunks + 1)]
    jobs = [(seed, bounds[k], bounds[k + 1], spec) for k in range(chunks)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(_render_range, jobs))
    else:
        parts = [_render_range(job) for job in jobs]
    texts = [text for part_texts, _ in parts for text in part_texts]
    images = torch.from_numpy(np.concatenate([array for _, array in parts])).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([spec.encode(text) for text in texts], dtype=torch.long)
    return ImageDataset(images, labels, tuple(spec.charset), f"captcha-{spec.length}x{spec.charset}", split, scale)
