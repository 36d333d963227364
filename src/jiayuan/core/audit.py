"""Writing the audit log: snapshots, diffs and entries."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import timezone

from .context import current
from .models import AuditEntry


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The audited state of ``obj``: concrete fields, secrets replaced by masked values.

    A model lists fields that must never reach the log in ``audit_secret_fields`` and
    may add derived, safe values (masked PII) through ``audit_extra()``.
    """
    secret = set(getattr(obj, "audit_secret_fields", ()))
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in secret or field.name in ("created_at", "updated_at"):
            continue
        data[field.attname] = _plain(getattr(obj, field.attname))
    extra = getattr(obj, "audit_extra", None)
    if extra is not None:
        data.update(extra())
    return data


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    keys = before.keys() | after.keys()
    return {k: [before.get(k), after.get(k)] for k in sorted(keys) if before.get(k) != after.get(k)}


def entry(
    action: str,
    obj: models.Model,
    actor: Any,
    changes: dict[str, Any] | None = None,
    note: str = "",
) -> AuditEntry:
    """An unsaved audit entry for ``obj`` in the current acting context."""
    ctx = current()
    return AuditEntry(
        at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", "") or "system",
        channel=ctx.channel,
        request_id=ctx.request_id,
        client_address=ctx.client_address,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        area_path=getattr(obj, "area_path", "") or "",
        changes=changes or {},
        note=note[:200],
    )


def record(
    action: str,
    obj: models.Model,
    actor: Any,
    changes: dict[str, Any] | None = None,
    note: str = "",
) -> AuditEntry:
    item = entry(action, obj, actor, changes, note)
    item.save()
    return item


def record_many(items: Iterable[AuditEntry], batch_size: int = 2000) -> None:
    AuditEntry.objects.bulk_create(items, batch_size=batch_size)
