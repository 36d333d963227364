"""What the partners demo is planned on (the frame): the seeded county's communities
with their party-mass service centre (党群服务中心) and its rooms, the staff accounts
who sit on a call's panel and decide, the grid workers who make return visits, and a
sample of each community's living residents (community talents, supervision groups,
feedback) — as plain records, read once from the database in a handful of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from jiayuan.org.choices import AreaKind
from jiayuan.org.paths import ancestor_path

#: Residents read per community (talents, supervision groups and feedback draw on them).
RESIDENTS_PER_COMMUNITY = 240


@dataclass(frozen=True, slots=True)
class Resident:
    key: int  # the person's id
    name: str
    path: str  # the unit's path


@dataclass(slots=True)
class Community:
    """A community with what the demo needs of it. ``spaces`` are the centre itself
    (``("position", id, name)``) followed by its rooms (``("room", id, name)``)."""

    id: int
    path: str
    name: str
    street: str
    spaces: list[tuple[str, int, str]] = field(default_factory=list)
    staff: int | None = None  # a community staff account (the committee's working member)
    street_leader: int | None = None
    residents: list[Resident] = field(default_factory=list)


@dataclass
class Frame:
    county_id: int
    county_path: str
    division: str  # the county's GB/T 2260 code
    admin: int | None
    communities: list[Community]
    grid_workers: dict[str, int]  # grid path → a grid worker account
    today: dt.date

    def grid_worker_of(self, path: str) -> int | None:
        try:
            return self.grid_workers.get(ancestor_path(path, AreaKind.GRID))
        except ValueError:
            return None


def frame_from_db(today: dt.date) -> Frame:
    """The frame of the seeded county (one query per community for its residents)."""
    from jiayuan.community.choices import PositionKind
    from jiayuan.community.models import Room, ServicePosition
    from jiayuan.core.roles import Role
    from jiayuan.org.models import Area, Membership
    from jiayuan.people.models import Person

    county = Area.objects.filter(kind=AreaKind.COUNTY).order_by("path").first()
    if county is None:
        raise RuntimeError("the partners demo needs the seeded county")
    communities = [
        Community(pk, path, name, ancestor_path(path, AreaKind.STREET))
        for pk, path, name in Area.objects.filter(kind=AreaKind.COMMUNITY)
        .order_by("path")
        .values_list("pk", "path", "name")
    ]
    by_path = {c.path: c for c in communities}
    centres: dict[int, Community] = {}
    for pk, path, name in (
        ServicePosition.objects.filter(kind=PositionKind.CENTRE)
        .order_by("pk")
        .values_list("pk", "area_path", "name")
    ):
        community = by_path.get(_community_of(path))
        if community is not None and not community.spaces:
            community.spaces.append(("position", pk, name))
            centres[pk] = community
    for pk, position, name in (
        Room.objects.filter(position_id__in=list(centres))
        .order_by("pk")
        .values_list("pk", "position_id", "name")
    ):
        centres[position].spaces.append(("room", pk, name))
    admin = None
    streets: dict[str, int] = {}
    grids: dict[str, int] = {}
    for user, role, path in (
        Membership.objects.filter(active=True, user__is_active=True)
        .order_by("pk")
        .values_list("user_id", "role", "area_path")
    ):
        if role == Role.COUNTY_ADMIN and admin is None:
            admin = user
        elif role == Role.STREET_LEADER:
            streets.setdefault(path, user)
        elif role == Role.COMMUNITY_STAFF and path in by_path:
            by_path[path].staff = by_path[path].staff or user
        elif role == Role.GRID_WORKER:
            grids.setdefault(path, user)
    # adults, not the demo accounts' own people; the living-residents index serves the
    # path's range (a filter on the user column would make SQLite walk its index instead)
    accounts = set(Person.objects.filter(user__isnull=False).values_list("pk", flat=True))
    oldest, youngest = _years_ago(today, 85), _years_ago(today, 18)
    for c in communities:
        c.street_leader = streets.get(c.street)
        c.residents = [
            Resident(pk, name, path)
            for pk, name, path, born in Person.objects.filter(
                death_date__isnull=True, area_path__startswith=c.path
            )
            .order_by("pk")
            .values_list("pk", "name", "area_path", "birth_date")[:RESIDENTS_PER_COMMUNITY]
            if pk not in accounts and born is not None and oldest < born <= youngest
        ]
    return Frame(county.pk, county.path, county.code, admin, communities, grids, today)


def _years_ago(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _community_of(path: str) -> str:
    try:
        return ancestor_path(path, AreaKind.COMMUNITY)
    except ValueError:
        return ""
