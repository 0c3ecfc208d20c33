"""Headless Chromium for tests: render a local page, take a screenshot, dump the DOM, and collect
the console errors it printed.

Only the Debian package's ``/usr/bin/chromium`` is used; when it is absent the calling test is
skipped with the reason (``make chromium`` installs it).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0")
CONSOLE_ERROR = re.compile(r"Uncaught|ERROR:CONSOLE|CONSOLE\(\d+\).*[Ee]rror")


def require_chromium() -> Path:
    if not CHROMIUM.is_file():
        pytest.skip(f"headless Chromium is not installed at {CHROMIUM} "
                    "(Debian package 'chromium': make chromium)")
    return CHROMIUM


@dataclass
class Rendered:
    dom: str
    screenshot: Path
    console_errors: list[str]
    log: str


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *extra,
                           page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=180, check=False)


def render(page: Path, workdir: Path, width: int = 1280, height: int = 2400) -> Rendered:
    """Open ``page`` twice in headless Chromium: once for a screenshot, once for the DOM."""
    require_chromium()
    workdir.mkdir(parents=True, exist_ok=True)
    shot = workdir / "screenshot.png"
    a = _run(page, workdir / "profile-shot", f"--window-size={width},{height}",
             f"--screenshot={shot}")
    b = _run(page, workdir / "profile-dom", "--dump-dom")
    log = a.stderr + b.stderr
    errors = [line for line in log.splitlines() if CONSOLE_ERROR.search(line)]
    return Rendered(b.stdout, shot, errors, log)
