"""The community demo (stage 社区服务): the tiny world holds what its plan says, the
county's plan meets the programme's figures, votes and bookings are consistent."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

import pytest
from django.db.models import F, Sum
from django.utils import timezone

from jiayuan.community.choices import PositionKind
from jiayuan.community.deliberation.matters import Rule
from jiayuan.community.deliberation.voting import Ballot, tally
from jiayuan.community.demo import frame_from_db, frame_from_world, plan_for, plan_services
from jiayuan.community.demo.frame import Matter
from jiayuan.community.models import (
    Activity,
    Booking,
    CensusEntry,
    CoBuildingUnit,
    Facility,
    HoursEntry,
    Market,
    MatterType,
    Room,
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
from jiayuan.community.wishes import TARGET_GROUPS, target_groups_of
from jiayuan.core.models import AuditEntry
from jiayuan.demo.plan import plan_world
from jiayuan.demo.records import rng_for

pytestmark = pytest.mark.django_db


def db_counts() -> dict[str, int]:
    kinds = Counter(ServicePosition.objects.values_list("kind", flat=True))
    return {
        "service_centres": kinds[PositionKind.CENTRE],
        "stations": kinds[PositionKind.STATION],
        "deliberation_spots": kinds[PositionKind.CORRIDOR] + kinds[PositionKind.PAVILION],
        "facilities": Facility.objects.count(),
        "rooms": Room.objects.count(),
        "bookings": Booking.objects.count(),
        "volunteer_teams": Team.objects.count(),
        "volunteers": Volunteer.objects.count(),
        "cobuilding_units": CoBuildingUnit.objects.count(),
        "markets": Market.objects.count(),
        "stalls": Stall.objects.count(),
        "market_visits": Market.objects.aggregate(n=Sum("visitors"))["n"] or 0,
        "activities": Activity.objects.count(),
        "signups": SignUp.objects.count(),
        "participations": SignUp.objects.filter(checked_in_at__isnull=False).count(),
        "hours_entries": HoursEntry.objects.count(),
        "wishes": Wish.objects.count(),
        "wish_events": WishEvent.objects.count(),
        "topics": Topic.objects.count(),
        "census_entries": CensusEntry.objects.count(),
        "votes": Vote.objects.count(),
        "resolutions": Topic.objects.filter(resolution__isnull=False).count(),
    }


def test_the_tiny_world_holds_what_its_plan_says() -> None:
    # given: the stage's one audit entry, written with the plan's counts
    entry = AuditEntry.objects.get(note__startswith="seed-demo: 社区服务")
    planned = entry.changes
    # then: the database holds exactly that, and a plan drawn again agrees
    assert db_counts() == {k: planned[k] for k in db_counts()}
    again = plan_for(7, "tiny").counts()
    for key in ("service_centres", "stations", "deliberation_spots", "facilities", "rooms",
                "volunteer_teams", "volunteers", "cobuilding_units", "markets", "market_visits",
                "activities", "participations", "wishes", "topics", "census_entries"):  # fmt: skip
        assert again[key] == planned[key], key
    # every page has rows
    assert all(planned[k] > 0 for k in ("volunteers", "markets", "activities", "wishes", "topics"))
    assert Activity.objects.aggregate(n=Sum("participations"))["n"] == planned["participations"]


def test_the_plan_is_reproducible_from_the_seed() -> None:
    now = timezone.now()
    frame = frame_from_db(timezone.localdate(now))
    one = plan_services(frame, "tiny", rng_for(7, "community"), now)
    two = plan_services(frame, "tiny", rng_for(7, "community"), now)
    other = plan_services(frame, "tiny", rng_for(8, "community"), now)
    assert [(v.person.key, v.teams) for v in one.volunteers] == [
        (v.person.key, v.teams) for v in two.volunteers
    ]
    assert [w.title for w in one.wishes] == [w.title for w in two.wishes]
    assert [v.person.key for v in one.volunteers] != [v.person.key for v in other.volunteers]


def test_the_county_plan_meets_the_programmes_figures() -> None:
    # given: the county as planned (not written) and the matter types installed
    now = timezone.now()
    today = timezone.localdate(now)
    world = plan_world("county", 7)
    matters = [
        Matter(m.code, m.name, m.census_basis, m.by_area, m.participation_share,
               m.participation_strict, m.pass_share, m.pass_strict)
        for m in MatterType.objects.order_by("code")
    ]  # fmt: skip
    frame = frame_from_world(world, today, matters)
    # when
    plan = plan_services(frame, "county", rng_for(7, "community"), now)
    counts = plan.counts()
    # then: the programme's figures
    assert counts["deliberation_spots"] == 44
    assert counts["volunteer_teams"] == 63
    assert counts["volunteers"] >= 1500
    assert counts["markets"] == 128
    assert counts["cobuilding_units"] == 218
    assert counts["activities"] >= 2000
    assert counts["service_centres"] == 26
    assert counts["stations"] == 126
    assert counts["facilities"] >= 2000
    assert counts["market_visits"] >= 60_000
    assert 95_000 <= counts["participations"] < 100_000  # 惠及居民近10万人次
    assert {t.colour for t in plan.teams} == {"red", "gold", "blue", "green", "orange", "rainbow"}
    # one centre per community, spots at compounds
    centres = [p.area.path for p in plan.positions if p.kind == PositionKind.CENTRE]
    assert sorted(centres) == sorted(c.path for c in frame.communities)
    spots = [p for p in plan.positions if p.kind in (PositionKind.CORRIDOR, PositionKind.PAVILION)]
    assert {p.area.path for p in spots} <= {z.path for z in frame.zones}  # each at a compound
    # volunteers aged 4–75, minors with an adult guardian of their household
    by_key = {r.key: r for r in frame.residents}
    for v in plan.volunteers:
        age = v.person.age(today)
        assert 4 <= age <= 75
        if age < 18:
            assert v.guardian is not None and by_key[v.guardian].age(today) >= 18
            assert by_key[v.guardian].household == v.person.household
    assert len({v.person.key for v in plan.volunteers}) == len(plan.volunteers)
    # votes: one per census entry, never more than the census, outcome as the rule says
    for t in plan.topics:
        entries = [v.entry for v in t.votes]
        assert len(entries) == len(set(entries)) <= len(t.census)
        if t.resolution is not None:
            choices: list[str | None] = [None] * len(t.census)
            for v in t.votes:
                choices[v.entry] = v.choice
            ballots = [Ballot(e.floor_area, c) for e, c in zip(t.census, choices, strict=True)]
            outcome = tally(ballots, Rule.of(t.matter))
            assert t.resolution[0] is outcome.passed
    # bookings of a room never overlap
    by_room: dict[int, list[tuple[dt.datetime, dt.datetime]]] = {}
    for b in plan.bookings:
        by_room.setdefault(b.room, []).append((b.starts_at, b.ends_at))
    for spans in by_room.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


def test_votes_never_exceed_the_census_and_are_one_per_entry() -> None:
    assert Vote.objects.exclude(entry__topic=F("topic")).count() == 0
    for topic in Topic.objects.prefetch_related("census", "votes").select_related(
        "matter_type", "resolution"
    ):
        entries = [v.entry_id for v in topic.votes.all()]
        assert len(entries) == len(set(entries)) <= len(topic.census.all())
        if hasattr(topic, "resolution"):
            chosen = {v.entry_id: v.choice for v in topic.votes.all()}
            outcome = tally(
                [Ballot(e.floor_area, chosen.get(e.pk)) for e in topic.census.all()],
                Rule.of(topic.matter_type),
            )
            assert topic.resolution.passed is outcome.passed
            assert topic.status == ("passed" if outcome.passed else "rejected")


def test_bookings_never_overlap() -> None:
    overlapping = Booking.objects.filter(
        room__bookings__starts_at__lt=F("ends_at"),
        room__bookings__ends_at__gt=F("starts_at"),
        room__bookings__status="confirmed",
        status="confirmed",
    ).exclude(room__bookings__pk=F("pk"))
    assert Booking.objects.count() > 0
    assert overlapping.count() == 0


def test_hours_are_credited_to_checked_in_volunteers_and_participations_add_up() -> None:
    for entry in HoursEntry.objects.select_related("volunteer", "activity"):
        assert SignUp.objects.filter(
            activity=entry.activity, person_id=entry.volunteer.person_id,
            checked_in_at__isnull=False,
        ).exists()  # fmt: skip
        assert entry.hours == entry.activity.hours > 0
    for activity in Activity.objects.all():
        checked = activity.signups.filter(checked_in_at__isnull=False).count()
        assert activity.participations == checked
        assert activity.signups.count() <= activity.capacity


def test_volunteers_are_aged_4_to_75_and_minors_have_a_guardian() -> None:
    today = timezone.localdate()
    for v in Volunteer.objects.select_related("person", "guardian"):
        born = v.person.birth_date
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        assert 4 <= age <= 75
        assert (v.guardian is not None) == (age < 18)
        assert v.area_path == v.person.area_path
    # the demo accounts' own persons stay free for the tests' own sign-ups
    assert not Volunteer.objects.filter(person__user__isnull=False).exists()


def test_units_phones_are_encrypted_and_masked() -> None:
    for unit in CoBuildingUnit.objects.all():
        assert "*" in unit.contact_phone_masked
        assert unit.contact_phone_enc and unit.contact_phone_masked not in unit.contact_phone_enc


def test_wish_timelines_follow_their_status() -> None:
    expected = {
        "collected": ["collected"],
        "claimed": ["collected", "claimed"],
        "fulfilled": ["collected", "claimed", "fulfilled"],
        "thanked": ["collected", "claimed", "fulfilled", "thanked"],
        "cancelled": ["collected", "cancelled"],
    }
    for wish in Wish.objects.filter(number__startswith="WY").prefetch_related("events"):
        kinds = [e.kind for e in wish.events.all()]
        assert kinds == expected[wish.status], wish.number
        stamps = [e.at for e in wish.events.all()]
        assert stamps == sorted(stamps)
        assert wish.created_at.date() < timezone.localdate()


def test_demo_wishes_name_their_groups_as_collecting_a_wish_does() -> None:
    # given the demo's wishes for residents who hold a care tag
    wishes = list(
        Wish.objects.filter(number__startswith="WY", beneficiary__isnull=False)
        .exclude(target_groups=[])
        .select_related("beneficiary")
    )
    assert wishes
    # then their groups are the short labels a wish collected today would carry
    labels = set(TARGET_GROUPS.values())
    for wish in wishes:
        assert set(wish.target_groups) <= labels, (wish.number, wish.target_groups)
        assert set(wish.target_groups) <= set(target_groups_of(wish.beneficiary)), wish.number
