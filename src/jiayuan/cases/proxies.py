"""Who may file a case on a resident's behalf (红色代办) outside a staff scope.

Staff file cases anywhere in their scope (a grid, a community …). The 三长 (小区长,
楼栋长, 单元长) and the 党员中心户 hold no grid: they look after the residents of their
zone, building or unit, or the ten-odd households given to them, and file for those
residents — and for nobody else. Their reach comes from three places, all read here:

- the person's positions (``people.Position``) held today: a 三长 position covers the
  residents living under its area (zone, building or unit);
- the households of the person's 党员中心户 record (``people.CentralHousehold``);
- an account role of 三长 at an area (``org.Membership``, role ``three_head``),
  which covers the residents under that area like the position.

:func:`may_file_for` is what intake asks; :func:`served_residents` is what the pages
offer to choose from.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from jiayuan.core.roles import Role
from jiayuan.core.validity import valid_on
from jiayuan.org.models import Membership
from jiayuan.people.choices import THREE_HEADS
from jiayuan.people.models import CentralHousehold, Person, Position


def _held_today() -> Q:
    # a position's ``end`` (离任日期) is the last day served
    return valid_on(timezone.localdate(), start="start", end="end", until_inclusive=True)


def served_q(user: Any) -> Q | None:
    """The residents ``user`` looks after as 三长 or 党员中心户, as a filter on
    ``Person``; None when they look after nobody."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    paths = set(
        Membership.objects.filter(user=user, role=Role.THREE_HEAD, active=True).values_list(
            "area_path", flat=True
        )
    )
    person = Person.objects.filter(user=user).values_list("pk", flat=True).first()
    households: list[int] = []
    if person is not None:
        paths |= set(
            Position.objects.filter(
                _held_today(), person_id=person, role__in=THREE_HEADS
            ).values_list("area_path", flat=True)
        )
        households = list(
            CentralHousehold.objects.filter(person_id=person, households__isnull=False).values_list(
                "households", flat=True
            )
        )
    if not paths and not households:
        return None
    q = Q(household_id__in=households) if households else Q(pk__in=[])
    for path in sorted(paths):
        q |= Q(area_path__startswith=path)
    return q


def served_residents(user: Any) -> QuerySet[Person]:
    """The living residents ``user`` may file cases for as 三长 or 党员中心户."""
    q = served_q(user)
    if q is None:
        return Person.objects.none()
    return Person.objects.filter(q, death_date__isnull=True).order_by("area_path", "name")


def may_file_for(user: Any, resident: Person | None) -> bool:
    """Whether ``user`` may file a case on behalf of ``resident`` as their 三长 or
    党员中心户 (staff scope aside)."""
    if resident is None or resident.pk is None:
        return False
    return served_residents(user).filter(pk=resident.pk).exists()


def is_proxy(user: Any) -> bool:
    """Whether ``user`` looks after any residents as 三长 or 党员中心户."""
    return served_q(user) is not None
