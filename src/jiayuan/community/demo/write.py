"""Writing a :class:`~.plan.ServicesPlan` through the shared bulk path: parents as built
instances (:func:`jiayuan.core.bulk.insert` gives them their ids), leaves as tuples
(:func:`jiayuan.core.bulk.insert_tuples`), census entries with reserved ids so their
votes can point at them. One audit entry summarises the stage, as at the bench scale:
a quarter of a million demo rows audited one by one would double the stage for no one to
read."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from jiayuan.community.choices import MeetingStatus
from jiayuan.community.models import (
    Activity,
    Booking,
    BookingSeries,
    CensusEntry,
    CoBuildingUnit,
    Facility,
    FollowUpTask,
    HoursEntry,
    Market,
    Meeting,
    Proposal,
    Resolution,
    Room,
    RosterMember,
    ServicePosition,
    SignUp,
    Stall,
    Team,
    Topic,
    Volunteer,
    Vote,
    Wish,
    WishEvent,
)
from jiayuan.core import audit, bulk
from jiayuan.core.models import AuditEntry
from jiayuan.org.models import Area

from .frame import Frame
from .plan import ServicesPlan

NOTE = "seed-demo"


def _tuples(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    return bulk.insert_tuples(model, fields, rows)


def write_plan(plan: ServicesPlan, frame: Frame, now: dt.datetime | None = None) -> dict[str, int]:
    """Write ``plan`` (planned on ``frame``, read from this database) in one transaction;
    returns the plan's counts."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=400)  # the positions and teams predate the year shown
    with transaction.atomic():
        positions = bulk.insert(ServicePosition, [
            bulk.build(ServicePosition, kind=p.kind, name=p.name, area_id=p.area.id,
                       area_path=p.area.path, address=p.address, lat=p.lat, lng=p.lng,
                       opening_hours=p.opening_hours, phone=p.phone, description=p.description,
                       created_at=since)
            for p in plan.positions
        ])  # fmt: skip
        _tuples(
            Facility,
            ("position_id", "name", "category", "quantity", "condition", "area_path",
             "created_at", "updated_at"),
            ((positions[f.position].pk, f.name, f.category, f.quantity, f.condition,
              positions[f.position].area_path, since, now) for f in plan.facilities),
        )  # fmt: skip
        rooms = bulk.insert(Room, [
            bulk.build(Room, position_id=positions[r.position].pk, name=r.name,
                       capacity=r.capacity, purposes=r.purposes,
                       area_path=positions[r.position].area_path, created_at=since)
            for r in plan.rooms
        ])  # fmt: skip
        series = bulk.insert(BookingSeries, [
            bulk.build(BookingSeries, room_id=rooms[s.room].pk, title=s.title, rule=s.rule,
                       area_path=rooms[s.room].area_path, created_at=since)
            for s in plan.series
        ])  # fmt: skip
        bookings = bulk.insert(Booking, [
            bulk.build(Booking, room_id=rooms[b.room].pk,
                       series_id=series[b.series].pk if b.series is not None else None,
                       title=b.title, organiser=b.organiser, starts_at=b.starts_at,
                       ends_at=b.ends_at, attendees=b.attendees, area_path=rooms[b.room].area_path,
                       created_at=min(b.starts_at - dt.timedelta(days=3), now))
            for b in plan.bookings
        ])  # fmt: skip
        teams = bulk.insert(Team, [
            bulk.build(Team, name=t.name, colour=t.colour, area_id=t.area.id, area_path=t.area.path,
                       leader_id=t.leader, description=t.description, created_at=since)
            for t in plan.teams
        ])  # fmt: skip
        volunteers = bulk.insert(Volunteer, [
            bulk.build(Volunteer, person_id=v.person.key, guardian_id=v.guardian, skills=v.skills,
                       availability=v.availability, joined_on=v.joined_on,
                       area_path=v.person.path,
                       created_at=dt.datetime.combine(v.joined_on, dt.time(9), tzinfo=now.tzinfo))
            for v in plan.volunteers
        ])  # fmt: skip
        _tuples(
            Volunteer.teams.through,
            ("volunteer_id", "team_id"),
            ((volunteers[i].pk, teams[t].pk)
             for i, v in enumerate(plan.volunteers) for t in v.teams),
        )  # fmt: skip
        unit_objs = []
        for u in plan.units:
            unit = bulk.build(
                CoBuildingUnit, name=u.name, kind=u.kind, area_id=u.area.id,
                area_path=u.area.path, contact_name=u.contact_name, created_at=since,
            )  # fmt: skip
            unit.set_contact_phone(u.contact_phone)
            unit_objs.append(unit)
        units = bulk.insert(CoBuildingUnit, unit_objs)
        markets = bulk.insert(Market, [
            bulk.build(Market, title=m.title, area_id=m.area.id, area_path=m.area.path,
                       position_id=positions[m.position].pk, place=m.place, starts_at=m.starts_at,
                       ends_at=m.ends_at, status=m.status, visitors=m.visitors, report=m.report,
                       created_at=min(m.starts_at - dt.timedelta(days=10), now))
            for m in plan.markets
        ])  # fmt: skip
        stalls = bulk.insert(Stall, [
            bulk.build(Stall, market_id=markets[s.market].pk, holder_kind=s.holder_kind,
                       unit_id=units[s.unit].pk if s.unit is not None else None,
                       holder_name=s.holder_name, served=s.served)
            for s in plan.stalls
        ])  # fmt: skip
        _tuples(
            Stall.items.through,
            ("stall_id", "serviceitem_id"),
            ((stalls[i].pk, item) for i, s in enumerate(plan.stalls) for item in s.items),
        )
        activities = bulk.insert(Activity, [
            bulk.build(Activity, title=a.title, kind=a.kind, team_id=teams[a.team].pk,
                       area_id=a.area.id, area_path=a.area.path,
                       position_id=positions[a.position].pk if a.position is not None else None,
                       booking_id=bookings[a.booking].pk if a.booking is not None else None,
                       place=a.place, target_groups=a.target_groups, starts_at=a.starts_at,
                       ends_at=a.ends_at, capacity=a.capacity, hours=a.hours, status=a.status,
                       checkin_token=secrets.token_hex(16), participations=a.participations,
                       report=a.report,
                       created_at=min(a.starts_at - dt.timedelta(days=7), now))
            for a in plan.activities
        ])  # fmt: skip
        _tuples(
            SignUp,
            ("activity_id", "person_id", "signed_up_at", "checked_in_at"),
            ((activities[i].pk, key, signed, checked)
             for i, a in enumerate(plan.activities) for key, signed, checked in a.signups),
        )  # fmt: skip
        _tuples(
            HoursEntry,
            ("volunteer_id", "activity_id", "hours", "reason", "area_path", "created_at",
             "updated_at"),
            ((volunteers[v].pk, activities[i].pk, a.hours, f"参加活动：{a.title}",
              volunteers[v].area_path, a.ends_at, a.ends_at)
             for i, a in enumerate(plan.activities) for v in a.credited),
        )  # fmt: skip
        wishes = bulk.insert(Wish, [
            bulk.build(Wish, number=w.number, title=w.title, category=w.category,
                       channel=w.channel, area_id=w.area.id, area_path=w.area.path,
                       beneficiary_id=w.beneficiary, target_groups=w.target_groups,
                       status=w.status, claimer_kind=w.claimer_kind, claimer_id=w.claimer,
                       claimer_name=w.claimer_name, claimed_at=w.claimed_at, due_on=w.due_on,
                       fulfilled_at=w.fulfilled_at, thanked_at=w.thanked_at, thanks=w.thanks,
                       created_at=w.created_at)
            for w in plan.wishes
        ])  # fmt: skip
        _tuples(
            WishEvent,
            ("wish_id", "at", "kind", "actor_name", "note", "data"),
            ((wishes[i].pk, at, kind, actor, note, {})
             for i, w in enumerate(plan.wishes) for at, kind, actor, note in w.events),
        )  # fmt: skip
        _write_topics(plan, positions)
        counts = plan.counts()
        county = Area.objects.get(path=frame.county.path)
        audit.record(
            AuditEntry.Action.CREATE, county, None, counts,
            f"{NOTE}: 社区服务演示数据，批量写入，逐行审计已省略",
        )  # fmt: skip
    return counts


