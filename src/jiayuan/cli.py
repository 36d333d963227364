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


def serve(
    host: str,
    port: int,
    web_workers: int,
    with_worker: bool | None,
    helpers: Sequence[Sequence[str]] = (),
) -> int:
    """Run the web server and, on the embedded profile, the job consumer beside it.

    ``helpers`` are further commands run beside them and stopped with them (the demo's
    device simulator); one that exits early is reported, but the site keeps running."""
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
    commands = [list(command) for command in helpers]
    extra = [subprocess.Popen(command) for command in commands]  # noqa: S603
    print(f"家园 Jiayuan 运行于 http://{host}:{port}/  (Ctrl-C 停止)", flush=True)

    def stop(*_: object) -> None:
        for p in [*procs, *extra]:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    reported: set[int] = set()
    try:
        while all(p.poll() is None for p in procs):
            for p, command in zip(extra, commands, strict=True):
                if p.poll() is not None and p.pid not in reported:
                    reported.add(p.pid)
                    print(f"后台进程已退出（{p.returncode}）：{' '.join(command)}",
                          file=sys.stderr, flush=True)  # fmt: skip
            time.sleep(0.5)
    finally:
        stop()
        for p in [*procs, *extra]:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return max((p.returncode or 0) for p in procs)


# The demo's devices kept alive in the background (heartbeats, rare events and alarms),
# straight into the ingest pipeline: without it every demo device goes offline after
# 30 minutes. ``jiayuan demo --no-simulate`` (or JIAYUAN_DEMO_SIMULATE=0) leaves it out.
SIMULATOR = [sys.executable, "-m", "jiayuan.cli", "simulate-devices", "--keep-alive"]


def demo(host: str, port: int, simulate: bool = True) -> int:
    """Migrate, seed the demo county if the database is empty, print accounts, serve —
    with the demo's devices kept alive in the background unless ``simulate`` is off."""
    _setup()
    _prepare_dirs()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", scale="county", if_empty=True)
    call_command("demo_accounts")
    helpers = [SIMULATOR] if simulate else []
    return serve(host, port, web_workers=2, with_worker=None, helpers=helpers)


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
        if command == "demo":
            sub.add_argument(
                "--simulate", action=argparse.BooleanOptionalAction,
                default=os.environ.get("JIAYUAN_DEMO_SIMULATE", "1") not in ("0", "false", "no"),
                help="keep the demo's devices alive with the background simulator (default on)",
            )  # fmt: skip
        if command == "serve":
            sub.add_argument("--web-workers", type=int, default=2)
            sub.add_argument(
                "--worker", dest="with_worker", action=argparse.BooleanOptionalAction, default=None,
                help="run the embedded job consumer (default: when JIAYUAN_REDIS_URL is unset)",
            )  # fmt: skip
        opts = sub.parse_args(rest)
        if command == "demo":
            return demo(opts.host, opts.port, opts.simulate)
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
