"""Where a case goes: the grid of its location, the area that owns it at a level, and
the user who handles it there (the grid's worker, the zone's branch secretary, …)."""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from jiayuan.core.cache import ProcessCache
from jiayuan.core.errors import ValidationFailed
from jiayuan.core.roles import Role
from jiayuan.org import geo
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling, Membership
from jiayuan.org.paths import ancestor_path

from .choices import LEVEL_ORDER, Level

# The area kind that owns a case at each level; departments work under the street.
LEVEL_KIND = {
    Level.GRID: AreaKind.GRID,
    Level.ZONE: AreaKind.ZONE,
    Level.COMMUNITY: AreaKind.COMMUNITY,
    Level.STREET: AreaKind.STREET,
    Level.DEPARTMENT: AreaKind.STREET,
}
LEVEL_ROLE = {
    Level.GRID: Role.GRID_WORKER,
    Level.ZONE: Role.BRANCH_SECRETARY,
    Level.COMMUNITY: Role.COMMUNITY_STAFF,
    Level.STREET: Role.STREET_LEADER,
}


def locate_grid(
    *, lat: float | None = None, lng: float | None = None, dwelling: Dwelling | None = None
) -> Area:
    """The grid of a point or a dwelling, or a clear error."""
    if dwelling is not None:
        return _area(ancestor_path(dwelling.area_path, AreaKind.GRID))
    if lat is None or lng is None:
        raise ValidationFailed(
            "请提供位置（地图选点或房屋）", "a location is required", field="location"
        )
    grid = geo.locate(lat, lng, kind=AreaKind.GRID)
    if grid is None:
        raise ValidationFailed(
            "该位置不在本县任何网格内", "the location is outside every grid of the county",
            field="location",
        )  # fmt: skip
    return grid


def _area(path: str) -> Area:
    """The area at ``path``: from the process's geo index (grids and the levels above
    them are all there), else from the database."""
    return geo.area_at(path) or Area.objects.get(path=path)


def owner_for(grid: Area, level: str) -> Area:
    """The area that owns a case of ``grid`` at ``level``."""
    kind = LEVEL_KIND[Level(level)]
    if kind == AreaKind.GRID:
        return grid
    return _area(ancestor_path(grid.path, kind))


# How stale another process's copy of the handler map may be: a new grid worker gets
# cases at most this much later; changes made in this process count at once.
HANDLERS_TTL_S = 30.0


def _load_handlers() -> dict[tuple[int, str], Any]:
    """Who takes cases where: the earliest active membership of each level's role at each
    area, with its active user (the whole county's handlers are a few hundred rows)."""
    found: dict[tuple[int, str], Any] = {}
    rows = (
        Membership.objects.filter(role__in=LEVEL_ROLE.values(), active=True, user__is_active=True)
        .select_related("user")
        .order_by("id")
    )
    for membership in rows:
        found.setdefault((membership.area_id, membership.role), membership.user)
    return found


def _login_only(kwargs: dict[str, Any]) -> bool:
    fields = kwargs.get("update_fields")
    return fields is not None and set(fields) <= {"last_login"}  # a login changes no role


_handlers: ProcessCache[dict[tuple[int, str], Any]] = ProcessCache(
    _load_handlers, ttl=HANDLERS_TTL_S
)
_handlers.watch(Membership, uid="routing.membership")
_handlers.watch(settings.AUTH_USER_MODEL, uid="routing.user", ignore=_login_only)


def forget_handlers() -> None:
    """Drop this process's handler map; the next dispatch reads it again."""
    _handlers.forget()


def handler_for(owner: Area, level: str) -> Any:
    """The user who takes cases at ``owner`` for ``level`` (None for departments): the
    earliest active membership of the level's role there. Read from this process's
    handler map (:data:`HANDLERS_TTL_S`); each caller gets its own copy of the user."""
    role = LEVEL_ROLE.get(Level(level))
    if role is None:
        return None
    user = _handlers.get().get((owner.pk, role))
    return copy.copy(user) if user is not None else None


def level_above(level: str) -> str | None:
    index = LEVEL_ORDER.index(level)
    return LEVEL_ORDER[index + 1] if index + 1 < len(LEVEL_ORDER) else None


def supervisors(owner: Area) -> list[Any]:
    """Users who dispatch and review cases owned by ``owner`` (the level above it)."""
    user_model = get_user_model()
    roles = (Role.COMMUNITY_STAFF, Role.STREET_LEADER)
    prefixes = [owner.path[: i + 1] for i, ch in enumerate(owner.path) if ch == "/"]
    return list(
        user_model.objects.filter(
            memberships__role__in=roles,
            memberships__active=True,
            memberships__area_path__in=prefixes,
            is_active=True,
        ).distinct()
    )
