"""What the community demo is planned on (the frame): the county's communities and
compounds, its living residents with their ages, homes and 一老一小 tags, its households
and dwellings — as plain records, read once from the seeded database
(:func:`frame_from_db`) or taken from a planned world before it is written
(:func:`frame_from_world`, so a test can plan the county without a database).

Keys (``Resident.key``, ``Home.key``, ``Flat.key``) are primary keys in a frame read
from the database and indexes into the world's lists in a frame taken from a world; the
planner only ever passes them through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jiayuan.org.choices import AreaKind
from jiayuan.org.paths import ancestor_path

#: The person tags that say whom a wish or an activity is for (一老一小), as tag codes.
CARE_TAGS = ("高龄老人", "独居老人", "空巢老人", "留守儿童", "残疾人")


@lru_cache(maxsize=65536)
def zone_of(path: str) -> str:
    """The compound's path of a unit's path (a few thousand units, 150,000 residents)."""
    return ancestor_path(path, AreaKind.ZONE)


@dataclass(frozen=True, slots=True)
class Place:
    """A community or a compound (小区): its path, name, centre and database id (0 when
    planned from a world)."""

    path: str
    name: str
    lat: float | None = None
    lng: float | None = None
    id: int = 0

    @property
    def community(self) -> str:
        return ancestor_path(self.path, AreaKind.COMMUNITY)


@dataclass(slots=True)  # not frozen: frozen instances cost twice as much to build
class Resident:
    """A living resident: where they live (their unit's path, which is their row's
    area path), their birth date, household and tags."""

    key: int
    name: str
    path: str
    zone: str
    birth_date: dt.date
    household: int | None
    party: bool
    account: bool  # linked to a demo account: left out of the demo's activity
    tags: tuple[str, ...] = ()

    def age(self, day: dt.date) -> int:
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(slots=True)  # not frozen: frozen instances cost twice as much to build
class Home:
    """A household (户) of a compound; its head votes for it."""

    key: int
    zone: str
    number: str
    head: int | None


@dataclass(slots=True)  # not frozen: frozen instances cost twice as much to build
class Flat:
    """A dwelling of a compound (an owner's exclusive part, 专有部分) with its floor area
    and the head of the household living there (who votes for it)."""

    key: int
    zone: str
    label: str
    floor_area: Decimal
    voter: int | None


@dataclass(frozen=True, slots=True)
class Matter:
    """A matter type (表决事项类型) with its thresholds, as installed in the database."""

    code: str
    name: str
    census_basis: str
    by_area: bool
    participation_share: str
    participation_strict: bool
    pass_share: str
    pass_strict: bool


@dataclass
class Frame:
    county: Place
    communities: list[Place]
    zones: list[Place]
    residents: list[Resident]
    homes: list[Home]
    flats: list[Flat]
    today: dt.date
    matters: list[Matter] = field(default_factory=list)
    items: list[int] = field(default_factory=list)  # the market catalogue's service items
    # reads the homes and flats of some compounds only (the census is taken in the few
    # compounds with a deliberation spot); None: ``homes`` and ``flats`` hold them all
    loader: Callable[[list[str]], tuple[list[Home], list[Flat]]] | None = None
    by_zone: dict[str, list[Resident]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.residents:
            self.by_zone.setdefault(r.zone, []).append(r)

    def census_of(self, zones: list[str]) -> tuple[list[Home], list[Flat]]:
        """The households and dwellings of ``zones`` (compound paths)."""
        if self.loader is not None:
            return self.loader(zones)
        wanted = set(zones)
        return (
            [h for h in self.homes if h.zone in wanted],
            [f for f in self.flats if f.zone in wanted],
        )

    def zones_of(self, community: str) -> list[Place]:
        return [z for z in self.zones if z.path.startswith(community)]


def frame_from_db(today: dt.date) -> Frame:
    """The frame of the seeded county, in a handful of queries."""
    from jiayuan.core.validity import valid_on
    from jiayuan.org.models import Area
    from jiayuan.people.choices import PARTY
    from jiayuan.people.models import Person, PersonTag

    areas = Area.objects.filter(
        kind__in=(AreaKind.COUNTY, AreaKind.COMMUNITY, AreaKind.ZONE)
    ).order_by("path")
    places: dict[str, list[Place]] = {}
    for a in areas:
        places.setdefault(a.kind, []).append(
            Place(a.path, a.name, a.centroid_lat, a.centroid_lng, a.pk)
        )
    tags: dict[int, list[str]] = {}
    for person_id, code in (
        PersonTag.objects.filter(valid_on(today), tag__code__in=CARE_TAGS)
        .order_by("person_id", "tag__code")
        .values_list("person_id", "tag__code")
    ):
        tags.setdefault(person_id, []).append(code)
    residents = [
        Resident(pk, name, path, zone_of(path), birth, household,
                 status in PARTY, user is not None, tuple(tags.get(pk, ())))
        for pk, name, path, birth, household, status, user in Person.objects.filter(
            death_date__isnull=True, birth_date__isnull=False, area__kind=AreaKind.UNIT
        )
        .order_by("pk")
        .values_list("pk", "name", "area_path", "birth_date", "household_id", "political_status",
                     "user")
    ]  # fmt: skip
    from jiayuan.community.models import MatterType, ServiceItem

    matters = [
        Matter(m.code, m.name, m.census_basis, m.by_area, m.participation_share,
               m.participation_strict, m.pass_share, m.pass_strict)
        for m in MatterType.objects.order_by("code")
    ]  # fmt: skip
    items = list(ServiceItem.objects.order_by("code").values_list("pk", flat=True))
    (county,) = places[AreaKind.COUNTY][:1]
    return Frame(
        county, places.get(AreaKind.COMMUNITY, []), places.get(AreaKind.ZONE, []),
        residents, [], [], today, matters, items, _census_from_db,
    )  # fmt: skip


def _census_from_db(zones: list[str]) -> tuple[list[Home], list[Flat]]:
    """The households and dwellings of ``zones`` from the database (two queries)."""
    from django.db.models import Q

    from jiayuan.org.models import Dwelling
    from jiayuan.people.models import Household

    if not zones:
        return [], []
    under = Q()
    for path in zones:
        under |= Q(area_path__startswith=path)
    homes = []
    heads: dict[int, int | None] = {}
    for pk, path, number, head, dwelling in (
        Household.objects.filter(under, area__kind=AreaKind.UNIT)
        .order_by("pk")
        .values_list("pk", "area_path", "number", "head_id", "dwelling_id")
    ):
        homes.append(Home(pk, zone_of(path), number, head))
        if dwelling is not None and dwelling not in heads:
            heads[dwelling] = head
    flats = [
        Flat(pk, zone_of(path), _flat_label(unit_name, building, number),
             area or Decimal(0), heads.get(pk))
        for pk, path, number, area, unit_name, building in Dwelling.objects.filter(
            under, unit__kind=AreaKind.UNIT
        )
        .order_by("pk")
        .values_list("pk", "area_path", "number", "floor_area", "unit__name", "unit__parent__name")
    ]  # fmt: skip
    return homes, flats


def _flat_label(unit: str, building: str, number: str) -> str:
    return f"{building}{unit}{number}室"


def frame_from_world(world: Any, today: dt.date, matters: list[Matter] | None = None) -> Frame:
    """The frame of a planned demo county (a ``jiayuan.demo.records.World``, read by its
    attributes: this app may not import the demo app above it), keys being indexes."""
    from jiayuan.people.choices import PARTY

    names = {a.path: a.name for a in world.areas}
    accounts = {a.person for a in world.accounts if a.person is not None}
    tags: dict[int, list[str]] = {}
    for t in world.person_tags:
        if t.tag in CARE_TAGS:
            tags.setdefault(t.owner, []).append(t.tag)

    def place(kind: str) -> list[Place]:
        return [
            Place(a.path, a.name, *(a.centroid or (None, None)))
            for a in sorted(world.of_kind(kind), key=lambda a: a.path)
        ]

    residents = [
        Resident(i, p.name, p.unit, zone_of(p.unit), p.birth_date, p.household,
                 p.political_status in PARTY, i in accounts, tuple(sorted(tags.get(i, ()))))
        for i, p in enumerate(world.persons)
        if p.death_date is None
    ]  # fmt: skip
    homes = [
        Home(i, zone_of(h.unit), h.number, h.members[0] if h.members else None)
        for i, h in enumerate(world.households)
    ]
    heads: dict[int, int | None] = {}
    for h in homes:
        heads.setdefault(world.households[h.key].dwelling, h.head)
    flats = []
    for i, d in enumerate(world.dwellings):
        building = names.get(d.unit.rstrip("/").rsplit("/", 1)[0] + "/", "")
        label = _flat_label(names.get(d.unit, ""), building, d.number)
        flats.append(Flat(i, zone_of(d.unit), label, d.floor_area, heads.get(i)))
    (county,) = place(AreaKind.COUNTY)[:1]
    return Frame(
        county, place(AreaKind.COMMUNITY), place(AreaKind.ZONE), residents, homes, flats, today,
        list(matters or []),
    )  # fmt: skip
