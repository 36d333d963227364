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

from . import audit
from .errors import NotFound, PermissionDenied
from .models import AuditEntry
from .roles import Perm
from .scoping import path_allowed, scope_paths

M = TypeVar("M", bound=models.Model)


def ensure_in_scope(actor: Any, obj: models.Model, perm: str = Perm.CHANGE) -> None:
    """Raise :class:`NotFound` unless ``actor`` holds ``perm`` where ``obj`` lives.

    Rows without ``area_path`` (catalogues) need ``perm`` at a root node, else 403.

    ``actor=None`` is the system itself (seeding, migrations, jobs) and is always allowed.
    """
    if actor is None:
        return
    path = getattr(obj, "area_path", None)
    if path is None:
        # A catalogue row (a tag, a holiday …) belongs to no area but serves the whole
        # tree: only someone holding ``perm`` at a root of the tree may change it.
        if not any(p.count("/") <= 1 for p in scope_paths(actor, perm)):
            raise PermissionDenied(
                "只有县级管理员可以修改目录数据", "only county administrators may change catalogues"
            )
        return
    if not path_allowed(actor, path, perm):
        raise NotFound()


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


def bulk_create(
    model: type[M], objs: Sequence[M], *, actor: Any, note: str = "", batch_size: int = 2000
) -> list[M]:
    """Insert many rows at once; each still gets its own audit entry with its values."""
    with transaction.atomic():
        for obj in objs:
            _prepare(obj)
            ensure_in_scope(actor, obj)
        created = model._default_manager.bulk_create(objs, batch_size=batch_size)
        if created and created[0].pk is None:
            raise RuntimeError(f"{model.__name__}.bulk_create returned no primary keys")
        audit.record_many(
            (
                audit.entry(AuditEntry.Action.CREATE, o, actor, audit.snapshot(o), note)
                for o in created
            ),
            batch_size=batch_size,
        )
    return created


def bulk_update(
    objs: Sequence[M],
    changes: dict[str, Any],
    *,
    actor: Any,
    note: str = "",
    batch_size: int = 1000,
) -> int:
    """Apply the same ``changes`` to many rows, with an audit entry and diff for each."""
    if not objs:
        return 0
    model = type(objs[0])
    now = timezone.now()
    with transaction.atomic():
        entries = []
        for obj in objs:
            if hasattr(obj, "updated_at"):
                obj.updated_at = now
            ensure_in_scope(actor, obj)
            before = audit.snapshot(obj)
            for name, value in changes.items():
                setattr(obj, name, value)
            _prepare(obj)
            ensure_in_scope(actor, obj)
            delta = audit.diff(before, audit.snapshot(obj))
            if delta:
                entries.append(audit.entry(AuditEntry.Action.UPDATE, obj, actor, delta, note))
        fields = list(changes) + (["area_path"] if hasattr(model, "area_path") else [])
        if hasattr(model, "updated_at"):
            fields.append("updated_at")
        model._default_manager.bulk_update(objs, fields, batch_size=batch_size)
        audit.record_many(entries, batch_size=batch_size)
    return len(entries)


def bulk_delete(objs: Sequence[models.Model], *, actor: Any, note: str = "") -> int:
    if not objs:
        return 0
    model = type(objs[0])
    with transaction.atomic():
        for obj in objs:
            ensure_in_scope(actor, obj)
        entries = [
            audit.entry(AuditEntry.Action.DELETE, o, actor, audit.snapshot(o), note) for o in objs
        ]
        model._default_manager.filter(pk__in=[o.pk for o in objs]).delete()
        audit.record_many(entries)
    return len(entries)
