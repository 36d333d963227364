"""``jiayuan check-worker``: enqueue a ping job and wait until a worker has run it."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jiayuan.core.tasks import ping


class Command(BaseCommand):
    help = "Enqueue a ping job and wait for a worker to run it (proves the queue works)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=15.0)

    def handle(self, *args: Any, **options: Any) -> None:
        token = uuid.uuid4().hex
        queue = "Redis" if settings.REDIS_URL else "SQLite"
        result = ping(token)
        try:
            answer = result.get(blocking=True, timeout=options["timeout"])
        except Exception as exc:  # huey raises its own timeout type
            raise CommandError(
                f"队列（{queue}）上没有工作进程在运行 / no worker answered on the {queue} queue "
                f"within {options['timeout']:.0f}s"
            ) from exc
        if answer.get("token") != token:
            raise CommandError("工作进程返回了错误的结果 / the worker answered the wrong job")
        self.stdout.write(f"ok: {queue} queue, job ran on {answer['worker']}")
