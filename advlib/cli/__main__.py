"""``python -m advlib.cli``: the ``advlib`` command (what ``torchrun -m advlib.cli train`` runs)."""

import sys

from advlib.cli.main import main

sys.exit(main())
