"""The browser tests' world: a real ``jiayuan serve`` on a temporary SQLite database
seeded with the tiny demo county, and the system Chromium driven by Playwright.

These tests never touch pytest-django's test database: the site under test is a
separate process with its own database, exactly as a user would meet it.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = os.environ.get("JIAYUAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = os.environ.get("JIAYUAN_DEMO_PASSWORD", "jiayuan-demo")
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Site:
    url: str
    db: Path

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the site's database directly (read-only) to find ids to visit."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return conn.execute(sql, params).fetchall()

    def grid_of(self, username: str) -> tuple[int, str, str]:
        """``(id, path, name)`` of the grid where ``username`` is a grid worker."""
        return self.query(
            "SELECT a.id, a.path, a.name FROM org_membership m"
            " JOIN auth_user u ON u.id = m.user_id JOIN org_area a ON a.id = m.area_id"
            " WHERE u.username = ? AND m.role = 'grid_worker'",
            username,
        )[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(args, env=env, cwd=ROOT, stdout=out, stderr=out, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed:\n{log.read_text()[-3000:]}")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"jiayuan serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/login/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"jiayuan serve did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Migrate and seed a fresh database, start ``jiayuan serve``, stop it afterwards."""
    tmp = tmp_path_factory.mktemp("site")
    db = tmp / "db.sqlite3"
    log = tmp / "site.log"
    env = {
        **os.environ,
        "JIAYUAN_DATABASE_URL": f"sqlite:///{db}",
        "JIAYUAN_VAR_DIR": str(tmp),
        "JIAYUAN_HOME": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("JIAYUAN_REDIS_URL", None)  # the embedded profile: no Redis needed
    jiayuan = str(Path(sys.executable).with_name("jiayuan"))
    _run([jiayuan, "migrate", "--no-input", "-v", "0"], env, log)
    _run([jiayuan, "seed-demo", "--scale", "tiny", "--no-progress"], env, log)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [jiayuan, "serve", "--host", "127.0.0.1", "--port", str(port), "--web-workers", "1"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        _wait_ready(url, proc, log)
        yield Site(url=url, db=db)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # our own session: serve and its children
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM} (install the chromium package)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def login(page: Any, site: Site, username: str) -> None:
    page.goto(site.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.url + "/")
