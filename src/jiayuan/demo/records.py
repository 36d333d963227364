"""The demo county's vocabulary: scales, the plain records a plan is made of, and the
small helpers that lay areas out and draw random numbers reproducibly."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from jiayuan.core.sampling import distribute as distribute
from jiayuan.core.sampling import rng_for as rng_for
from jiayuan.people.choices import (
    TagScope,
)

# seed gives the same world whatever the day it runs (the world simply ages).
AS_OF = dt.date(2026, 1, 1)

# Wenshang town (汶上县城): the box the streets tile, as (west, south, east, north).
TOWN_BOX = (116.455, 35.695, 116.525, 35.765)

COUNTY_NAME = "汶上县"


# --- scales ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scale:
    """How big a demo county is: totals per level and quotas per area."""

    name: str
    communities: tuple[int, ...]  # per street, in street order
    zones: int
    grids: int
    buildings: int
    units: int
    zones_per_community: tuple[int, int]
    grids_per_zone: tuple[int, int]
    buildings_per_grid: tuple[int, int]
    units_per_building: tuple[int, int]
    floors: tuple[int, int]
    per_floor: tuple[tuple[int, int], ...]  # (dwellings per floor, weight)
    residents: int
    central_households: int
    central_per_grid: tuple[int, int]
    community_workers: int = 8  # per community, the 5 两委 members included
    in_service_members: int = 12  # per community
    volunteers: int = 6  # per community
    # How the zone branch secretaries were found (article: 65 兼任, 14 派驻, 17 推选).
    secretary_mix: tuple[int, int, int] = (65, 14, 17)


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        name="tiny",
        communities=(2,),
        zones=3,
        grids=5,
        buildings=10,
        units=20,
        zones_per_community=(1, 2),
        grids_per_zone=(1, 2),
        buildings_per_grid=(2, 2),
        units_per_building=(2, 2),
        floors=(6, 6),
        per_floor=((1, 1), (2, 2)),
        residents=500,
        central_households=10,
        central_per_grid=(2, 2),
        community_workers=6,
        in_service_members=3,
        volunteers=3,
        secretary_mix=(1, 1, 1),
    ),
    "county": Scale(
        name="county",
        communities=(14, 12),
        zones=96,
        grids=270,
        buildings=1512,
        units=3023,
        zones_per_community=(3, 5),
        grids_per_zone=(2, 4),
        buildings_per_grid=(3, 9),
        units_per_building=(1, 4),
        floors=(6, 6),
        per_floor=((2, 2), (3, 4), (4, 4)),
        residents=150_000,
        central_households=2619,
        central_per_grid=(9, 10),
    ),
    "bench": Scale(
        name="bench",
        communities=(14, 12),
        zones=96,
        grids=270,
        buildings=6048,
        units=12096,
        zones_per_community=(3, 5),
        grids_per_zone=(2, 4),
        buildings_per_grid=(12, 36),
        units_per_building=(1, 4),
        floors=(6, 18),
        per_floor=((2, 3), (3, 4), (4, 3)),
        residents=1_000_000,
        central_households=2619,
        central_per_grid=(9, 10),
    ),
}


# --- records -----------------------------------------------------------------------------
@dataclass(slots=True)
class AreaSpec:
    path: str
    parent: str | None
    kind: str
    code: str
    name: str
    boundary: dict[str, Any] | None = None
    centroid: tuple[float, float] | None = None  # (lat, lng)


@dataclass(slots=True)
class DwellingSpec:
    unit: str
    number: str
    floor: int
    floor_area: Decimal
    use: str


@dataclass(slots=True)
class HouseholdSpec:
    number: str
    dwelling: int
    unit: str
    grid: str
    members: list[int] = field(default_factory=list)  # the head first
    kind: str = ""
    tenant: bool = False
    since: dt.date = AS_OF


@dataclass(slots=True)
class PersonSpec:
    name: str
    id_number: str
    birth_date: dt.date
    gender: str
    phone: str
    ethnicity: str
    political_status: str
    hukou_code: str
    hukou_type: str
    residence_status: str
    death_date: dt.date | None
    unit: str
    grid: str
    dwelling: int
    household: int
    relation: str
    since: dt.date

    def age(self, day: dt.date = AS_OF) -> int:
        if self.death_date is not None and self.death_date < day:
            day = self.death_date
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))

    @property
    def alive(self) -> bool:
        return self.death_date is None


@dataclass(slots=True)
class TagSpec:
    code: str
    name: str
    category: str
    scope: str = TagScope.PERSON
    attributes: tuple[str, ...] = ()
    description: str = ""


@dataclass(slots=True)
class TagAssignmentSpec:
    owner: int  # person or household index
    tag: str
    attributes: dict[str, Any]
    valid_from: dt.date | None
    source: str
    evidence: dict[str, Any]


@dataclass(slots=True)
class PartyOrgSpec:
    area: str
    kind: str
    name: str
    founded_on: dt.date


@dataclass(slots=True)
class PositionSpec:
    person: int
    area: str
    role: str
    appointed: str
    start: dt.date


@dataclass(slots=True)
class ForceSpec:
    person: int
    kind: str
    area: str
    skills: list[str]
    organisation: str = ""
    on_duty: bool = True


@dataclass(slots=True)
class CentralHouseholdSpec:
    person: int
    grid: str
    households: list[int]
    since: dt.date


@dataclass(slots=True)
class AccountSpec:
    username: str
    role: str
    area: str
    person: int | None
    is_staff: bool = False


@dataclass
class World:
    """Everything the demo county holds, before it is written."""

    scale: str
    seed: int
    areas: list[AreaSpec] = field(default_factory=list)
    dwellings: list[DwellingSpec] = field(default_factory=list)
    households: list[HouseholdSpec] = field(default_factory=list)
    persons: list[PersonSpec] = field(default_factory=list)
    tags: list[TagSpec] = field(default_factory=list)
    person_tags: list[TagAssignmentSpec] = field(default_factory=list)
    household_tags: list[TagAssignmentSpec] = field(default_factory=list)
    party_orgs: list[PartyOrgSpec] = field(default_factory=list)
    positions: list[PositionSpec] = field(default_factory=list)
    forces: list[ForceSpec] = field(default_factory=list)
    central_households: list[CentralHouseholdSpec] = field(default_factory=list)
    accounts: list[AccountSpec] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[AreaSpec]:
        return [a for a in self.areas if a.kind == kind]


# --- helpers -------------------------------------------------------------------------------


def cuts(lo: float, hi: float, weights: list[float]) -> list[float]:
    """Edges that split [lo, hi] in proportion to ``weights``, rounded to 6 decimals so
    neighbouring rectangles share identical edges (no gaps, no overlaps)."""
    total = sum(weights)
    edges = [lo]
    acc = 0.0
    for w in weights[:-1]:
        acc += w
        edges.append(round(lo + (hi - lo) * acc / total, 6))
    edges.append(hi)
    return edges


def box_centroid(box: tuple[float, float, float, float]) -> tuple[float, float]:
    west, south, east, north = box
    return (round((south + north) / 2, 6), round((west + east) / 2, 6))


def weighted(rng: random.Random, pairs: tuple[tuple[Any, int], ...]) -> Any:
    """One of ``pairs``' values, drawn by their weights (the same draw as
    ``rng.choices(values, weights)``, with the lists built once per ``pairs``)."""
    values, cum_weights = _cumulative(pairs)
    return rng.choices(values, cum_weights=cum_weights)[0]


@functools.cache
def _cumulative(pairs: tuple[tuple[Any, int], ...]) -> tuple[list[Any], list[int]]:
    return [p[0] for p in pairs], list(itertools.accumulate(p[1] for p in pairs))


DEMO_USERNAMES = ("admin", "street", "community", "grid", "branch", "head", "resident")
