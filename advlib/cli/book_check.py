"""Check that a built book is self-contained: no page loads a script, stylesheet or font
from another host. ``python -m advlib.cli.book_check _build/html`` exits 1 and lists them.

Links (``<a href>``: launch buttons, citations' DOIs) are fine: they load nothing by
themselves. What must never happen offline is a page that *fetches* code or styles.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

_OUTSIDE = re.compile(r"^(https?:)?//", re.IGNORECASE)
_LOADING_LINKS = {"stylesheet", "preload", "modulepreload", "prefetch", "icon"}


class _Loads(HTMLParser):
    """Collect every URL that a page loads (scripts, stylesheets, fonts, images, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_script = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        # Inline scripts that name an outside script or stylesheet (a loader would fetch it).
        if self._in_script:
            self.urls += re.findall(r"(?:https?:)?//[^\s'\"`]+?\.(?:m?js|css)\b", data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script":
            self._in_script = True
        if tag in ("script", "img", "iframe", "source", "embed") and values.get("src"):
            self.urls.append(values["src"])
        if tag == "link" and _LOADING_LINKS & set(values.get("rel", "").lower().split()) and values.get("href"):
            self.urls.append(values["href"])
        if tag == "script" and values.get("data-jupyter-widgets-cdn"):
            self.urls.append(values["data-jupyter-widgets-cdn"])


def outside_loads(html: str) -> list[str]:
    """The URLs on another host that this page would load, including CSS @import/url()."""
    parser = _Loads()
    parser.feed(html)
    urls = [url for url in parser.urls if _OUTSIDE.match(url)]
    urls += re.findall(r"@import\s+(?:url\()?['\"]?((?:https?:)?//[^'\")\s]+)", html)
    return urls


def check_site(root: Path) -> dict[str, list[str]]:
    problems = {}
    pages = sorted(root.rglob("*.html"))
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {root}; build the book first (make book)")
    for page in pages:
        urls = outside_loads(page.read_text(errors="replace"))
        if urls:
            problems[str(page.relative_to(root))] = urls
    return problems


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0] if argv else "_build/html")
    problems = check_site(root)
    for page, urls in problems.items():
        print(f"{page}: loads {', '.join(sorted(set(urls)))}")
    print(f"{root}: " + ("self-contained" if not problems else f"{len(problems)} page(s) load outside resources"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
