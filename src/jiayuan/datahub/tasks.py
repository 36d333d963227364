"""Scheduled imports: every five minutes, the sources whose schedule (``daily HH:MM``,
local time) fell due since their last scheduled run are read — a folder's new files,
an interface or a table from its cursor on. Upload sources (CSV, XLSX) have no
schedule: an agency's file arrives when it arrives."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from jiayuan.core.errors import BilingualError

from . import engine
from .models import ImportRun, Source, SourceKind

log = logging.getLogger(__name__)

DAILY = re.compile(r"^daily\s+([01]?\d|2[0-3]):([0-5]\d)$")
SCHEDULED_KINDS = (SourceKind.FOLDER, SourceKind.HTTP_JSON, SourceKind.SQL)


def due_time(schedule: str, now: dt.datetime) -> dt.datetime | None:
    """The latest moment at or before ``now`` the schedule names, or ``None`` for a
    schedule this module does not understand (it is left alone, and logged)."""
    m = DAILY.match(schedule.strip().lower())
    if m is None:
        return None
    at = now.replace(hour=int(m[1]), minute=int(m[2]), second=0, microsecond=0)
    return at if at <= now else at - dt.timedelta(days=1)


def run_due(now: dt.datetime | None = None) -> list[ImportRun]:
    """Read every active scheduled source whose time came since its last scheduled run."""
    now = timezone.localtime(now or timezone.now())
    done: list[ImportRun] = []
    for source in Source.objects.filter(active=True, kind__in=SCHEDULED_KINDS).exclude(schedule=""):
        due = due_time(source.schedule, now)
        if due is None:
            log.warning("source %s: schedule %r is not 'daily HH:MM'", source.code, source.schedule)
            continue
        for stream in source.streams.all():
            last = (
                ImportRun.objects.filter(stream=stream, trigger="schedule")
                .order_by("-started_at")
                .values_list("started_at", flat=True)
                .first()
            )
            if last is not None and last >= due:
                continue
            try:
                done.extend(engine.sync(stream, trigger="schedule"))
            except BilingualError as exc:  # paused, busy, unreachable: try again next time
                log.warning("scheduled import of %s failed: %s", stream, exc.message)
    return done


@db_task()
def import_stored(run_id: int) -> dict[str, Any]:
    """Import an uploaded file too large for its request (see ``uploads.queue_import``):
    the engine resumes the run written when the file arrived."""
    from pathlib import Path

    from django.conf import settings

    run = ImportRun.objects.select_related("stream__source", "actor").get(pk=run_id)
    path = Path(settings.VAR_DIR) / run.stored_file
    done = engine.run(
        run.stream, path, actor=run.actor, trigger=run.trigger, file_name=run.file_name
    )
    return {"run": done.pk, "status": done.status, "report": done.report_line()}


@db_periodic_task(crontab(minute="*/5"))
@lock_task("datahub-scheduled-imports")
def scheduled_imports() -> dict[str, Any]:
    runs = run_due()
    return {"runs": [r.pk for r in runs]}
