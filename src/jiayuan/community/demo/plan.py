"""Planning the community demo: every row as a plain record, drawn from one random
stream, before anything is written (:func:`plan_services`).

What the county gets (the programme's figures, DESIGN.md): a party-mass service centre
in each of the 26 communities, 126 red-sail stations at the compounds, 2,000+ facility
sets, rooms with a year of bookings that never overlap, 44 deliberation spots, 63
volunteer teams of the six colours with 1,500+ volunteers aged 4–75 (a minor's guardian
recorded), 218 co-building units, 128 markets with 60,000+ visits, 2,000+ activities with
nearly 100,000 participations (人次) and the hours they credit, a year of wishes with their
timelines, and topics with meetings, a census, votes and a resolution consistent with the
tally. The tiny world (the tests) gets a few of each, all in the past.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from jiayuan.community.choices import (
    ActivityKind,
    ActivityStatus,
    CensusBasis,
    ClaimerKind,
    PositionKind,
    RosterGroup,
    StallHolder,
    TaskStatus,
    TeamColour,
    TopicStatus,
    VoteChoice,
    WishCategory,
    WishChannel,
    WishStatus,
)
from jiayuan.community.wishes import TARGET_GROUPS
from jiayuan.core.rules import age
from jiayuan.core.sampling import distribute, mobile_number

from . import texts
from .frame import Frame, Matter, Place, Resident


@dataclass(frozen=True)
class Sizes:
    """How much of each a scale gets."""

    stations: int
    spots: int
    facilities: int
    teams: int
    volunteers: int
    units: int
    markets: int
    visitors: int
    activities: int
    participations: int
    wishes: int
    topics_per_spot: int
    bookings_per_room: int
    future: bool  # a few activities, markets and votes still to come (not in the tests)


SIZES: dict[str, Sizes] = {
    "tiny": Sizes(stations=3, spots=2, facilities=40, teams=6, volunteers=30, units=6,
                  markets=4, visitors=1_200, activities=16, participations=240, wishes=12,
                  topics_per_spot=2, bookings_per_room=3, future=False),
    "county": Sizes(stations=126, spots=44, facilities=2_046, teams=63, volunteers=1_560,
                    units=218, markets=128, visitors=61_200, activities=2_060,
                    participations=98_000, wishes=2_400, topics_per_spot=2,
                    bookings_per_room=12, future=True),
}  # fmt: skip
SIZES["bench"] = SIZES["county"]

MIN_AGE, MAX_AGE = 4, 75
#: Times of day a room is booked in (start h, m, end h, m): never overlapping.
SLOTS = ((9, 0, 11, 0), (14, 30, 16, 30), (19, 0, 20, 30))
CENTRE_HOURS = {str(d): [["08:30", "21:30"]] for d in range(1, 8)}
STATION_HOURS = {str(d): [["08:30", "12:00"], ["14:00", "21:00"]] for d in range(1, 8)}


# --- records -------------------------------------------------------------------------------
@dataclass(slots=True)
class PositionPlan:
    kind: str
    name: str
    area: Place
    address: str
    lat: float | None
    lng: float | None
    opening_hours: dict[str, Any]
    phone: str
    description: str


@dataclass(slots=True)
class FacilityPlan:
    position: int
    name: str
    category: str
    quantity: int
    condition: str


@dataclass(slots=True)
class RoomPlan:
    position: int
    name: str
    capacity: int
    purposes: list[str]


@dataclass(slots=True)
class SeriesPlan:
    room: int
    title: str
    rule: str


@dataclass(slots=True)
class BookingPlan:
    room: int
    series: int | None
    title: str
    organiser: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    attendees: int


@dataclass(slots=True)
class TeamPlan:
    name: str
    colour: str
    area: Place
    leader: int | None
    description: str


@dataclass(slots=True)
class VolunteerPlan:
    person: Resident
    teams: list[int]
    guardian: int | None
    skills: list[str]
    availability: list[str]
    joined_on: dt.date


@dataclass(slots=True)
class UnitPlan:
    name: str
    kind: str
    area: Place
    contact_name: str
    contact_phone: str


@dataclass(slots=True)
class MarketPlan:
    title: str
    area: Place
    position: int
    place: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    visitors: int
    report: str


@dataclass(slots=True)
class StallPlan:
    market: int
    holder_kind: str
    unit: int | None
    holder_name: str
    items: list[int]
    served: int


@dataclass(slots=True)
class ActivityPlan:
    title: str
    kind: str
    team: int
    area: Place
    position: int | None
    booking: int | None
    place: str
    target_groups: list[str]
    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    hours: Decimal
    status: str
    participations: int
    report: str
    # (person key, signed up at, checked in at or None)
    signups: list[tuple[int, dt.datetime, dt.datetime | None]] = field(default_factory=list)
    credited: list[int] = field(default_factory=list)  # indexes of volunteers given hours


@dataclass(slots=True)
class WishPlan:
    number: str
    title: str
    category: str
    channel: str
    area: Place
    beneficiary: int | None
    target_groups: list[str]
    status: str
    claimer_kind: str
    claimer: int | None
    claimer_name: str
    claimed_at: dt.datetime | None
    due_on: dt.date | None
    fulfilled_at: dt.datetime | None
    thanked_at: dt.datetime | None
    thanks: str
    created_at: dt.datetime
    events: list[tuple[dt.datetime, str, str, str]]  # (at, kind, actor name, note)


@dataclass(slots=True)
class CensusPlan:
    household: int | None
    dwelling: int | None
    voter: int | None
    label: str
    floor_area: Decimal


@dataclass(slots=True)
class VotePlan:
    entry: int  # index into the topic's census
    choice: str
    cast_by: int | None
    paper: bool
    cast_at: dt.datetime


@dataclass(slots=True)
class TopicPlan:
    zone: Place
    spot: int
    title: str
    description: str
    matter: Matter
    status: str
    raised_by: int | None
    created_at: dt.datetime
    voting_opens_at: dt.datetime | None
    voting_closes_at: dt.datetime | None
    proposals: list[tuple[str, str, int | None, str]]  # title, body, author, author name
    meeting: tuple[dt.datetime, dt.datetime, str, int, str, str, dt.datetime | None]
    roster: list[tuple[str, int | None, str, dt.datetime | None]]  # group, person, name, in
    census: list[CensusPlan]
    votes: list[VotePlan]
    resolution: tuple[bool, dict[str, Any], str] | None
    tasks: list[tuple[str, str, dt.date, str, int, dt.datetime | None]]


@dataclass
class ServicesPlan:
    """Everything the community demo writes, in writing order."""

    positions: list[PositionPlan] = field(default_factory=list)
    facilities: list[FacilityPlan] = field(default_factory=list)
    rooms: list[RoomPlan] = field(default_factory=list)
    series: list[SeriesPlan] = field(default_factory=list)
    bookings: list[BookingPlan] = field(default_factory=list)
    teams: list[TeamPlan] = field(default_factory=list)
    volunteers: list[VolunteerPlan] = field(default_factory=list)
    units: list[UnitPlan] = field(default_factory=list)
    markets: list[MarketPlan] = field(default_factory=list)
    stalls: list[StallPlan] = field(default_factory=list)
    activities: list[ActivityPlan] = field(default_factory=list)
    wishes: list[WishPlan] = field(default_factory=list)
    topics: list[TopicPlan] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """What the plan holds, in the names of the overview and the stage's counts."""
        kinds: dict[str, int] = {}
        for p in self.positions:
            kinds[p.kind] = kinds.get(p.kind, 0) + 1
        signups = [s for a in self.activities for s in a.signups]
        return {
            "service_centres": kinds.get(PositionKind.CENTRE, 0),
            "stations": kinds.get(PositionKind.STATION, 0),
            "deliberation_spots": kinds.get(PositionKind.CORRIDOR, 0)
            + kinds.get(PositionKind.PAVILION, 0),
            "facilities": len(self.facilities),
            "rooms": len(self.rooms),
            "bookings": len(self.bookings),
            "volunteer_teams": len(self.teams),
            "volunteers": len(self.volunteers),
            "cobuilding_units": len(self.units),
            "markets": len(self.markets),
            "stalls": len(self.stalls),
            "market_visits": sum(m.visitors for m in self.markets),
            "activities": len(self.activities),
            "signups": len(signups),
            "participations": sum(a.participations for a in self.activities),
            "hours_entries": sum(len(a.credited) for a in self.activities),
            "wishes": len(self.wishes),
            "wish_events": sum(len(w.events) for w in self.wishes),
            "topics": len(self.topics),
            "census_entries": sum(len(t.census) for t in self.topics),
            "votes": sum(len(t.votes) for t in self.topics),
            "resolutions": sum(1 for t in self.topics if t.resolution is not None),
        }


