"""The browser the end-to-end tests drive: Debian's Chromium through Playwright (never a downloaded one)."""

from __future__ import annotations

import shutil

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
INSTALL = "tools/test installs it (as root), or: apt-get install -y chromium"


def chromium() -> str:
    """Path of the Chromium executable; fails the test with one line saying how to install it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail(f"chromium is not installed, and the browser tests need it: {INSTALL}", pytrace=False)
    return path
