"""Sphinx extension: keep the book's pages free of references to outside scripts.

Jupyter Book always loads sphinx-thebe, which adds an inline script naming Thebe's bundle
on unpkg and a loader for it. Thebe (live code on a remote kernel) is switched off in this
book, so both are dead weight, and the inline URL is exactly what an offline page must not
contain. Removed once all extensions have registered their files.
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _drop_thebe(app: Sphinx, env, docnames) -> None:
    def keep(asset) -> bool:
        filename = getattr(asset, "filename", asset) or ""
        body = getattr(asset, "attributes", {}).get("body", "")
        return "sphinx-thebe" not in str(filename) and "THEBE_JS_URL" not in body

    app.builder.script_files[:] = [asset for asset in app.builder.script_files if keep(asset)]
    app.registry.js_files[:] = [
        (name, attributes) for name, attributes in app.registry.js_files
        if "sphinx-thebe" not in str(name) and "THEBE_JS_URL" not in attributes.get("body", "")
    ]


def setup(app: Sphinx) -> dict:
    app.connect("env-before-read-docs", _drop_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
