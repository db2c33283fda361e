"""Headless Chromium for the monitor's tests: Debian's ``chromium`` (``/usr/bin/chromium``,
or ``RTA_CHROMIUM``) driven by Playwright for Python, which never downloads a
browser here. ``scripts/_system.sh`` installs the package (as root, on Debian or
Ubuntu); without it the tests fail, naming it, rather than skip.

Screenshots and figures go to ``RTA_ARTIFACTS`` (default ``var/artifacts``)
``/monitor/``: CI keeps them as the test's artefacts.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# as the machine notes say: no GPU, and no background traffic to Google's hosts
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


def chromium_path() -> str:
    path = os.environ.get("RTA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(f"no Chromium at {path}: install Debian's package (sudo apt-get install "
                    "chromium; scripts/_system.sh does as root) or set RTA_CHROMIUM")
    return path


def artifacts() -> Path:
    out = Path(os.environ.get("RTA_ARTIFACTS", "var/artifacts")) / "monitor"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def new_page(browser: Any, base: str, width: int = 1600, height: int = 900) -> Any:
    """A page of a fresh context (its own cookies), console errors collected in
    ``page.errors``."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  base_url=base)
    page = context.new_page()
    page.errors = []

    def console(m: Any) -> None:
        # the page's first question before signing in is answered 401: expected
        if m.type == "error" and "status of 401" not in m.text:
            page.errors.append(m.text)

    page.on("console", console)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


def sign_in_with_key(page: Any, key: str) -> None:
    page.goto("/monitor")
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#apikey", key)
    page.click("#signin-key")
    page.wait_for_selector("#connection[data-state=live]", timeout=30_000)


def sign_in_with_password(page: Any, user: str, password: str) -> None:
    page.goto("/monitor")
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#userid", user)
    page.fill("#password", password)
    page.click("#signin-password")
    page.wait_for_selector("#connection[data-state=live]", timeout=30_000)


def stats(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("window.RTAMonitor.stats()"))
