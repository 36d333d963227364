"""The ``jiayuan`` command.

``demo``, ``serve`` and ``worker`` start processes; everything else is a Django
management command (``jiayuan seed-demo``, ``jiayuan createuser``, ``jiayuan migrate``,
``jiayuan check-worker`` …), with dashes and underscores alike.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayuan.settings")
    import django

    django.setup()


def _manage(args: Sequence[str]) -> None:
    from django.core.management import execute_from_command_line

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiayuan.settings")
    execute_from_command_line(["jiayuan", *args])


def _prepare_dirs() -> None:
    from django.conf import settings

    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)


def serve(host: str, port: int, web_workers: int, with_worker: bool | None) -> int:
    """Run the web server and, on the embedded profile, the job consumer beside it."""
    _setup()
    from django.conf import settings

    _prepare_dirs()
    if with_worker is None:
        with_worker = not settings.REDIS_URL
    procs: list[subprocess.Popen[bytes]] = []
    web = [
        sys.executable, "-m", "gunicorn", "jiayuan.wsgi:application",
        "--bind", f"{host}:{port}", "--workers", str(web_workers), "--threads", "4",
        "--access-logfile", "-", "--graceful-timeout", "5",
    ]  # fmt: skip
    procs.append(subprocess.Popen(web))  # noqa: S603
    if with_worker:
        procs.append(subprocess.Popen([sys.executable, "-m", "jiayuan.cli", "worker"]))
    print(f"家园 Jiayuan 运行于 http://{host}:{port}/  (Ctrl-C 停止)", flush=True)

    def stop(*_: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    finally:
        stop()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return max((p.returncode or 0) for p in procs)


def demo(host: str, port: int) -> int:
    """Migrate, seed the demo county if the database is empty, print accounts, serve."""
    _setup()
    _prepare_dirs()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", scale="county", if_empty=True)
    call_command("demo_accounts")
    return serve(host, port, web_workers=2, with_worker=None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="jiayuan", add_help=False)
    parser.add_argument("command", nargs="?", default="help")
    known, rest = parser.parse_known_args(argv[:1])
    command = known.command.replace("-", "_")
    rest = argv[1:]

    if command in ("demo", "serve"):
        sub = argparse.ArgumentParser(prog=f"jiayuan {command}")
        sub.add_argument("--host", default=os.environ.get("JIAYUAN_HOST", "127.0.0.1"))
        sub.add_argument("--port", type=int, default=int(os.environ.get("JIAYUAN_PORT", "8000")))
        if command == "serve":
            sub.add_argument("--web-workers", type=int, default=2)
            sub.add_argument(
                "--worker", dest="with_worker", action=argparse.BooleanOptionalAction, default=None,
                help="run the embedded job consumer (default: when JIAYUAN_REDIS_URL is unset)",
            )  # fmt: skip
        opts = sub.parse_args(rest)
        if command == "demo":
            return demo(opts.host, opts.port)
        return serve(opts.host, opts.port, opts.web_workers, opts.with_worker)
    if command == "worker":
        _setup()
        _prepare_dirs()
        _manage(["run_huey", *rest])
        return 0
    if command in ("help", "__help", "_h"):
        _manage(["help"])
        print("\n家园 commands: demo, serve [--host --port], worker, seed-demo, createuser, "
              "check-worker, migrate, and every Django management command.")  # fmt: skip
        return 0
    _manage([command, *rest])
    return 0


if __name__ == "__main__":
    sys.exit(main())
