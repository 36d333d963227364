"""The action layer's generic half: create, update and delete with scope and audit.

Each app's ``services.py`` holds its domain actions; they call these helpers so that
pages, API, CLI, jobs and imports all write the same audit entries and re-check scope
inside the same transaction (a write that would move a row outside the actor's scope is
rolled back and answers "not found").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import models, transaction
from django.utils import timezone

from . import audit, bulk
from .errors import NotFound, PermissionDenied
from .models import AuditEntry
from .roles import Perm
from .scoping import path_allowed, scope_paths

M = TypeVar("M", bound=models.Model)


def ensure_in_scope(actor: Any, obj: models.Model, perm: str = Perm.CHANGE) -> None:
    """Raise :class:`NotFound` unless ``actor`` holds ``perm`` where ``obj`` lives.

    Rows without ``area_path`` (catalogues: tags, policies, holidays …) need ``perm`` at a
    root node. Staff, who read the catalogues, get 403 without it; a user who sees no
    area at all (a resident) gets 404, as for any row outside their scope. This is the
    one rule for who may edit a policy or a tag (docs/decisions.md, "Rows without an
    area path").

    ``actor=None`` is the system itself (seeding, migrations, jobs) and is always allowed.
    """
    if actor is None:
        return
    path = getattr(obj, "area_path", None)
    if path is None:
        # A catalogue row belongs to no area but serves the whole tree: only someone
        # holding ``perm`` at a root of the tree may change it.
        if not any(p.count("/") <= 1 for p in scope_paths(actor, perm)):
            if not scope_paths(actor, Perm.VIEW):
                raise NotFound()
            raise PermissionDenied(
                "只有县级管理员可以修改目录数据", "only county administrators may change catalogues"
            )
        return
    if not path_allowed(actor, path, perm):
        raise NotFound()


def may_change(actor: Any, obj: models.Model, perm: str = Perm.CHANGE) -> bool:
    """Whether :func:`ensure_in_scope` lets ``actor`` change ``obj`` (what pages and API
    answers show as "may edit"; the write itself checks again)."""
    try:
        ensure_in_scope(actor, obj, perm)
    except (NotFound, PermissionDenied):
        return False
    return True


def _prepare(obj: models.Model) -> None:
    derive = getattr(obj, "derive_area_path", None)
    if derive is not None:
        obj.area_path = derive()  # type: ignore[attr-defined]


def create(model: type[M], *, actor: Any, note: str = "", **fields: Any) -> M:
    """Create one row, audited, inside the actor's scope."""
    obj = model(**fields)
    return save_new(obj, actor=actor, note=note)


def save_new(obj: M, *, actor: Any, note: str = "") -> M:
    with transaction.atomic():
        _prepare(obj)
        ensure_in_scope(actor, obj)
        obj.save()
        audit.record(AuditEntry.Action.CREATE, obj, actor, audit.snapshot(obj), note)
    return obj


def update(obj: M, *, actor: Any, note: str = "", **changes: Any) -> M:
    """Change fields of ``obj``; both its old and its new place must be in scope."""
    with transaction.atomic():
        ensure_in_scope(actor, obj)
        before = audit.snapshot(obj)
        for name, value in changes.items():
            setattr(obj, name, value)
        _prepare(obj)
        ensure_in_scope(actor, obj)
        obj.save()
        after = audit.snapshot(obj)
        delta = audit.diff(before, after)
        if delta:
            audit.record(AuditEntry.Action.UPDATE, obj, actor, delta, note)
    return obj


def delete(obj: models.Model, *, actor: Any, note: str = "") -> None:
    with transaction.atomic():
        ensure_in_scope(actor, obj)
        entry = audit.entry(AuditEntry.Action.DELETE, obj, actor, audit.snapshot(obj), note)
        obj.delete()
        entry.save()


def _check_all(actor: Any, objs: Sequence[models.Model], perm: str = Perm.CHANGE) -> None:
    """:func:`ensure_in_scope` for many rows: each distinct place is checked once."""
    if actor is None:
        return
    seen: set[tuple[type[models.Model], str | None]] = set()
    for obj in objs:
        key = (type(obj), getattr(obj, "area_path", None))
        if key not in seen:
            ensure_in_scope(actor, obj, perm)
            seen.add(key)


def bulk_create(model: type[M], objs: Sequence[M], *, actor: Any, note: str = "") -> list[M]:
    """Insert many rows at once, each with its own audit entry holding its values.

    The bulk path of the action layer, for seeds, imports and jobs: area paths are
    derived and checked against the actor's scope as :func:`create` does, then the rows
    and their audit entries are written as tuples (``executemany`` on SQLite, ``COPY``
    on PostgreSQL; see :mod:`jiayuan.core.bulk`). Returns ``objs`` with their primary
    keys set. Sends no signals, like Django's ``bulk_create``.
    """
    if not objs:
        return []
    with transaction.atomic():
        for obj in objs:
            _prepare(obj)
        _check_all(actor, objs)
        created = bulk.insert(model, objs)
        audit.record_snapshots(created, actor, note)
    return created


def bulk_update(
    objs: Sequence[M],
    changes: dict[str, Any],
    *,
    actor: Any,
    note: str = "",
) -> int:
    """Apply the same ``changes`` to many rows, with an audit entry and diff for each."""
    if not objs:
        return 0
    model = type(objs[0])
    now = timezone.now()
    with transaction.atomic():
        _check_all(actor, objs)
        deltas = []
        for obj in objs:
            if hasattr(obj, "updated_at"):
                obj.updated_at = now
            before = audit.snapshot(obj)
            for name, value in changes.items():
                setattr(obj, name, value)
            _prepare(obj)
            deltas.append(audit.diff(before, audit.snapshot(obj)))
        _check_all(actor, objs)
        fields = list(changes) + (["area_path"] if hasattr(model, "area_path") else [])
        if hasattr(model, "updated_at"):
            fields.append("updated_at")
        bulk.update(objs, fields)
        return audit.record_changed(objs, deltas, actor, note)


def bulk_update_each(
    objs: Sequence[M],
    fields: Sequence[str],
    *,
    actor: Any,
    note: str = "",
    previous: Sequence[dict[str, Any]] | None = None,
) -> int:
    """Write ``fields`` of many rows, each already holding its own new values (a
    household's head, a device's token), with an audit entry and diff per changed row.

    ``previous`` gives each row's old values of ``fields`` (by attname) when the caller
    knows them (a row it has just created); otherwise they are read from the database.
    Returns the number of rows whose values changed.
    """
    if not objs:
        return 0
    model = type(objs[0])
    attnames = [bulk.concrete(model, name).attname for name in fields]
    with transaction.atomic():
        if previous is None:
            stored: dict[Any, dict[str, Any]] = {}
            pks = [o.pk for o in objs]
            for start in range(0, len(pks), 500):
                rows = model._default_manager.filter(pk__in=pks[start : start + 500])
                for values in rows.values("pk", *attnames):
                    stored[values.pop("pk")] = values
            previous = [stored[o.pk] for o in objs]
        _check_all(actor, objs)
        now = timezone.now()
        deltas = []
        for obj, old in zip(objs, previous, strict=True):
            if hasattr(obj, "updated_at"):
                obj.updated_at = now
            new = {a: audit._plain(getattr(obj, a)) for a in attnames}
            deltas.append(audit.diff({a: audit._plain(old.get(a)) for a in attnames}, new))
        written = list(fields) + (["updated_at"] if hasattr(model, "updated_at") else [])
        bulk.update(objs, written)
        return audit.record_changed(objs, deltas, actor, note)


def bulk_delete(objs: Sequence[models.Model], *, actor: Any, note: str = "") -> int:
    """Delete many rows, each with an audit entry holding the values it had."""
    if not objs:
        return 0
    model = type(objs[0])
    with transaction.atomic():
        _check_all(actor, objs)
        written = audit.record_snapshots(objs, actor, note, action=AuditEntry.Action.DELETE)
        model._default_manager.filter(pk__in=[o.pk for o in objs]).delete()
    return written
