"""Jobs run on the embedded SQLite queue under `jiayuan serve`, and on Redis under a
separate `jiayuan worker` process (acceptance 10). Real processes, real Redis."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.services
JIAYUAN = [sys.executable, "-m", "jiayuan.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("JIAYUAN_", "DJANGO_"))}
    environ.update(
        JIAYUAN_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        JIAYUAN_VAR_DIR=str(tmp_path),
    )
    subprocess.run([*JIAYUAN, "migrate", "-v", "0"], env=environ, check=True, timeout=120)
    yield environ


def run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*JIAYUAN, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def start(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*JIAYUAN, *args], env=env)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}")


def job_rows(env: dict[str, str]) -> list[tuple[str, str]]:
    path = env["JIAYUAN_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute("SELECT name, worker FROM core_jobrun").fetchall()


def test_serve_runs_jobs_on_the_embedded_queue(env: dict[str, str]) -> None:
    port = free_port()
    server = start(env, "serve", "--port", str(port))
    try:
        wait_for_port(port)
        result = run(env, "check-worker", "--timeout", "30")
        assert result.returncode == 0, result.stderr
        assert "SQLite queue" in result.stdout
    finally:
        stop(server)
    rows = job_rows(env)
    assert [name for name, _ in rows] == ["ping"]
    assert str(server.pid) not in rows[0][1]  # ran in the consumer, not the web process


def test_redis_queue_needs_and_uses_a_separate_worker(env: dict[str, str]) -> None:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/14"
    redis.Redis.from_url(url).flushdb()
    env = {**env, "JIAYUAN_REDIS_URL": url}

    # serve on the Redis profile starts no consumer: the job waits in Redis.
    port = free_port()
    server = start(env, "serve", "--port", str(port))
    try:
        wait_for_port(port)
        lonely = run(env, "check-worker", "--timeout", "3")
        assert lonely.returncode != 0
        assert "Redis" in lonely.stderr
    finally:
        stop(server)
    assert redis.Redis.from_url(url).dbsize() > 0  # the job is queued in Redis

    worker = start(env, "worker")
    try:
        result = run(env, "check-worker", "--timeout", "30")
        assert result.returncode == 0, result.stderr
        assert "Redis queue" in result.stdout
    finally:
        stop(worker)
    workers = {w for _, w in job_rows(env)}
    assert any(w.endswith(f":{worker.pid}") for w in workers)
    redis.Redis.from_url(url).flushdb()
