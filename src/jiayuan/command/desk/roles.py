"""One function per role: the sections of work its desk leads with, most pressing first.

A user holding several roles gets the desk of the highest (county admin → … → resident);
a superuser without memberships gets the county admin's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from jiayuan.cases.choices import Level
from jiayuan.community.residents import person_of
from jiayuan.core.roles import Perm, Role
from jiayuan.core.scoping import roles, scope_paths
from jiayuan.iot.choices import EscalationLevel
from jiayuan.org.choices import AreaKind
from jiayuan.org.paths import ancestor_path

from . import alarms, cases, community, forces, policies
from .base import Section


@dataclass(frozen=True)
class Now:
    """The clock of one desk: every section reads the same instant."""

    at: dt.datetime

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.at)


def grid_worker(user: Any, now: Now) -> list[Section]:
    return [
        cases.inbox(user, "accept", "待接单", "今日没有待接单的诉求", now.at),
        cases.own_overdue(user, now.at),
        alarms.active(user, EscalationLevel.GRID, "网格内待处置告警"),
        forces.my_calls(user),
        policies.door_visits(user, now.today),
        policies.to_verify(user, now.today),
        forces.duty_status(user),
    ]


def community_staff(user: Any, now: Now) -> list[Section]:
    return [
        cases.inbox(user, "dispatch", "待派单", "今日没有待派单的诉求", now.at),
        cases.overdue_in_scope(user, now.at),
        cases.raised_to(user, (Level.COMMUNITY,), "提级到社区的诉求", now.at),
        cases.inbox(user, "review", "待审核", "没有待审核的诉求", now.at),
        cases.inbox(user, "visit", "待回访", "没有待回访的诉求", now.at),
        alarms.active(user, EscalationLevel.COMMUNITY, "升级到社区的告警"),
        policies.open_tasks(user, now.today),
        community.wishes_waiting(user, now.today),
    ]


def _leader(levels: tuple[str, ...], title: str) -> Callable[[Any, Now], list[Section]]:
    def desk(user: Any, now: Now) -> list[Section]:
        return [
            cases.raised_to(user, levels, title, now.at),
            cases.overdue_in_scope(user, now.at),
            alarms.active(user, EscalationLevel.STREET, "升级到街道的告警"),
            forces.open_mobilisations(user),
            policies.per_community(user, now.today),
        ]

    return desk


street_leader = _leader((Level.STREET,), "提级到街道的诉求")
county_admin = _leader((Level.STREET, Level.DEPARTMENT), "提级到街道和部门的诉求")


def _compound(user: Any) -> str:
    """The compound (小区) the user serves, or their first serve path above one."""
    paths = scope_paths(user, Perm.SERVE)
    for path in paths:
        try:
            return ancestor_path(path, AreaKind.ZONE)
        except ValueError:
            continue
    return paths[0] if paths else "-"


def branch_secretary(user: Any, now: Now) -> list[Section]:
    person = person_of(user)
    return [
        community.wishes_waiting(user, now.today, under=_compound(user)),
        community.wishes_claimed_by(user, person, now.today),
        community.topics_to_act(user, now.at),
        community.follow_ups_due(user, now.today),
    ]


def three_head(user: Any, now: Now) -> list[Section]:
    person = person_of(user)
    return [
        community.wishes_waiting(user, now.today, under=_compound(user)),
        community.wishes_claimed_by(user, person, now.today),
        community.activities_coming(user, now.at),
    ]


def resident(user: Any, now: Now) -> list[Section]:
    person = person_of(user)
    return [
        cases.my_requests(person, now.at),
        community.topics_to_vote(user, person, now.at),
        community.my_wishes(user, person, now.today),
        community.my_activities(person, now.at),
        policies.my_benefits(person, now.today),
    ]


#: Highest role first: the desk of the first one the user holds.
DESKS: list[tuple[str, Callable[[Any, Now], list[Section]]]] = [
    (Role.COUNTY_ADMIN, county_admin),
    (Role.STREET_LEADER, street_leader),
    (Role.COMMUNITY_STAFF, community_staff),
    (Role.GRID_WORKER, grid_worker),
    (Role.BRANCH_SECRETARY, branch_secretary),
    (Role.THREE_HEAD, three_head),
    (Role.RESIDENT, resident),
]


def role_of(user: Any) -> str:
    """The role whose desk ``user`` sees."""
    held = roles(user)
    for role, _desk in DESKS:
        if role in held:
            return str(role)
    return str(Role.COUNTY_ADMIN) if getattr(user, "is_superuser", False) else str(Role.RESIDENT)


def desk_for(user: Any, at: dt.datetime | None = None) -> tuple[str, list[Section]]:
    """``(role, sections)`` of the user's desk at ``at`` (now)."""
    role = role_of(user)
    build = dict(DESKS)[role]
    return role, build(user, Now(at or timezone.now()))
