"""Background jobs of the core app."""

from __future__ import annotations

import os
import socket

from django.utils import timezone
from huey.contrib.djhuey import db_task

from .models import JobRun


@db_task()
def ping(token: str) -> dict[str, str]:
    """Proves a worker is consuming the queue: records where it ran and answers."""
    worker = f"{socket.gethostname()}:{os.getpid()}"
    JobRun.objects.create(
        name="ping", token=token, worker=worker, finished_at=timezone.now(), result={"ok": True}
    )
    return {"token": token, "worker": worker}
