"""Writing the audit log: snapshots, diffs and entries.

One entry is built by :func:`entry` and saved by :func:`record`. The bulk path writes
many entries as tuples instead of model instances (:func:`record_snapshots`,
:func:`record_rows`, :func:`record_many`): the same columns and values, sent by
``executemany`` on SQLite and ``COPY`` on PostgreSQL through :mod:`jiayuan.core.bulk`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from django.db import models
from django.utils import timezone

from . import bulk
from .context import current
from .models import AuditEntry

# The columns of an audit row, in the order :func:`record_rows` expects them.
ROW_FIELDS = (
    "at", "actor_id", "actor_name", "channel", "request_id", "client_address", "action",
    "object_type", "object_id", "object_repr", "area_path", "changes", "note",
)  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, str):  # choices (str enums) are written as their text already
        return value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


@cache
def _snapshot_fields(model: type[models.Model], secret: frozenset[str]) -> tuple[str, ...]:
    return tuple(
        f.attname
        for f in model._meta.concrete_fields
        if f.name not in secret and f.name not in ("created_at", "updated_at")
    )


def snapshot(obj: models.Model) -> dict[str, Any]:
    """The audited state of ``obj``: concrete fields, secrets replaced by masked values.

    A model lists fields that must never reach the log in ``audit_secret_fields`` and
    may add derived, safe values (masked PII) through ``audit_extra()``.
    """
    secret = frozenset(getattr(obj, "audit_secret_fields", ()))
    data: dict[str, Any] = {}
    values = obj.__dict__  # where concrete values live; a deferred one is loaded
    for attname in _snapshot_fields(type(obj), secret):
        value = values[attname] if attname in values else getattr(obj, attname)
        # the common plain values skip the conversion call
        data[attname] = value if type(value) in _AS_IS else _plain(value)
    extra = getattr(obj, "audit_extra", None)
    if extra is not None:
        data.update(extra())
    return data


_AS_IS = frozenset({str, int, float, bool, type(None)})


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


def _who(actor: Any) -> tuple[Any, str, str, str, str]:
    """The acting columns shared by every entry of one bulk write."""
    ctx = current()
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    name = getattr(actor, "username", "") or "system"
    return actor_id, name, ctx.channel, ctx.request_id, ctx.client_address


def record_rows(rows: Iterable[Sequence[Any]]) -> int:
    """Write audit rows given as tuples in :data:`ROW_FIELDS` order; returns how many."""
    return bulk.insert_tuples(AuditEntry, ROW_FIELDS, rows)


def record_snapshots(
    objs: Iterable[models.Model],
    actor: Any,
    note: str = "",
    *,
    action: str = AuditEntry.Action.CREATE,
) -> int:
    """One audit entry per row of ``objs`` (saved already), each with the row's values
    (:func:`snapshot`), written as tuples in one pass: the bulk path's audit."""
    at = timezone.now()
    actor_id, name, channel, request_id, address = _who(actor)
    note = note[:200]

    def rows() -> Iterable[tuple[Any, ...]]:
        for obj in objs:
            yield (
                at, actor_id, name, channel, request_id, address, action,
                obj._meta.label_lower, str(obj.pk), str(obj)[:200],
                getattr(obj, "area_path", "") or "", snapshot(obj), note,
            )  # fmt: skip

    return record_rows(rows())


def record_changed(
    objs: Iterable[models.Model],
    changes: Iterable[dict[str, Any]],
    actor: Any,
    note: str = "",
) -> int:
    """One ``update`` entry per row of ``objs`` with its own diff (``[before, after]``
    per field, as :func:`diff` gives); rows whose diff is empty get none."""
    at = timezone.now()
    actor_id, name, channel, request_id, address = _who(actor)
    note = note[:200]
    action = AuditEntry.Action.UPDATE

    def rows() -> Iterable[tuple[Any, ...]]:
        for obj, delta in zip(objs, changes, strict=True):
            if not delta:
                continue
            yield (
                at, actor_id, name, channel, request_id, address, action,
                obj._meta.label_lower, str(obj.pk), str(obj)[:200],
                getattr(obj, "area_path", "") or "", delta, note,
            )  # fmt: skip

    return record_rows(rows())


def record_many(items: Iterable[AuditEntry], batch_size: int = 2000) -> None:
    """Write unsaved :class:`AuditEntry` instances (built by :func:`entry`) as tuples.

    ``batch_size`` is kept for callers that passed it; the bulk writer chunks itself."""
    del batch_size
    record_rows(tuple(getattr(e, name) for name in ROW_FIELDS) for e in items)
