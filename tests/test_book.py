"""The book builds strictly, offline, and loads nothing from another host."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from advlib.cli.book_check import check_site, outside_loads

ROOT = Path(__file__).resolve().parents[1]


def test_outside_loads_are_detected():
    page = """
    <script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
    <script src="_static/require.js"></script>
    <link rel="stylesheet" href="//fonts.googleapis.com/css?family=Lato">
    <link rel="stylesheet" href="_static/styles/theme.css">
    <a href="https://colab.research.google.com/x">Colab</a>
    <style>@import url("https://example.org/x.css");</style>
    <script>const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"</script>
    <script>const page = "https://example.org/not-a-script"</script>
    """
    assert sorted(outside_loads(page)) == sorted([
        "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js",
        "//fonts.googleapis.com/css?family=Lato",
        "https://example.org/x.css",
        "https://unpkg.com/thebe@0.8.2/lib/index.js",
    ])


@pytest.mark.slow
def test_book_builds_strictly_and_is_self_contained(tmp_path):
    if not (ROOT / "_vendor" / ".stamp").exists():
        pytest.skip("run `make vendor` first (make test does)")
    if shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("jupyter-book is not installed in this environment")
    build = subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "-W", "--keep-going",
         "--path-output", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    assert check_site(html) == {}
    chapter = (html / "chapters" / "01_adversarial_examples.html").read_text()
    assert "_static/mathjax/es5/tex-mml-chtml.js" in chapter
    assert "_static/widgets/embed-amd.js" in chapter and "application/vnd.jupyter.widget-state+json" in chapter
    assert (html / "_static" / "mathjax" / "es5" / "tex-mml-chtml.js").is_file()
    assert "<img" in chapter, "figures are in the page"
    assert 'class="claim-check"' in chapter and "reproduction.html#ledger-01-adversarial-examples-" in chapter, (
        "judging sentences link to the ledger entries that check them"
    )
    assert "solution dropdown" in chapter, "solutions are rendered, folded"
    assert "{glue" not in chapter, "every glued value was pasted"
    report = (html / "book" / "reproduction.html").read_text()
    assert 'id="ledger-01-adversarial-examples-clean-accuracy"' in report

    _check_in_chromium(html)


def _check_in_chromium(html: Path) -> None:
    """Where Debian's Chromium is installed: load the chapter over loopback with every
    other host unresolvable, and check that MathJax typeset the math and the widget manager
    rendered the slider (so both really came from the book, not from a CDN)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(html))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/chapters/01_adversarial_examples.html"
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={html.parent / 'chromium-profile'}", "--virtual-time-budget=10000",
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--dump-dom", url],
            capture_output=True, text=True, timeout=120,
        ).stdout
    finally:
        server.shutdown()
    assert "mjx-container" in dom, "MathJax did not typeset the page"
    assert "widget-hslider" in dom, "the widget manager did not render the epsilon slider"
