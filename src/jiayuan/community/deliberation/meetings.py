"""Deliberation meetings (议事会): the agenda, the 1+3+N roster, sign-in, the quorum and the
minutes, published to the compound's residents only when staff say so.

The roster is seeded from the compound's positions (:class:`jiayuan.people.models.Position`):
the branch's secretary and committee members (the 1), the property manager, the owners'
committee and the resident representatives with the 三长 (the 3); staff add the N (in-service
party members, deputies and committee members, social organisations) by name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.people.choices import PositionRole
from jiayuan.people.models import Position

from ..choices import MeetingStatus, RosterGroup
from ..models import Meeting, RosterMember, ServicePosition, Topic
from .queries import require_serve, spots_for
from .topics import TEXT_MAX, _locked, _move, check, clean_text

ROSTER_OF_POSITION = {
    PositionRole.SECRETARY: RosterGroup.BRANCH,
    PositionRole.COMMITTEE_MEMBER: RosterGroup.BRANCH,
    PositionRole.PROPERTY_MANAGER: RosterGroup.PROPERTY,
    PositionRole.OWNERS_COMMITTEE: RosterGroup.OWNERS_COMMITTEE,
    PositionRole.RESIDENT_REP: RosterGroup.RESIDENT_REP,
    # the 三长 speak for their compound, building and unit
    PositionRole.ZONE_HEAD: RosterGroup.RESIDENT_REP,
    PositionRole.BUILDING_HEAD: RosterGroup.RESIDENT_REP,
    PositionRole.UNIT_HEAD: RosterGroup.RESIDENT_REP,
}
GROUP_ORDER = {g: i for i, g in enumerate(RosterGroup.values)}
MINUTES_MAX = 20000
# A meeting is recorded within a year of today, either way (a typo's year 0001 or 9999
# would not even convert to UTC).
MEETING_HORIZON = dt.timedelta(days=366)


def roster_from_positions(meeting: Meeting, zone_path: str) -> list[RosterMember]:
    """The roster's members (unsaved) from the compound's current positions: one row per
    person, in the group of their first position by 1+3+N order."""
    positions = (
        Position.objects.filter(
            area_path__startswith=zone_path,
            role__in=list(ROSTER_OF_POSITION),
            end__isnull=True,
            person__death_date__isnull=True,
        )
        .select_related("person")
        .order_by("pk")
    )
    best: dict[int, tuple[str, Any]] = {}
    for position in positions:
        group = ROSTER_OF_POSITION[PositionRole(position.role)]
        held = best.get(position.person_id)
        if held is None or GROUP_ORDER[group] < GROUP_ORDER[held[0]]:
            best[position.person_id] = (group, position.person)
    members = [
        RosterMember(meeting=meeting, group=group, person=person, name=person.name)
        for group, person in best.values()
    ]
    members.sort(key=lambda m: (GROUP_ORDER[m.group], m.name))
    return members


def schedule(
    actor: Any,
    topic: Topic,
    *,
    starts_at: dt.datetime,
    agenda: Any = "",
    quorum: Any = None,
    spot: ServicePosition | None = None,
) -> Meeting:
    """Schedule a meeting on ``topic`` with the roster seeded from the compound's positions;
    the quorum is more than half of the roster unless given."""
    require_serve(actor, topic.area_path)
    if abs(starts_at - timezone.now()) > MEETING_HORIZON:
        raise ValidationFailed(
            "会议时间须在前后一年之内", "a meeting starts within a year of today",
            field="starts_at",
        )  # fmt: skip
    agenda = clean_text(agenda, field="agenda", label="议程", max_len=TEXT_MAX, required=False)
    if spot is not None and not spots_for(topic.area_path).filter(pk=spot.pk).exists():
        raise ValidationFailed(
            "议事地点不在本小区", "the spot is not in this compound", field="spot"
        )
    with transaction.atomic():
        topic = _locked(topic)
        target = check(topic, "schedule")
        meeting = Meeting(topic=topic, starts_at=starts_at, agenda=agenda, spot=spot or topic.spot)
        meeting.save()
        members = roster_from_positions(meeting, topic.area_path)
        RosterMember.objects.bulk_create(members)
        if quorum is None:
            quorum = len(members) // 2 + 1 if members else 0
        if isinstance(quorum, bool) or not isinstance(quorum, int) or not 0 <= quorum <= 10000:
            raise ValidationFailed(
                "法定人数须为0到10000之间的整数", "quorum must be an integer 0-10000",
                field="quorum",
            )  # fmt: skip
        meeting.quorum = quorum
        meeting.save(update_fields=["quorum"])
        audit.record(
            AuditEntry.Action.CREATE, meeting, actor, audit.snapshot(meeting),
            f"安排议事会，参会 {len(members)} 人",
        )  # fmt: skip
        _move(topic, actor, target, "安排议事会")
    return meeting


def add_member(actor: Any, meeting: Meeting, *, group: Any, name: Any) -> RosterMember:
    """Add someone to the roster by name (the N: deputies, social organisations …)."""
    require_serve(actor, meeting.area_path)
    if group not in RosterGroup.values:
        raise ValidationFailed("请选择参会身份", "invalid roster group", field="group")
    name = clean_text(name, field="name", label="姓名/单位", max_len=100)
    _open_meeting(meeting)
    member = RosterMember.objects.create(meeting=meeting, group=group, name=name)
    audit.record(AuditEntry.Action.UPDATE, meeting, actor, {"roster": [None, name]}, "增加参会人员")
    return member


def _open_meeting(meeting: Meeting) -> None:
    if meeting.status not in (MeetingStatus.PLANNED, MeetingStatus.OPEN):
        raise Conflict(
            f"会议{meeting.get_status_display()}，不能签到或增加人员",
            f"a {meeting.status} meeting takes no sign-in",
            field="status",
        )


def sign_in(actor: Any, meeting: Meeting, member_id: Any) -> RosterMember:
    """Sign a roster member in (签到); the meeting opens with the first sign-in."""
    require_serve(actor, meeting.area_path)
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        _open_meeting(meeting)
        try:
            member = RosterMember.objects.select_for_update().get(
                meeting=meeting, pk=int(member_id)
            )
        except (RosterMember.DoesNotExist, TypeError, ValueError, OverflowError) as exc:
            raise ValidationFailed(
                "该人员不在本次会议名单中", "not on this meeting's roster", field="member_id"
            ) from exc
        if member.signed_in_at is not None:
            raise Conflict(f"{member.name} 已签到", f"{member.name} has signed in already")
        member.signed_in_at = timezone.now()
        member.save(update_fields=["signed_in_at"])
        if meeting.status == MeetingStatus.PLANNED:
            meeting.status = MeetingStatus.OPEN
            meeting.save(update_fields=["status", "updated_at"])
        audit.record(
            AuditEntry.Action.UPDATE, meeting, actor, {"signed_in": [None, member.name]}, "签到"
        )
    return member


def attendance(meeting: Meeting) -> dict[str, Any]:
    """Signed in against the roster and the quorum (法定人数)."""
    members = list(meeting.roster.all())
    signed = sum(1 for m in members if m.signed_in_at is not None)
    return {
        "roster": len(members),
        "signed_in": signed,
        "quorum": meeting.quorum,
        "quorum_met": signed >= meeting.quorum,
    }


def write_minutes(actor: Any, meeting: Meeting, *, minutes: Any, publish: bool) -> Meeting:
    """Save the minutes (纪要); ``publish`` shows them to the compound's residents and
    ends the meeting. Published minutes are final."""
    require_serve(actor, meeting.area_path)
    text = clean_text(minutes, field="minutes", label="会议纪要", max_len=MINUTES_MAX)
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if meeting.minutes_published_at is not None:
            raise Conflict("纪要已公开，不能再修改", "the minutes are published already")
        if meeting.status == MeetingStatus.CANCELLED:
            raise Conflict("会议已取消", "the meeting was cancelled")
        before = audit.snapshot(meeting)
        meeting.minutes = text
        if publish:
            now = timezone.now()
            meeting.minutes_published_at = now
            meeting.status = MeetingStatus.CLOSED
            meeting.ends_at = meeting.ends_at or now
        meeting.save()
        audit.record(
            AuditEntry.Action.UPDATE, meeting, actor, audit.diff(before, audit.snapshot(meeting)),
            "公开会议纪要" if publish else "保存会议纪要",
        )  # fmt: skip
    return meeting
