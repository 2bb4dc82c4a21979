"""Headless Chromium for looking at the report: screenshots and the DOM after scripts ran.

Used by the report's test and by pipeline.report_screenshot. The flags keep a
headless browser off the network (no sync, no component updates, no QUIC) so
it works on machines without internet; every call gets a fresh profile.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile
from typing import List, Optional

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")
INSTALL_HINT = ("install Chromium (Debian/Ubuntu: `apt-get install -y chromium`; "
                "`make install` does it where apt exists)")


def find_browser() -> Optional[str]:
    """The Chromium or Chrome binary to use ($GHSL_BROWSER first), or None when there is none."""
    named = os.environ.get("GHSL_BROWSER")
    if named:
        return shutil.which(named)
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: List[str], timeout: float) -> subprocess.CompletedProcess:
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError(f"No Chromium or Chrome found: {INSTALL_HINT}.")
    with tempfile.TemporaryDirectory(prefix="ghsl-chromium-") as profile:
        return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, check=True)


def screenshot(html_path: str, png_path: str, width: int = 1280, height: int = 2400, timeout: float = 60) -> str:
    """PNG of the page's first `height` pixels at `width`; returns png_path."""
    url = pathlib.Path(html_path).resolve().as_uri()
    _run([f"--screenshot={os.path.abspath(png_path)}", f"--window-size={width},{height}", url], timeout)
    return png_path


def dump_dom(html_path: str, budget_ms: int = 5000, timeout: float = 60) -> str:
    """The page's DOM once it loaded and its scripts ran (within a virtual-time budget)."""
    url = pathlib.Path(html_path).resolve().as_uri()
    return _run([f"--virtual-time-budget={budget_ms}", "--dump-dom", url], timeout).stdout
