"""Everything a user runs from the shell: the ``advlib`` command (``run``, ``reproduce`` and
``doctor`` in ``cli/main.py``; ``train`` and ``bench`` in ``cli/train.py`` and ``cli/bench.py``)
and the check of the built book for outside loads (``python -m advlib.cli.book_check _build/html``).

``python -m advlib.cli`` is the ``advlib`` command; ``torchrun -m advlib.cli train`` trains one
model of a recipe under DDP."""

from advlib.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
