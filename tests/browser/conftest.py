"""Browser tests: a real dashboard server and headless Debian Chromium driven by Playwright.

The server runs in its own process (`python -m streamlit run app/main.py`) on a free port,
with a temporary run store, and is stopped by its PID at the end of the session. Chromium
is Debian's (/usr/bin/chromium, or $RNNLAB_CHROMIUM); without it the tests skip, or fail
when RNNLAB_REQUIRE_BROWSER=1 (CI: .ci/run -> scripts/test.sh sets it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "docs" / "screenshots"
VIEWPORT = {"width": 1400, "height": 900}
REFRESH_S = "1.0"
# Playwright's 5 s default for an expect(): a loaded 2-core machine (CI) draws a page's widgets, which
# arrive after its script has finished, in more than that (seen: the Start button under two CPU burners)
expect.set_options(timeout=30_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch args, pointed at Debian's Chromium (no `playwright install`)."""
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set RNNLAB_CHROMIUM)"
        if os.environ.get("RNNLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; RNNLAB_REQUIRE_BROWSER=1 makes the browser tests mandatory")
        pytest.skip(reason)
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
    ]
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


@contextmanager
def serve(tmp: Path, **env_extra: str):
    """A dashboard server on a free port with its own store in `tmp` (and these environment
    variables); yields its URL, then stops it by its PID."""
    port = _free_port()
    env = {
        **os.environ,
        "RNNLAB_STORE": str(tmp / "runs.sqlite"),
        "RNNLAB_CACHE": str(tmp / "cache"),
        "RNNLAB_REFRESH_SECONDS": REFRESH_S,
        "PYTHONUNBUFFERED": "1",
        **env_extra,
    }
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app/main.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"dashboard server did not start:\n{(tmp / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture(scope="session")
def dashboard_server(browser_type_launch_args):
    """`serve` for a module that needs its own server (its own store or environment):
    `with dashboard_server(tmp, RNNLAB_MODE="shared") as url: ...`."""
    return serve


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, browser_type_launch_args):
    """A dashboard server on a free port with its own store; stopped by PID afterwards."""
    with serve(tmp_path_factory.mktemp("dashboard")) as url:
        yield url


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
