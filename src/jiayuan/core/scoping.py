"""Scoping: which rows of the area tree a user may see or change.

Every scoped row carries ``area_path``, the materialised path of the area it belongs to
(``370830/001/003/02/01/``). A user's memberships name area nodes and roles; a row is
visible when its path starts with the path of a membership whose role grants the
permission. This is the only place that decides it: pages, API, exports and reports all
call :func:`scope_q` through ``Model.objects.visible_to(user)``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from .roles import ROLE_PERMS, Perm

ALL = ""  # the path prefix every path starts with


def scope_paths(user: Any, perm: str = Perm.VIEW) -> list[str]:
    """The area paths under which ``user`` holds ``perm``; ``[""]`` means everywhere."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    cache: dict[str, list[str]] = user.__dict__.setdefault("_jiayuan_scope", {})
    if perm in cache:
        return cache[perm]
    if user.is_superuser:
        paths = [ALL]
    else:
        rows = _memberships(user)
        found = sorted({path for role, path in rows if perm in ROLE_PERMS.get(role, ())})
        # Drop paths already covered by a shorter one.
        paths = [p for p in found if not any(p != q and p.startswith(q) for q in found)]
    cache[perm] = paths
    return paths


def _memberships(user: Any) -> list[tuple[str, str]]:
    """The (role, area path) of each active membership, read once per user object: every
    permission's paths and :func:`roles` come from the same query."""
    rows: list[tuple[str, str]] | None = user.__dict__.get("_jiayuan_memberships")
    if rows is None:
        rows = list(user.memberships.filter(active=True).values_list("role", "area_path"))
        user.__dict__["_jiayuan_memberships"] = rows
    return rows


def roles(user: Any) -> set[str]:
    """The roles ``user`` holds anywhere through active memberships."""
    if user is None or not getattr(user, "is_authenticated", False):
        return set()
    return {role for role, _path in _memberships(user)}


def forget(user: Any) -> None:
    """Clear the per-object cache after memberships change."""
    user.__dict__.pop("_jiayuan_scope", None)
    user.__dict__.pop("_jiayuan_memberships", None)


def scope_q(user: Any, perm: str = Perm.VIEW, field: str = "area_path") -> Q:
    paths = scope_paths(user, perm)
    if ALL in paths:
        return Q()
    if not paths:
        return Q(pk__in=[])
    q = Q()
    for path in paths:
        q |= Q(**{f"{field}__startswith": path})
    return q


def path_allowed(user: Any, path: str, perm: str = Perm.VIEW) -> bool:
    return any(path.startswith(p) for p in scope_paths(user, perm))


def has_perm_anywhere(user: Any, perm: str) -> bool:
    return bool(scope_paths(user, perm))
