"""Everything a user runs from the shell: the ``advlib`` command (``run``, ``reproduce``,
``train``, ``bench``, ``doctor``), its ``train`` and ``bench`` sub-commands, and the check of
the built book for outside loads (``python -m advlib.cli.book_check _build/html``).

``python -m advlib.cli`` is the ``advlib`` command; ``torchrun -m advlib.cli train`` trains one
model of a recipe under DDP."""

from advlib.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
