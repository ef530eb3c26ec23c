"""Headless Chromium from Debian's package, driven by Playwright, for tests of the HTML pages."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser() -> None:
    """Skip unless Chromium and Playwright are installed (fail instead when DIRKIT_REQUIRE_TOOLS=1)."""
    missing = [
        name
        for name, found in (
            (CHROMIUM, os.access(CHROMIUM, os.X_OK)),
            ("playwright", importlib.util.find_spec("playwright") is not None),
        )
        if not found
    ]
    if not missing:
        return
    if os.environ.get("DIRKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{', '.join(missing)} required (DIRKIT_REQUIRE_TOOLS=1) but not installed")
    pytest.skip(f"{', '.join(missing)} not installed")


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    """Yield a context of a fresh headless Chromium whose --user-data-dir is a new temporary folder."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="dirkit-chromium-") as profile, sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 720},
        )
        try:
            yield context
        finally:
            context.close()
