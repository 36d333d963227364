"""The demo county as a plan: a pure, deterministic generator with no database access.

``plan_world(scale, seed)`` returns a :class:`World` of plain records (areas, dwellings,
households, persons, tags, positions, forces, central households, party organisations
and demo accounts) that refer to each other by path or list index. The same scale and
seed always give the same world, because every random choice comes from a
``random.Random`` seeded from the seed and a fixed label, never from global state.
:mod:`jiayuan.demo.seed` writes a plan to the database through the action layer.

The county scale reproduces the programme's published figures exactly: 2 streets,
26 communities, 96 compound party branches, 270 party grids, 2,619 central households,
4,631 三长 (96 小区长 + 1,512 楼栋长 + 3,023 单元长) and 5,808 co-governance forces.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

from jiayuan.core import idnumber
from jiayuan.core.divisions import COUNTIES, WENSHANG
from jiayuan.core.geo import rectangle
from jiayuan.core.roles import Role
from jiayuan.core.sampling import mobile_number
from jiayuan.org.choices import AreaKind, DwellingUse
from jiayuan.people.choices import (
    Gender,
    HukouType,
    PoliticalStatus,
    Relation,
    ResidenceStatus,
)

from . import names
from .households import HOUSEHOLD_KINDS, HOUSEHOLD_SHAPES, MEAN_HOUSEHOLD_SIZE, Member
from .organisation import plan_organisation
from .records import (
    AS_OF,
    COUNTY_NAME,
    SCALES,
    TOWN_BOX,
    AccountSpec,
    AreaSpec,
    DwellingSpec,
    HouseholdSpec,
    PersonSpec,
    Scale,
    World,
    box_centroid,
    cuts,
    distribute,
    rng_for,
    weighted,
)
from .tagging import plan_tags


# --- the generator -------------------------------------------------------------------------
class Planner:
    def __init__(self, scale: Scale, seed: int) -> None:
        self.scale = scale
        self.seed = seed
        self.world = World(scale=scale.name, seed=seed)
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        self.surnames = [s for s, _ in names.SURNAMES]
        # cumulative weights, as random.choices would accumulate them on every call
        self.surname_weights = list(itertools.accumulate(w for _, w in names.SURNAMES))
        self.other_divisions = sorted(c for c in COUNTIES if c != WENSHANG and c[-2:] != "00")
        self.jining = [c for c in self.other_divisions if c.startswith("3708")]
        self.shandong = [c for c in self.other_divisions if c.startswith("37") and c[:4] != "3708"]
        self.elsewhere = [c for c in self.other_divisions if not c.startswith("37")]
        self.children: dict[str, list[str]] = {}  # area path -> child paths
        self.area_index: dict[str, AreaSpec] = {}
        self.unit_dwellings: dict[str, list[int]] = {}
        self.taken: set[int] = set()  # persons holding a post or role already
        # filled by plan_people / plan_organisation, read by tagging and accounts
        self.by_grid: dict[str, list[int]] = {}
        self.by_unit: dict[str, list[int]] = {}
        self.street_secretary: dict[str, int] = {}
        self.two_committees: dict[str, list[int]] = {}
        self.community_staff: dict[str, int] = {}
        self.branch_secretary: dict[str, int] = {}
        self.building_head: dict[str, int] = {}
        self.grid_worker: dict[str, int] = {}
        self.in_service: list[int] = []

    # -- areas --------------------------------------------------------------------------
    def add_area(self, spec: AreaSpec) -> AreaSpec:
        self.world.areas.append(spec)
        self.area_index[spec.path] = spec
        if spec.parent is not None:
            self.children.setdefault(spec.parent, []).append(spec.path)
        return spec

    def kids(self, path: str) -> list[str]:
        return self.children.get(path, [])

    def plan_areas(self) -> None:
        s = self.scale
        rng = rng_for(self.seed, "areas")
        n_comm = sum(s.communities)
        zones = distribute(rng, s.zones, n_comm, *s.zones_per_community)
        grids = distribute(rng, s.grids, s.zones, *s.grids_per_zone)
        buildings = distribute(rng, s.buildings, s.grids, *s.buildings_per_grid)
        units = distribute(rng, s.units, s.buildings, *s.units_per_building)
        zone_names = self._zone_names(rng, s.zones)

        street_specs = names.STREETS[: len(s.communities)]
        west, south, east, north = TOWN_BOX
        if len(s.communities) == 1:
            east = round(west + (east - west) * 0.55, 6)  # one street: its own half of town
        county_box = (west, south, east, north)
        county = self.add_area(
            AreaSpec(f"{WENSHANG}/", None, AreaKind.COUNTY, WENSHANG, COUNTY_NAME)
        )
        county.boundary = rectangle(*county_box)
        county.centroid = box_centroid(county_box)

        street_edges = cuts(west, east, [float(n) for n in s.communities])
        ci = zi = gi = bi = 0
        for si, ((scode, sname), n_c) in enumerate(zip(street_specs, s.communities, strict=True)):
            sbox = (street_edges[si], south, street_edges[si + 1], north)
            street = self.add_area(
                AreaSpec(f"{county.path}{scode}/", county.path, AreaKind.STREET, scode, sname)
            )
            street.boundary = rectangle(*sbox)
            street.centroid = box_centroid(sbox)
            for k, cbox in enumerate(self._community_boxes(sbox, n_c)):
                ccode = f"{k + 1:03d}"
                comm = self.add_area(
                    AreaSpec(
                        f"{street.path}{ccode}/",
                        street.path,
                        AreaKind.COMMUNITY,
                        ccode,
                        names.COMMUNITIES[scode][k],
                    )
                )
                comm.boundary = rectangle(*cbox)
                comm.centroid = box_centroid(cbox)
                n_z = zones[ci]
                ci += 1
                zone_grid_counts = grids[zi : zi + n_z]
                zedges = cuts(
                    cbox[0], cbox[2], [g + rng.uniform(0.2, 1.0) for g in zone_grid_counts]
                )
                grid_no = 0
                for z in range(n_z):
                    zbox = (zedges[z], cbox[1], zedges[z + 1], cbox[3])
                    zcode = f"{z + 1:02d}"
                    zone = self.add_area(
                        AreaSpec(
                            f"{comm.path}{zcode}/",
                            comm.path,
                            AreaKind.ZONE,
                            zcode,
                            zone_names[zi],
                        )
                    )
                    zone.boundary = rectangle(*zbox)
                    zone.centroid = box_centroid(zbox)
                    n_g = grids[zi]
                    zi += 1
                    gedges = cuts(zbox[1], zbox[3], [rng.uniform(0.7, 1.3) for _ in range(n_g)])
                    building_no = 0
                    for g in range(n_g):
                        gbox = (zbox[0], gedges[g], zbox[2], gedges[g + 1])
                        gcode = f"{g + 1:02d}"
                        grid_no += 1
                        grid = self.add_area(
                            AreaSpec(
                                f"{zone.path}{gcode}/",
                                zone.path,
                                AreaKind.GRID,
                                gcode,
                                f"第{grid_no}网格",
                            )
                        )
                        grid.boundary = rectangle(*gbox)
                        grid.centroid = box_centroid(gbox)
                        for _b in range(buildings[gi]):
                            building_no += 1
                            bcode = f"{building_no:02d}"
                            lat = round(
                                rng.uniform(gbox[1], gbox[3]) * 0.8 + grid.centroid[0] * 0.2, 6
                            )
                            lng = round(
                                rng.uniform(gbox[0], gbox[2]) * 0.8 + grid.centroid[1] * 0.2, 6
                            )
                            building = self.add_area(
                                AreaSpec(
                                    f"{grid.path}{bcode}/",
                                    grid.path,
                                    AreaKind.BUILDING,
                                    bcode,
                                    f"{building_no}号楼",
                                    centroid=(lat, lng),
                                )
                            )
                            for u in range(units[bi]):
                                ucode = f"{u + 1:02d}"
                                self.add_area(
                                    AreaSpec(
                                        f"{building.path}{ucode}/",
                                        building.path,
                                        AreaKind.UNIT,
                                        ucode,
                                        f"{u + 1}单元",
                                    )
                                )
                            bi += 1
                        gi += 1

    def _zone_names(self, rng: random.Random, n: int) -> list[str]:
        pool = [p + s for p in names.ZONE_PREFIXES for s in names.ZONE_SUFFIXES]
        rng.shuffle(pool)
        patches = list(names.PATCH_NAMES)
        rng.shuffle(patches)
        result: list[str] = []
        seen_prefix: set[str] = set()
        for name in pool:
            if len(result) >= n:
                break
            if name[:2] in seen_prefix and len(seen_prefix) < len(names.ZONE_PREFIXES):
                continue
            seen_prefix.add(name[:2])
            if patches and rng.random() < 0.12:
                result.append(patches.pop())
                if len(result) >= n:
                    break
            result.append(name)
        return result[:n]

    def _community_boxes(
        self, box: tuple[float, float, float, float], n: int
    ) -> list[tuple[float, float, float, float]]:
        west, south, east, north = box
        cols = 1 if n <= 2 else 2
        per_col = [n // cols + (1 if c < n % cols else 0) for c in range(cols)]
        xedges = cuts(west, east, [1.0] * cols)
        boxes = []
        for c in range(cols):
            yedges = cuts(south, north, [1.0] * per_col[c])
            for r in range(per_col[c]):
                # north to south, so community 001 sits in the north-west corner
                top = per_col[c] - 1 - r
                boxes.append((xedges[c], yedges[top], xedges[c + 1], yedges[top + 1]))
        return boxes

    # -- dwellings ------------------------------------------------------------------------
    def plan_dwellings(self) -> None:
        s = self.scale
        rng = rng_for(self.seed, "dwellings")
        for building in self.world.of_kind(AreaKind.BUILDING):
            floors = rng.randint(*s.floors)
            for unit_path in self.kids(building.path):
                per_floor = weighted(rng, s.per_floor)
                base = rng.choice((70, 85, 100, 120))
                indexes = self.unit_dwellings.setdefault(unit_path, [])
                for floor in range(1, floors + 1):
                    for door in range(1, per_floor + 1):
                        area = max(60.0, min(140.0, rng.gauss(base, 12)))
                        indexes.append(len(self.world.dwellings))
                        self.world.dwellings.append(
                            DwellingSpec(
                                unit=unit_path,
                                number=f"{floor}{door:02d}",
                                floor=floor,
                                floor_area=Decimal(f"{area:.2f}"),
                                use=DwellingUse.VACANT,
                            )
                        )

    # -- people ---------------------------------------------------------------------------
    def plan_people(self) -> None:
        s = self.scale
        target_households = s.residents / MEAN_HOUSEHOLD_SIZE
        occupancy = min(1.0, target_households / max(1, len(self.world.dwellings)))
        for grid in self.world.of_kind(AreaKind.GRID):
            rng = rng_for(self.seed, f"people:{grid.path}")
            for building_path in self.kids(grid.path):
                for unit_path in self.kids(building_path):
                    for d in self.unit_dwellings.get(unit_path, []):
                        if rng.random() < occupancy:
                            self._household(rng, d, unit_path, grid.path)

    def _household(self, rng: random.Random, d: int, unit: str, grid: str) -> None:
        w = self.world
        kind = weighted(rng, HOUSEHOLD_KINDS)
        members = HOUSEHOLD_SHAPES[kind](rng)
        showcase = not w.households
        if showcase:  # the demo grid worker's first door: a local couple past 80
            kind = "elder_couple"
            members = [
                Member(Relation.HEAD, 84, Gender.MALE),
                Member(Relation.SPOUSE, 81, Gender.FEMALE),
            ]
        tenant = rng.random() < 0.07 and kind not in ("elder_alone", "elder_couple")
        # where the household comes from: division of birth and of hukou
        if tenant:
            origin = rng.choice(
                self.jining if rng.random() < 0.6 else self.elsewhere + self.shandong
            )
            hukou = origin
        else:
            roll = rng.random()
            if roll < 0.85:
                origin = WENSHANG
            elif roll < 0.94:
                origin = rng.choice(self.jining)
            elif roll < 0.97:
                origin = rng.choice(self.shandong)
            else:
                origin = rng.choice(self.elsewhere)
            hukou = WENSHANG if origin == WENSHANG or rng.random() < 0.65 else origin
            if showcase:
                origin = hukou = WENSHANG
        hukou_type = HukouType.RURAL if rng.random() < 0.22 else HukouType.URBAN
        roll = rng.random()
        ethnicity = "汉族" if roll < 0.983 else "回族" if roll < 0.997 else "满族"
        if tenant:
            since = AS_OF - dt.timedelta(days=rng.randint(30, 3 * 365))
        else:
            since = AS_OF - dt.timedelta(days=rng.randint(200, 26 * 365))
        h = len(w.households)
        hh = HouseholdSpec(
            number=f"{WENSHANG}{h + 1:08d}",
            dwelling=d,
            unit=unit,
            grid=grid,
            kind=kind,
            tenant=tenant,
            since=since,
        )
        w.households.append(hh)
        w.dwellings[d].use = DwellingUse.RENTAL if tenant else DwellingUse.RESIDENTIAL
        family = rng.choices(self.surnames, cum_weights=self.surname_weights)[0]
        for m in members:
            if m.relation in (Relation.SPOUSE,) or (
                m.relation == Relation.PARENT and rng.random() < 0.5
            ):
                surname = rng.choices(self.surnames, cum_weights=self.surname_weights)[0]
            else:
                surname = family
            birth = AS_OF - dt.timedelta(days=int(m.age * 365.25) + rng.randrange(365))
            division = origin
            if birth.year >= 2000 and hukou == WENSHANG:
                division = WENSHANG
            id_number, birth = self._id_number(rng, division, birth, m.gender)
            age = m.age
            death: dt.date | None = None
            if age >= 70 and rng.random() < 0.012 * (1 + (age - 70) / 10):
                death = AS_OF - dt.timedelta(days=rng.randint(5, 600))
            status = ResidenceStatus.RESIDENT
            if hukou != WENSHANG:
                status = ResidenceStatus.FLOATING
            if m.away or (18 <= age <= 45 and m.relation == Relation.CHILD and rng.random() < 0.2):
                status = ResidenceStatus.AWAY
            elif 20 <= age <= 50 and rng.random() < 0.03:
                status = ResidenceStatus.AWAY
            person = PersonSpec(
                name=surname + self._given(rng, birth.year, m.gender),
                id_number=id_number,
                birth_date=birth,
                gender=m.gender,
                phone=self._phone(rng, age),
                ethnicity=ethnicity,
                political_status=self._political(rng, age, m.gender),
                hukou_code=hukou,
                hukou_type=hukou_type,
                residence_status=status,
                death_date=death,
                unit=unit,
                grid=grid,
                dwelling=d,
                household=h,
                relation=m.relation,
                since=max(since, birth),
            )
            hh.members.append(len(w.persons))
            w.persons.append(person)

    def _id_number(
        self, rng: random.Random, division: str, birth: dt.date, gender: str
    ) -> tuple[str, dt.date]:
        for attempt in range(400):
            day = birth - dt.timedelta(days=attempt // 100)
            value = idnumber.build(division, day, rng.randrange(100), gender)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return value, day
        raise RuntimeError("ran out of ID sequence numbers")  # pragma: no cover

    def _given(self, rng: random.Random, year: int, gender: str) -> str:
        era = (
            "old"
            if year < 1960
            else "middle"
            if year < 1980
            else "young"
            if year < 2000
            else "child"
        )
        male, female = names.GIVEN_NAMES[era]
        return rng.choice(male if gender == Gender.MALE else female)

    def _phone(self, rng: random.Random, age: int) -> str:
        if age < 16 or (age >= 85 and rng.random() < 0.7) or (age >= 75 and rng.random() < 0.4):
            return ""
        while True:
            value = mobile_number(rng)
            if value not in self.used_phones:
                self.used_phones.add(value)
                return value

    def _political(self, rng: random.Random, age: int, gender: str) -> str:
        if age < 14:
            return PoliticalStatus.MASSES
        bias = 1.35 if gender == Gender.MALE else 0.65
        roll = rng.random()
        if age <= 28:
            if age >= 18 and roll < 0.03 * bias:
                return PoliticalStatus.PARTY_MEMBER
            if age >= 18 and roll < 0.04 * bias:
                return PoliticalStatus.PROBATIONARY
            if roll < 0.42:
                return PoliticalStatus.LEAGUE_MEMBER
            return PoliticalStatus.MASSES
        share = 0.085 if age <= 40 else 0.10 if age <= 60 else 0.115
        if roll < share * bias:
            return PoliticalStatus.PARTY_MEMBER
        if age <= 40 and roll < (share + 0.004) * bias:
            return PoliticalStatus.PROBATIONARY
        return PoliticalStatus.MASSES

    # -- organisation: party, posts, forces, central households ---------------------------
    def persons_under(self, path: str) -> list[int]:
        return [i for i in self.grid_people_under(path)]

    def grid_people_under(self, path: str) -> Iterator[int]:
        for grid_path in self.grids_under(path):
            yield from self.by_grid.get(grid_path, [])

    def grids_under(self, path: str) -> list[str]:
        area = self.area_index[path]
        if area.kind == AreaKind.GRID:
            return [path]
        if area.kind in (AreaKind.BUILDING, AreaKind.UNIT):
            return []
        out: list[str] = []
        for child in self.kids(path):
            out.extend(self.grids_under(child))
        return out

    def pick(
        self,
        rng: random.Random,
        pool: list[int],
        lo: int,
        hi: int,
        *,
        party: bool = False,
        convert: bool = False,
    ) -> int | None:
        """A person from ``pool`` aged lo..hi, alive, living here, holding no post yet;
        with ``party``, a party member (``convert`` makes one if none is left)."""
        persons = self.world.persons

        def fits(i: int) -> bool:
            p = persons[i]
            return (
                i not in self.taken
                and p.alive
                and p.residence_status != ResidenceStatus.AWAY
                and lo <= p.age() <= hi
                and (not party or p.political_status == PoliticalStatus.PARTY_MEMBER)
            )

        chosen: int | None = None
        if pool:
            # a few random draws find someone in a large pool without scanning it
            for _ in range(40):
                i = pool[rng.randrange(len(pool))]
                if fits(i):
                    chosen = i
                    break
        if chosen is None:
            found = [i for i in pool if fits(i)]
            if not found and party and convert:
                party = False
                found = [i for i in pool if fits(i)]
            if not found:
                return None
            chosen = rng.choice(found)
        if party or convert:
            persons[chosen].political_status = PoliticalStatus.PARTY_MEMBER
        self.taken.add(chosen)
        return chosen

    def must_pick(
        self, rng: random.Random, pools: list[list[int]], lo: int, hi: int, **kw: Any
    ) -> int:
        for pool in pools:
            found = self.pick(rng, pool, lo, hi, **kw)
            if found is not None:
                return found
        for pool in pools:  # widen the age range before giving up
            found = self.pick(rng, pool, 18, 80, **kw)
            if found is not None:
                return found
        raise RuntimeError("no one left to appoint")  # pragma: no cover

    def plan_accounts(self) -> None:
        w = self.world
        rng = rng_for(self.seed, "accounts")
        county = w.of_kind(AreaKind.COUNTY)[0]
        street = w.of_kind(AreaKind.STREET)[0]
        community = self.area_index[self.kids(street.path)[0]]
        zone = self.area_index[self.kids(community.path)[0]]
        grid = self.area_index[self.kids(zone.path)[0]]
        building = self.kids(grid.path)[0]
        resident = self.pick(rng, self.by_grid[grid.path], 30, 60)
        if resident is None:  # pragma: no cover - the first grid always has adults
            raise RuntimeError("no resident left for the demo account")
        w.accounts = [
            AccountSpec("admin", Role.COUNTY_ADMIN, county.path, None, is_staff=True),
            AccountSpec("street", Role.STREET_LEADER, street.path,
                        self.street_secretary[street.path]),
            AccountSpec("community", Role.COMMUNITY_STAFF, community.path,
                        self.community_staff[community.path]),
            AccountSpec("grid", Role.GRID_WORKER, grid.path, self.grid_worker[grid.path]),
            AccountSpec("branch", Role.BRANCH_SECRETARY, zone.path,
                        self.branch_secretary[zone.path]),
            AccountSpec("head", Role.THREE_HEAD, building, self.building_head[building]),
            AccountSpec("resident", Role.RESIDENT, w.persons[resident].unit, resident),
        ]  # fmt: skip

    def plan(self) -> World:
        self.plan_areas()
        self.plan_dwellings()
        self.plan_people()
        plan_organisation(self)
        plan_tags(self)
        self.plan_accounts()
        return self.world


def resized(scale: Scale, residents: int) -> Scale:
    """``scale`` with about ``residents`` people: buildings and units grow or shrink with
    the population, the area and party structure above them stays as it is."""
    factor = residents / scale.residents
    buildings = min(max(scale.grids * 2, round(scale.buildings * factor)), scale.grids * 200)
    lo = max(1, min(scale.buildings_per_grid[0], buildings // scale.grids))
    hi = max(scale.buildings_per_grid[1], -(-buildings // scale.grids) * 2)
    units = round(buildings * scale.units / scale.buildings)
    central = min(scale.central_households, max(scale.grids, residents // 60))
    return replace(
        scale,
        residents=residents,
        central_households=central,
        central_per_grid=(central // scale.grids, -(-central // scale.grids)),
        buildings=buildings,
        units=max(units, buildings * scale.units_per_building[0]),
        buildings_per_grid=(lo, hi),
        floors=scale.floors if factor >= 0.3 else (5, 6),  # small worlds: low-rise
    )


def plan_world(scale: str = "tiny", seed: int = 7, *, residents: int | None = None) -> World:
    """The whole demo county for ``scale`` and ``seed``, without touching the database.

    ``residents`` resizes the scale (for benchmarks that cannot afford the full bench).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    spec = SCALES[scale]
    if residents is not None and residents != spec.residents:
        spec = resized(spec, residents)
    return Planner(spec, seed).plan()