def _write_topics(plan: ServicesPlan, positions: list[ServicePosition]) -> None:
    from jiayuan.community.models import MatterType

    matters = dict(MatterType.objects.values_list("code", "pk"))
    topics = bulk.insert(Topic, [
        bulk.build(Topic, zone_id=t.zone.id, area_path=t.zone.path,
                   spot_id=positions[t.spot].pk, title=t.title,
                   description=t.description, matter_type_id=matters[t.matter.code],
                   status=t.status, raised_by_id=t.raised_by, voting_opens_at=t.voting_opens_at,
                   voting_closes_at=t.voting_closes_at, created_at=t.created_at)
        for t in plan.topics
    ])  # fmt: skip
    _tuples(
        Proposal,
        ("topic_id", "title", "body", "author_id", "author_name", "created_at"),
        ((topics[i].pk, title, body, author, name, t.created_at)
         for i, t in enumerate(plan.topics) for title, body, author, name in t.proposals),
    )  # fmt: skip
    meetings = bulk.insert(Meeting, [
        bulk.build(Meeting, topic_id=topics[i].pk, spot_id=topics[i].spot_id,
                   area_path=t.zone.path, starts_at=t.meeting[0], ends_at=t.meeting[1],
                   agenda=t.meeting[2], quorum=t.meeting[3], status=MeetingStatus.CLOSED,
                   minutes=t.meeting[5], minutes_published_at=t.meeting[6],
                   created_at=t.created_at)
        for i, t in enumerate(plan.topics)
    ])  # fmt: skip
    _tuples(
        RosterMember,
        ("meeting_id", "group", "person_id", "name", "signed_in_at"),
        ((meetings[i].pk, group, person, name, signed)
         for i, t in enumerate(plan.topics) for group, person, name, signed in t.roster),
    )  # fmt: skip
    ids = bulk.reserve_ids(CensusEntry, sum(len(t.census) for t in plan.topics))
    entry_ids: list[list[int]] = []
    rows = []
    k = 0
    for i, t in enumerate(plan.topics):
        mine = ids[k : k + len(t.census)]
        k += len(t.census)
        entry_ids.append(mine)
        for pk, e in zip(mine, t.census, strict=True):
            rows.append((pk, topics[i].pk, e.household, e.dwelling, e.voter, e.label, e.floor_area))
    _tuples(
        CensusEntry,
        ("id", "topic_id", "household_id", "dwelling_id", "voter_id", "label", "floor_area"),
        rows,
    )
    _tuples(
        Vote,
        ("topic_id", "entry_id", "choice", "cast_by_id", "paper", "cast_at"),
        ((topics[i].pk, entry_ids[i][v.entry], v.choice, v.cast_by, v.paper, v.cast_at)
         for i, t in enumerate(plan.topics) for v in t.votes),
    )  # fmt: skip
    _tuples(
        Resolution,
        ("topic_id", "passed", "tally", "text", "decided_at"),
        ((topics[i].pk, t.resolution[0], t.resolution[1], t.resolution[2], t.voting_closes_at)
         for i, t in enumerate(plan.topics) if t.resolution is not None),
    )  # fmt: skip
    _tuples(
        FollowUpTask,
        ("topic_id", "title", "owner", "due_on", "status", "progress", "done_at", "note"),
        ((topics[i].pk, title, owner, due, status, progress, done, "")
         for i, t in enumerate(plan.topics)
         for title, owner, due, status, progress, done in t.tasks),
    )  # fmt: skip
