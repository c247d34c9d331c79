"""Fixtures for the viewer tests: graphs to show, and a real browser to show them in.

The browser is Debian's ``chromium`` (``scripts/install-chromium`` installs it; ``make
test`` runs that where it is missing) driven by Playwright with the system binary (no
browser download). ``KGBUILD_CHROMIUM`` names another binary. When the browser or
Playwright is missing, browser tests are skipped with the reason shown, except under
``CI=true``, where they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
for folder in (TESTS, TESTS / "view", TESTS / "store"):
    if str(folder) not in sys.path:  # plain helper modules beside the tests
        sys.path.insert(0, str(folder))

from fake_extractor import FakeExtractor  # noqa: E402

#: Flags for a quiet, sandbox-free headless chromium that makes no network request.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXAMPLE_ENTITY_TYPES = ["person", "organization", "location", "date"]
EXAMPLE_RELATION_TYPES = ["works for", "founded by", "located in", "born in"]


def chromium_path() -> str | None:
    """The chromium binary: ``$KGBUILD_CHROMIUM``, else ``chromium`` on the PATH."""
    configured = os.environ.get("KGBUILD_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str) -> None:
    message = f"browser tests need {reason}; install it with: scripts/install-chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} [CI=true: browser tests must run, not skip]", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless chromium (Playwright ``Browser``); skips, or fails under CI, without one."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright (pip install -e '.[viz]')")
    path = chromium_path()
    if path is None:
        _unavailable("chromium (no `chromium` on the PATH and no KGBUILD_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Page:
    """A page plus everything it logged: console errors and warnings, uncaught errors."""

    def __init__(self, browser: object) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 850})  # type: ignore[attr-defined]
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    def open(self, html_file: Path, timeout_ms: float = 120_000) -> None:
        """Load a page written by kgbuild view and wait until its first layout is done."""
        self.page.goto(html_file.resolve().as_uri(), wait_until="commit", timeout=timeout_ms)
        self.page.wait_for_selector("body[data-ready=true]", state="attached", timeout=timeout_ms)


@pytest.fixture
def new_page(browser) -> Iterator:
    pages: list[Page] = []

    def make() -> Page:
        pages.append(Page(browser))
        return pages[-1]

    yield make
    for page in pages:
        page.page.close()


@pytest.fixture(scope="session")
def example_store(tmp_path_factory) -> Path:
    """The example graph (examples/docs) built with the deterministic test extractor."""
    import kgbuild

    store = tmp_path_factory.mktemp("example") / "graph.json"
    summary = kgbuild.build(
        REPO / "examples" / "docs",
        store=str(store),
        entity_types=EXAMPLE_ENTITY_TYPES,
        relation_types=EXAMPLE_RELATION_TYPES,
        extractor=FakeExtractor(),
    )
    assert summary.ok
    return store
