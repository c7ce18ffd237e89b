"""Sphinx extension: the ``{claim}`key``` role ties a judging sentence to the check behind it.

A sentence such as "PGD-AT cuts the error under attack several times" is only as good as the
target that tests it on every run. The role renders a small check mark that links to that
target's entry in the reproduction report (a reference run's page, under ``reproductions/``,
links to the reference report); a key without an entry is an unresolved reference,
so the strict book build fails. ``tests/test_prose.py`` additionally requires a claim (or a
cited source) on every sentence that judges a result.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxRole

from advlib.repro.ledger import label


class ClaimRole(SphinxRole):
    def run(self) -> tuple[list[nodes.Node], list[nodes.system_message]]:
        document = PurePosixPath(self.env.docname)
        scale = "reference" if document.parts[0] == "reproductions" else "class"
        reference = addnodes.pending_xref(
            self.rawtext, refdomain="std", reftype="ref", reftarget=label(document.name, self.text.strip(), scale),
            refexplicit=True, refwarn=True,
        )
        reference += nodes.inline("✓", "✓")
        return [nodes.inline("", "", reference, classes=["claim-check"])], []


def setup(app: Sphinx) -> dict:
    app.add_role("claim", ClaimRole())
    return {"parallel_read_safe": True, "parallel_write_safe": True}
