"""Who sees which topic: the compound's residents and the staff whose scope covers it.

Reads start here, in pages and API alike. A topic outside the user's sight answers 404;
a resident of the compound sees it but may not act as staff (403); acting needs
:attr:`~jiayuan.core.roles.Perm.SERVE` over the compound.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from jiayuan.core.errors import NotFound, PermissionDenied
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import has_perm_anywhere, path_allowed, scope_q
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from ..models import CensusEntry, Meeting, ServicePosition, Topic
from ..residents import compound_q, may_see_compound, person_of


def topics_for(user: Any) -> QuerySet[Topic]:
    """Topics ``user`` may see: staff scope, or the compound they live in."""
    return Topic.objects.filter(compound_q(user))


def get_topic(user: Any, pk: Any) -> Topic:
    """The topic ``pk`` if ``user`` may see it, else :class:`NotFound`."""
    topic = (
        topics_for(user)
        .select_related("zone", "matter_type", "spot", "raised_by", "created_by")
        .filter(pk=pk)
        .first()
    )
    if topic is None:
        raise NotFound()
    return topic


def get_meeting(user: Any, pk: Any) -> Meeting:
    meeting = (
        Meeting.objects.filter(compound_q(user))
        .select_related("topic__zone", "topic__matter_type", "spot")
        .filter(pk=pk)
        .first()
    )
    if meeting is None:
        raise NotFound()
    return meeting


def is_staff_for(user: Any, path: str) -> bool:
    """Whether ``user`` runs deliberation where ``path`` lies (holds SERVE there)."""
    return path_allowed(user, path, Perm.SERVE)


def require_serve(user: Any, path: str) -> None:
    """403 for someone who sees the compound but does not serve it, 404 for others."""
    if user is None or is_staff_for(user, path):
        return
    if may_see_compound(user, path):
        raise PermissionDenied(
            "只有小区工作人员可以执行此操作", "only the compound's staff may do this"
        )
    raise NotFound()


def serves_anywhere(user: Any) -> bool:
    return has_perm_anywhere(user, Perm.SERVE)


def compounds_served(user: Any) -> QuerySet[Area]:
    """The compounds (小区) where ``user`` runs deliberation."""
    return (
        Area.objects.filter(kind=AreaKind.ZONE)
        .filter(scope_q(user, Perm.SERVE, field="path"))
        .order_by("path")
    )


def minutes_visible(user: Any, meeting: Meeting) -> bool:
    """Staff read the draft minutes; residents read them once published."""
    return meeting.minutes_published_at is not None or is_staff_for(user, meeting.area_path)


def my_entry(user: Any, topic: Topic) -> CensusEntry | None:
    """The census entry the signed-in resident votes for, if any."""
    person = person_of(user)
    if person is None:
        return None
    return (
        CensusEntry.objects.filter(topic=topic, voter=person)
        .select_related("household", "dwelling")
        .order_by("pk")
        .first()
    )


def spots_for(zone_path: str) -> QuerySet[ServicePosition]:
    """Where a compound's meeting may be held: its own 聚邻廊 and 议事亭 first, then the
    positions of the areas above it (the community's party-mass service centre)."""
    parts = zone_path.rstrip("/").split("/")
    above = ["/".join(parts[:i]) + "/" for i in range(1, len(parts))]
    return ServicePosition.objects.filter(
        Q(area_path__startswith=zone_path) | Q(area_path__in=above), active=True
    ).order_by("-area_path", "kind", "name")