# --- the planner ---------------------------------------------------------------------------
def plan_services(frame: Frame, scale: str, rng: random.Random, now: dt.datetime) -> ServicesPlan:
    """The community demo of ``scale`` on ``frame``, reproducible from ``rng`` and ``now``."""
    return _Planner(frame, SIZES.get(scale, SIZES["county"]), rng, now).plan()


class _Planner:
    def __init__(self, frame: Frame, sizes: Sizes, rng: random.Random, now: dt.datetime) -> None:
        self.frame = frame
        self.sizes = sizes
        self.rng = rng
        self.tz = timezone.get_default_timezone()
        self.now = now
        local = timezone.localtime(now, self.tz)
        self.today = local.date()
        self.first_day = self.today - dt.timedelta(days=365)
        self.out = ServicesPlan()
        # the people the demo may involve: living, not a demo account's person
        self.people_of = {z: [r for r in rs if not r.account] for z, rs in frame.by_zone.items()}
        self.cared_of = {z: [r for r in rs if r.tags] for z, rs in self.people_of.items()}
        self.party_of = {z: [r for r in rs if r.party] for z, rs in self.people_of.items()}
        self.pool = {
            c.path: [r for z in frame.zones_of(c.path) for r in self.people_of.get(z.path, [])]
            for c in frame.communities
        }
        self.by_key = {r.key: r for r in frame.residents}
        self.adult_born = years_before(self.today, 18)
        self.old_born = years_before(self.today, 70)  # paper votes: the elderly
        self.adults_of_household: dict[int, list[Resident]] = {}
        for r in frame.residents:
            if r.household is not None and r.birth_date <= self.adult_born:
                self.adults_of_household.setdefault(r.household, []).append(r)
        self.centre_of: dict[str, int] = {}
        self.stations_of: dict[str, list[int]] = {}
        self.spot_of: dict[str, int] = {}
        self.rooms_of: dict[int, list[int]] = {}
        self.taken: dict[int, set[tuple[dt.date, int]]] = {}
        self.teams_of: dict[str, list[int]] = {}
        self.team_members: dict[int, list[int]] = {}
        self.units_of: dict[str, list[int]] = {}

    # --- helpers ---
    def at(self, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        """``hour:minute`` local time on ``day``, as a UTC moment (the bulk path writes
        UTC moments without converting each)."""
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=self.tz).astimezone(dt.UTC)

    def past_day(self, lo: int = 1, hi: int = 365) -> dt.date:
        return self.today - dt.timedelta(days=self.rng.randint(lo, hi))

    def phone(self) -> str:
        return mobile_number(self.rng)

    def plan(self) -> ServicesPlan:
        self.positions()
        self.bookings()
        self.teams()
        self.units()
        self.markets()
        self.activities()
        self.wishes()
        self.topics()
        return self.out

    # --- positions, facilities, rooms ---
    def positions(self) -> None:
        rng, out, frame = self.rng, self.out, self.frame
        for c in frame.communities:
            short = c.name.removesuffix("社区")
            self.centre_of[c.path] = len(out.positions)
            out.positions.append(
                PositionPlan(PositionKind.CENTRE, f"{c.name}党群服务中心", c,
                             f"{short}路{rng.randint(1, 199)}号", c.lat, c.lng, CENTRE_HOURS,
                             f"0537-72{rng.randrange(10**5):05d}",
                             "社区党群服务中心：一站式办理、议事协商、文体活动。")
            )  # fmt: skip
        zones = frame.zones
        if zones:
            # every compound one station first, the rest to compounds drawn at random
            extra = max(0, self.sizes.stations - len(zones))
            chosen = list(zones[: self.sizes.stations]) + [rng.choice(zones) for _ in range(extra)]
            chosen.sort(key=lambda z: z.path)
            number: dict[str, int] = {}
            for z in chosen:
                number[z.path] = number.get(z.path, 0) + 1
                suffix = "" if number[z.path] == 1 else f"（{number[z.path]}号）"
                self.stations_of.setdefault(z.community, []).append(len(out.positions))
                out.positions.append(
                    PositionPlan(PositionKind.STATION, f"{z.name}红帆驿站{suffix}", z,
                                 f"{z.name}{rng.randint(1, 30)}号楼旁", z.lat, z.lng,
                                 STATION_HOURS, "", "小区红帆驿站：歇脚、饮水、充电、议事。")
                )  # fmt: skip
            for z in sorted(rng.sample(zones, min(self.sizes.spots, len(zones))),
                            key=lambda z: z.path):  # fmt: skip
                kind = rng.choice((PositionKind.CORRIDOR, PositionKind.PAVILION))
                label = "聚邻廊" if kind == PositionKind.CORRIDOR else "议事亭"
                self.spot_of[z.path] = len(out.positions)
                out.positions.append(
                    PositionPlan(kind, f"{z.name}{label}", z, f"{z.name}中心花园", z.lat, z.lng,
                                 {}, "", "小区议事协商微阵地：小区事大家议。")
                )  # fmt: skip
        # facility sets: the total spread over the positions, centres holding the most
        n = len(out.positions)
        if n:
            weights = [4 if p.kind == PositionKind.CENTRE else 2 if p.kind == PositionKind.STATION
                       else 1 for p in out.positions]  # fmt: skip
            total_w = sum(weights)
            counts = [max(1, self.sizes.facilities * w // total_w) for w in weights]
            missing = self.sizes.facilities - sum(counts)
            for i in range(max(0, missing)):
                counts[i % n] += 1
            for i, k in enumerate(counts):
                for name, category, qty in rng.sample(
                    texts.FACILITIES, min(k, len(texts.FACILITIES))
                ):
                    out.facilities.append(
                        FacilityPlan(i, name, category, qty, rng.choice(texts.CONDITIONS))
                    )
                for j in range(k - len(texts.FACILITIES)):  # a large centre's extra sets
                    name, category, qty = texts.FACILITIES[j % len(texts.FACILITIES)]
                    label = f"{name}（{j // 16 + 2}）"
                    condition = rng.choice(texts.CONDITIONS)
                    out.facilities.append(FacilityPlan(i, label, category, qty, condition))
        for i, p in enumerate(out.positions):
            if p.kind == PositionKind.CENTRE:
                rooms = texts.CENTRE_ROOMS[: rng.randint(3, len(texts.CENTRE_ROOMS))]
            elif p.kind == PositionKind.STATION:
                rooms = texts.STATION_ROOMS[: rng.randint(1, 2)]
            else:
                continue
            for name, capacity, purposes in rooms:
                self.rooms_of.setdefault(i, []).append(len(out.rooms))
                self.taken[len(out.rooms)] = set()
                out.rooms.append(RoomPlan(i, name, capacity, list(purposes)))

    def book(self, room: int, day: dt.date, slot: int, title: str, organiser: str,
             attendees: int, series: int | None = None) -> int | None:  # fmt: skip
        """A booking of ``room`` at ``slot`` of ``day``, or None when it is taken."""
        if (day, slot) in self.taken[room]:
            return None
        self.taken[room].add((day, slot))
        h1, m1, h2, m2 = SLOTS[slot]
        self.out.bookings.append(
            BookingPlan(room, series, title, organiser, self.at(day, h1, m1), self.at(day, h2, m2),
                        attendees)
        )  # fmt: skip
        return len(self.out.bookings) - 1

    def bookings(self) -> None:
        """A weekly class in each centre's first room (a recurring series written out as
        rows), then single bookings of every room."""
        rng, out = self.rng, self.out
        for c in self.frame.communities:
            rooms = self.rooms_of.get(self.centre_of[c.path], [])
            if not rooms or not self.sizes.future:  # the tests make their own series
                continue
            room = rooms[0]
            weekday = rng.randint(0, 4)
            series = len(out.series)
            title = rng.choice(("书法班", "太极拳班", "合唱团排练", "老年大学课堂"))
            out.series.append(
                SeriesPlan(room, title, f"FREQ=WEEKLY;BYDAY={'MO TU WE TH FR'.split()[weekday]}")
            )
            weeks = 52
            day = self.today - dt.timedelta(days=(self.today.weekday() - weekday) % 7 or 7)
            for _ in range(weeks):
                self.book(room, day, 1, title, "社区老年大学", rng.randint(10, 30), series)
                day -= dt.timedelta(days=7)
        for room, spec in enumerate(out.rooms):
            for _ in range(self.sizes.bookings_per_room):
                title = rng.choice(spec.purposes)
                self.book(room, self.past_day(), rng.randrange(len(SLOTS)), title,
                          rng.choice(("社区党委", "小区党支部", "社区社会组织", "居民小组")),
                          rng.randint(5, spec.capacity))  # fmt: skip

    # --- volunteers ---
    def teams(self) -> None:
        rng, out, frame = self.rng, self.out, self.frame
        communities = frame.communities
        if not communities:
            return
        n = len(communities)
        per = distribute(rng, self.sizes.teams, n, self.sizes.teams // n, -(-self.sizes.teams // n))
        colours = list(TeamColour)
        k = 0
        for c, n in zip(communities, per, strict=True):
            for _ in range(n):
                colour = colours[k % len(colours)]
                k += 1
                names = texts.TEAM_NAMES[colour]
                name = f"{c.name.removesuffix('社区')}{names[k // len(colours) % len(names)]}"
                self.teams_of.setdefault(c.path, []).append(len(out.teams))
                out.teams.append(TeamPlan(name, colour, c, None, f"{colour.label}：{name}"))
        # volunteers: real residents of the team's community, of the ages its colour takes
        target = distribute(rng, self.sizes.volunteers, len(out.teams),
                            self.sizes.volunteers // len(out.teams),
                            -(-self.sizes.volunteers // len(out.teams)))  # fmt: skip
        chosen: dict[int, int] = {}  # person key -> volunteer index
        for t, want in enumerate(target):
            team = out.teams[t]
            lo, hi = texts.TEAM_AGES[team.colour]
            # aged lo..hi today: born on or before lo years ago, after hi + 1 years ago
            oldest, youngest = years_before(self.today, hi + 1), years_before(self.today, lo)
            fits = [r for r in self.pool[team.area.path]
                    if oldest < r.birth_date <= youngest and r.key not in chosen]  # fmt: skip
            members: list[int] = []
            for r in rng.sample(fits, min(want, len(fits))):
                chosen[r.key] = len(out.volunteers)
                members.append(len(out.volunteers))
                out.volunteers.append(self.volunteer(r, t, team.colour))
            # a volunteer of another team of the community may serve here too
            others = [v for v in chosen.values() if v not in members
                      and out.volunteers[v].person.zone.startswith(team.area.path)][:3]  # fmt: skip
            for v in others[: rng.randint(0, 2)]:
                out.volunteers[v].teams.append(t)
                members.append(v)
            self.team_members[t] = members
            adults = [m for m in members if out.volunteers[m].person.birth_date <= self.adult_born]
            if adults:
                team.leader = out.volunteers[rng.choice(adults)].person.key

    def volunteer(self, r: Resident, team: int, colour: str) -> VolunteerPlan:
        rng = self.rng
        guardian = None
        if r.birth_date > self.adult_born:
            adults = self.adults_of_household.get(r.household or -1, [])
            guardian = rng.choice(adults).key if adults else None
        skills = rng.sample(texts.SKILLS[colour], rng.randint(1, 2))
        availability = rng.sample(texts.AVAILABILITY, rng.randint(1, 2))
        joined = self.today - dt.timedelta(days=rng.randint(30, 3 * 365))
        return VolunteerPlan(r, [team], guardian, skills, availability, joined)

    # --- co-building units and markets ---
    def units(self) -> None:
        rng, out, communities = self.rng, self.out, self.frame.communities
        if not communities:
            return
        n = len(communities)
        per = distribute(rng, self.sizes.units, n, self.sizes.units // n, -(-self.sizes.units // n))
        names = [(kind, name) for kind, ns in texts.UNIT_NAMES.items() for name in ns]
        for c, k in zip(communities, per, strict=True):
            for kind, name in rng.sample(names, min(k, len(names))):
                contact = rng.choice(texts.CONTACT_SURNAMES) + rng.choice(texts.CONTACT_TITLES)
                self.units_of.setdefault(c.path, []).append(len(out.units))
                out.units.append(UnitPlan(name, kind, c, contact, self.phone()))

    def markets(self) -> None:
        rng, out, communities = self.rng, self.out, self.frame.communities
        if not communities or not self.sizes.markets:
            return
        m = self.sizes.markets
        upcoming = 3 if self.sizes.future else 0
        held = m - upcoming
        visitors = split(rng, self.sizes.visitors, held)
        for i in range(m):
            c = communities[i % len(communities)]
            where = [self.centre_of[c.path], *self.stations_of.get(c.path, [])]
            position = rng.choice(where)
            if i >= held:
                day = self.today + dt.timedelta(days=rng.randint(9, 14))
            else:
                day = self.past_day(9)
            day -= dt.timedelta(days=(day.weekday() - 5) % 7)  # the Saturday before
            planned = i >= held
            title = f"{c.name.removesuffix('社区')}{rng.choice(texts.MARKET_TITLES)}"
            n_visitors = 0 if planned else visitors[i]
            out.markets.append(
                MarketPlan(title, c, position, f"{out.positions[position].name}广场",
                           self.at(day, 8, 30), self.at(day, 11, 30),
                           ActivityStatus.PLANNED if planned else ActivityStatus.DONE,
                           n_visitors,
                           "" if planned else f"共设摊位若干，服务群众{n_visitors}人次。")
            )  # fmt: skip
            self.stalls(len(out.markets) - 1, c, n_visitors)

    def stalls(self, market: int, c: Place, visitors: int) -> None:
        rng, out = self.rng, self.out
        units = self.units_of.get(c.path, [])
        holders: list[tuple[str, int | None, str]] = [
            (StallHolder.UNIT, u, out.units[u].name) for u in rng.sample(units, min(5, len(units)))
        ]
        holders += [(StallHolder.MERCHANT, None, name) for name in rng.sample(texts.MERCHANTS, 2)]
        teams = self.teams_of.get(c.path, [])
        if teams:
            t = rng.choice(teams)
            holders.append((StallHolder.TEAM, None, out.teams[t].name))
        shares = [rng.randint(1, 5) for _ in holders]
        for (kind, unit, name), share in zip(holders, shares, strict=True):
            items = sorted(rng.sample(self.frame.items, min(2, len(self.frame.items))))
            out.stalls.append(
                StallPlan(market, kind, unit, name, items, visitors * share // sum(shares))
            )

    # --- activities ---
    def activities(self) -> None:
        rng, out, communities = self.rng, self.out, self.frame.communities
        n = self.sizes.activities
        if not communities or not out.teams or not n:
            return
        total = self.sizes.participations
        upcoming = 10 if self.sizes.future else 0
        past = n - upcoming
        per = split(rng, total, past)
        kinds = list(ActivityKind)
        for i in range(n):
            c = communities[i % len(communities)]
            kind = kinds[rng.randrange(len(kinds))]
            teams = self.teams_of[c.path]
            fitting = [t for t in teams if out.teams[t].colour in texts.KIND_COLOURS[kind]]
            team = rng.choice(fitting or teams)
            future = i >= past
            day = (
                (self.today + dt.timedelta(days=rng.randint(2, 14))) if future else self.past_day()
            )
            title = rng.choice(texts.ACTIVITY_TITLES[kind])
            want = 0 if future else per[i]
            outdoors = kind == ActivityKind.CLEANUP
            where = [self.centre_of[c.path], *self.stations_of.get(c.path, [])]
            position: int | None = rng.choice(where)
            booking = None
            area = c
            if outdoors:
                zones = self.frame.zones_of(c.path)
                area = rng.choice(zones) if zones else c
                position = None
                place = f"{area.name}小区"
                slot = 0
            elif position is not None:
                area = out.positions[position].area
                rooms = self.rooms_of.get(position, [])
                slot = rng.randrange(len(SLOTS))
                place = out.positions[position].name
                for attempt in range(6):
                    room = rng.choice(rooms) if rooms else None
                    if room is None:
                        break
                    booking = self.book(room, day, slot, title, out.teams[team].name, want)
                    if booking is not None:
                        place = f"{out.positions[position].name}{out.rooms[room].name}"
                        break
                    day -= dt.timedelta(days=1 + attempt)  # taken: the day before
                    if future and day <= self.today:
                        day = self.today + dt.timedelta(days=2 + attempt)
            h1, m1, h2, m2 = SLOTS[slot]
            starts, ends = self.at(day, h1, m1), self.at(day, h2, m2)
            hours = Decimal(int((ends - starts).total_seconds()) // 60) / 60
            activity = ActivityPlan(
                title, kind, team, area, position, booking, place,
                list(texts.ACTIVITY_TARGETS[kind]), starts, ends,
                capacity=max(30, want + 10), hours=hours.quantize(Decimal("0.1")),
                status=ActivityStatus.PLANNED if future else ActivityStatus.DONE,
                participations=0, report="",
            )  # fmt: skip
            self.sign_up(activity, c, want, future)
            out.activities.append(activity)

    def sign_up(self, activity: ActivityPlan, c: Place, want: int, future: bool) -> None:
        """The team's volunteers who served (checked in, hours credited) and the residents
        who took part; a few who signed up did not come."""
        rng = self.rng
        members = self.team_members.get(activity.team, [])
        serving = rng.sample(members, min(len(members), rng.randint(2, 6), max(want, 2)))
        served = {self.out.volunteers[v].person.key for v in serving}
        pool = self.pool[c.path]
        others = [r.key for r in rng.sample(pool, min(len(pool), want + want // 10 + 3))
                  if r.key not in served]  # fmt: skip
        came = max(0, want - len(serving))
        starts = activity.starts_at
        random_ = rng.random
        minute = dt.timedelta(minutes=1)
        for v in serving:
            key = self.out.volunteers[v].person.key
            signed = starts - minute * (1440 + int(random_() * 7200))
            checked = None if future else starts - minute * int(random_() * 20)
            activity.signups.append((key, signed, checked))
            if not future:
                activity.credited.append(v)
        for j, key in enumerate(others[: came + came // 20]):
            signed = starts - minute * (30 + int(random_() * 8000))
            checked = None if future or j >= came else starts + minute * (int(random_() * 40) - 20)
            activity.signups.append((key, signed, checked))
        activity.participations = sum(1 for s in activity.signups if s[2] is not None)
        if not future:
            activity.report = (
                f"{activity.title}顺利开展，{len(activity.credited)}名志愿者参与服务，"
                f"服务群众{activity.participations}人次。"
            )

    # --- wishes ---
    def wishes(self) -> None:
        rng, out, zones = self.rng, self.out, self.frame.zones
        if not zones or not self.sizes.wishes:
            return
        categories = list(WishCategory)
        channels = (WishChannel.DOOR, WishChannel.DOOR, WishChannel.WECHAT, WishChannel.RESIDENT,
                    WishChannel.STAFF)  # fmt: skip
        plans = []
        for _ in range(self.sizes.wishes):
            zone = rng.choice(zones)
            people = self.people_of.get(zone.path, [])
            if not people:
                continue
            cared = self.cared_of[zone.path]
            party = self.party_of[zone.path]
            who = rng.choice(cared if cared and rng.random() < 0.7 else people)
            # a day of collection: not today (the tests' own wishes are today's)
            created = self.at(self.past_day(1), rng.randint(8, 17), rng.randrange(60))
            plans.append((created, zone, who, party))
        plans.sort(key=lambda p: p[0])
        seq: dict[int, int] = {}
        for created, zone, who, party in plans:
            year = timezone.localtime(created, self.tz).year
            seq[year] = seq.get(year, 0) + 1
            category = rng.choice(categories)
            channel = rng.choice(channels)
            age_days = (self.now - created).days
            # older wishes have gone further: thanked, fulfilled, claimed, collected
            roll = rng.random()
            if age_days > 30:
                status = WishStatus.THANKED if roll < 0.6 else WishStatus.FULFILLED \
                    if roll < 0.92 else WishStatus.CANCELLED  # fmt: skip
            elif age_days > 7:
                status = WishStatus.FULFILLED if roll < 0.5 else WishStatus.CLAIMED
            else:
                status = WishStatus.CLAIMED if roll < 0.5 else WishStatus.COLLECTED
            events = [(created, "collected", "网格员", f"{channel.label}收集")]
            claimer_kind, claimer, claimer_name = "", None, ""
            claimed = fulfilled = thanked = None
            due = None
            thanks = ""
            if status in (WishStatus.CLAIMED, WishStatus.FULFILLED, WishStatus.THANKED):
                claimed = created + dt.timedelta(hours=rng.randint(2, 72))
                members = [r for r in party if r.key != who.key]
                units = self.units_of.get(zone.community, [])
                if members and rng.random() < 0.75:
                    person = rng.choice(members)
                    claimer_kind = rng.choice(
                        (ClaimerKind.PARTY_MEMBER, ClaimerKind.CENTRAL_HOUSEHOLD)
                    )
                    claimer, claimer_name = person.key, person.name
                elif units:
                    claimer_kind, claimer_name = ClaimerKind.UNIT, out.units[rng.choice(units)].name
                else:
                    claimer_kind, claimer_name = ClaimerKind.VOLUNTEER, "志愿服务队"
                due = (claimed + dt.timedelta(days=rng.randint(5, 20))).date()
                events.append((claimed, "claimed", claimer_name, f"{claimer_kind.label}认领"))
            if status in (WishStatus.FULFILLED, WishStatus.THANKED):
                fulfilled = (claimed or created) + dt.timedelta(
                    days=rng.randint(1, 15), hours=rng.randint(0, 8)
                )
                events.append((fulfilled, "fulfilled", claimer_name, "心愿已实现"))
            if status == WishStatus.THANKED:
                thanked = (fulfilled or created) + dt.timedelta(
                    days=rng.randint(0, 5), hours=rng.randint(1, 6)
                )
                thanks = rng.choice(texts.THANKS)
                events.append((thanked, "thanked", who.name, thanks))
            if status == WishStatus.CANCELLED:
                events.append((created + dt.timedelta(days=rng.randint(1, 10)), "cancelled",
                               "网格员", "居民已自行解决"))  # fmt: skip
            groups = [TARGET_GROUPS[t] for t in who.tags if t in TARGET_GROUPS]  # as collected
            out.wishes.append(
                WishPlan(f"WY{year}{seq[year]:06d}",
                         rng.choice(texts.WISH_TITLES[category]), category, channel, zone, who.key,
                         groups, status, claimer_kind, claimer, claimer_name, claimed, due,
                         fulfilled, thanked, thanks, created, events)
            )  # fmt: skip

    # --- deliberation ---
    def matter_for(self, hint: str | None) -> Matter | None:
        matters = self.frame.matters
        if not matters:
            return None
        if hint is None:
            household = [m for m in matters if m.census_basis == CensusBasis.HOUSEHOLDS]
            return household[0] if household else matters[0]
        for m in matters:
            if hint in m.name or hint == m.code:
                return m
        owners = [m for m in matters if m.census_basis == CensusBasis.OWNERS]
        return owners[0] if owners else matters[0]

    def topics(self) -> None:
        rng, out, frame = self.rng, self.out, self.frame
        if not frame.matters:
            return
        homes, flats = frame.census_of(sorted(self.spot_of))
        homes_of: dict[str, list[Any]] = {}
        for h in homes:
            homes_of.setdefault(h.zone, []).append(h)
        flats_of: dict[str, list[Any]] = {}
        for f in flats:
            flats_of.setdefault(f.zone, []).append(f)
        spots = [(path, i) for path, i in self.spot_of.items()]
        plans = []
        for path, spot in spots:
            for k in range(self.sizes.topics_per_spot):
                title, hint, description = rng.choice(texts.TOPICS)
                last = self.sizes.future and k == self.sizes.topics_per_spot - 1
                plans.append((path, spot, title, hint, description, last))
        for path, spot, title, hint, description, ongoing in plans:
            matter = self.matter_for(hint)
            if matter is None:
                continue
            zone = out.positions[spot].area
            adults = [r for r in self.people_of.get(path, []) if r.birth_date <= self.adult_born]
            if not adults:
                continue
            raised = rng.choice(adults)
            created = self.at(self.today - dt.timedelta(days=rng.randint(20, 340) if not ongoing
                                                        else rng.randint(8, 12)), 9)  # fmt: skip
            meeting_day = created.date() + dt.timedelta(days=rng.randint(3, 7))
            m_start = self.at(meeting_day, 19)
            opens = m_start + dt.timedelta(hours=2)
            closes = opens + dt.timedelta(days=7 if not ongoing else 14)
            members = [r for r in adults if r.party] or adults
            roster: list[tuple[str, int | None, str]] = [
                (RosterGroup.BRANCH, members[0].key, members[0].name)
            ]
            for group in (RosterGroup.PROPERTY, RosterGroup.OWNERS_COMMITTEE,
                          RosterGroup.RESIDENT_REP):  # fmt: skip
                if group == RosterGroup.PROPERTY:
                    roster.append((group, None, f"{zone.name}物业服务中心"))
                else:
                    for r in rng.sample(adults, min(2, len(adults))):
                        roster.append((group, r.key, r.name))
            for r in rng.sample(members, min(2, len(members))):
                roster.append((RosterGroup.IN_SERVICE_MEMBER, r.key, r.name))
            roster.append((RosterGroup.SOCIAL_ORG, None, "阳光社工服务中心"))
            signed: list[tuple[str, int | None, str, dt.datetime | None]] = []
            for g, p, n in roster:
                came = rng.random() < 0.85
                early = dt.timedelta(minutes=rng.randint(0, 20))
                signed.append((g, p, n, m_start - early if came else None))
            quorum = len(roster) // 2 + 1
            minutes = (
                f"{zone.name}议事会讨论“{title}”，应到{len(roster)}人，实到"
                f"{sum(1 for s in signed if s[3] is not None)}人，形成表决方案。"
            )
            agenda = f"1. {title}\n2. 形成表决方案"
            m_end = m_start + dt.timedelta(hours=1, minutes=30)
            meeting = (m_start, m_end, agenda, quorum, "closed", minutes,
                       m_start + dt.timedelta(days=1))  # fmt: skip
            census: list[CensusPlan] = []
            if matter.census_basis == CensusBasis.HOUSEHOLDS:
                for h in homes_of.get(path, []):
                    census.append(CensusPlan(h.key, None, h.head, h.number, Decimal(0)))
            else:
                for f in flats_of.get(path, []):
                    census.append(CensusPlan(None, f.key, f.voter, f.label, f.floor_area))
            turnout = rng.uniform(0.6, 0.92) if not ongoing else rng.uniform(0.2, 0.4)
            support = rng.uniform(0.45, 0.95)
            votes = []
            span = max(1, int((min(closes, self.now) - opens).total_seconds()))
            second = dt.timedelta(seconds=1)
            random_ = rng.random
            for e, entry in enumerate(census):
                if random_() >= turnout:
                    continue
                roll = random_()
                choice = VoteChoice.YES if roll < support else VoteChoice.NO \
                    if roll < support + (1 - support) * 0.8 else VoteChoice.ABSTAIN  # fmt: skip
                voter = self.by_key.get(entry.voter) if entry.voter is not None else None
                paper = voter is not None and voter.birth_date <= self.old_born and random_() < 0.7
                votes.append(
                    VotePlan(e, choice, entry.voter, paper, opens + second * int(random_() * span))
                )
            votes.sort(key=lambda v: v.cast_at)
            resolution = None
            tasks: list[tuple[str, str, dt.date, str, int, dt.datetime | None]] = []
            if ongoing:
                status = TopicStatus.VOTING
            else:
                passed, tally = decide(matter, census, votes)
                status = TopicStatus.PASSED if passed else TopicStatus.REJECTED
                text = f"“{title}”{'表决通过' if passed else '未获通过'}。"
                resolution = (passed, tally, text)
                if passed:
                    for j, task in enumerate(texts.TASKS):
                        due = closes.date() + dt.timedelta(days=15 * (j + 1))
                        done = due < self.today
                        owner = "小区党支部" if j % 2 == 0 else f"{zone.name}物业"
                        started = j == 0 or tasks[-1][3] == TaskStatus.DONE
                        state = TaskStatus.DONE if done else TaskStatus.DOING if started \
                            else TaskStatus.OPEN  # fmt: skip
                        tasks.append((task, owner, due, state, 100 if done else 0,
                                      self.at(due, 17) if done else None))  # fmt: skip
            proposals: list[tuple[str, str, int | None, str]] = [
                (f"{texts.PROPOSALS[0]}：{title}", description, raised.key, raised.name)
            ]
            out.topics.append(
                TopicPlan(zone, spot, title, description, matter, status, raised.key, created,
                          opens, closes, proposals, meeting, signed, census, votes, resolution,
                          tasks)
            )  # fmt: skip


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (a demo's ages are never older than the calendar)."""
    return age.years_before(day, years) or dt.date.min


def split(rng: random.Random, total: int, bins: int) -> list[int]:
    """``bins`` counts adding up to exactly ``total``, each within a quarter and twice
    the mean (a market or an activity draws its own crowd)."""
    if bins <= 0:
        return []
    weights = [0.25 + 1.75 * rng.random() for _ in range(bins)]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in range(total - sum(counts)):
        counts[i % bins] += 1
    return counts


def decide(
    matter: Matter, census: list[CensusPlan], votes: list[VotePlan]
) -> tuple[bool, dict[str, Any]]:
    """Whether the votes pass ``matter``, and the tally it was decided on — counted by
    the deliberation's own rule (:mod:`jiayuan.community.deliberation.voting`: the
    double majority of Civil Code art. 278 for owners' matters), as a live close would."""
    from jiayuan.community.deliberation.matters import Rule
    from jiayuan.community.deliberation.voting import Ballot, tally

    choices: list[str | None] = [None] * len(census)
    for v in votes:
        choices[v.entry] = v.choice
    result = tally((Ballot(e.floor_area, c) for e, c in zip(census, choices, strict=True)),
                   Rule.of(matter))  # fmt: skip
    return result.passed, result.as_json()
