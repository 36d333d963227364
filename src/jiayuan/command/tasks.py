"""Periodic jobs of the command app (Huey, found by djhuey's autodiscovery)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import channels, duty, mobilise


@db_periodic_task(crontab(minute="*"))
@lock_task("command-sweep-mobilisations")
def sweep_mobilisations() -> dict[str, int]:
    """Every minute: escalate unacknowledged calls (each level once), time them out and
    top up with the next nearest forces up to the head count."""
    return mobilise.sweep()


@db_periodic_task(crontab(minute="*"))
@lock_task("command-flush-outbox")
def flush_outbox() -> int:
    """Every minute: send due SMS and WeCom messages (only where an endpoint is set)."""
    return channels.flush_outbox()


@db_periodic_task(crontab(minute="7"))
@lock_task("command-purge-locations")
def purge_locations() -> int:
    """Hourly: forget positions older than COMMAND_LOCATION_RETENTION_HOURS."""
    return duty.purge_locations()
