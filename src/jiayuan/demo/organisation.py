"""The demo county's organisation: party organisations at every level, posts (书记,
委员, 三长, 网格员, 物业项目经理), co-governance forces and party-member central households."""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING

from jiayuan.org.choices import AreaKind, PartyOrgKind
from jiayuan.people.choices import (
    Appointment,
    ForceKind,
    PoliticalStatus,
    PositionRole,
)

from . import names
from .records import (
    AS_OF,
    CentralHouseholdSpec,
    ForceSpec,
    PartyOrgSpec,
    PositionSpec,
    distribute,
    rng_for,
    weighted,
)

if TYPE_CHECKING:
    from .plan import Planner


def plan_organisation(pl: Planner) -> None:
    """Party organisations, posts, forces and central households for the planned people.

    Office holders are drawn from the people living where they serve; nobody holds two
    posts except the community 两委 members who also lead a zone branch (兼任)."""
    w = pl.world
    s = pl.scale
    rng = rng_for(pl.seed, "organisation")
    pl.by_grid = {}
    pl.by_unit = {}
    for i, person in enumerate(w.persons):
        pl.by_grid.setdefault(person.grid, []).append(i)
        pl.by_unit.setdefault(person.unit, []).append(i)

    def start(years: int = 8) -> dt.date:
        return AS_OF - dt.timedelta(days=rng.randint(60, years * 365))

    def add_position(person: int, area: str, role: str, appointed: str = "") -> None:
        w.positions.append(PositionSpec(person, area, role, appointed, start()))

    def skills() -> list[str]:
        return rng.sample(names.SKILLS, rng.randint(0, 2))

    streets = w.of_kind(AreaKind.STREET)
    communities = w.of_kind(AreaKind.COMMUNITY)
    zones = w.of_kind(AreaKind.ZONE)
    # party organisations: 党工委 / 党委 / 党支部 / 党小组
    for street in streets:
        w.party_orgs.append(
            PartyOrgSpec(street.path, PartyOrgKind.WORKING_COMMITTEE,
                         f"中共{street.name}工作委员会", dt.date(2001 + rng.randrange(10), 7, 1))
        )  # fmt: skip
    for comm in communities:
        w.party_orgs.append(
            PartyOrgSpec(comm.path, PartyOrgKind.COMMITTEE, f"中共{comm.name}委员会",
                         dt.date(2010 + rng.randrange(8), rng.randint(1, 12), 1))
        )  # fmt: skip
    for zone in zones:
        w.party_orgs.append(
            PartyOrgSpec(zone.path, PartyOrgKind.BRANCH, f"{zone.name}党支部",
                         dt.date(2021 + rng.randrange(3), rng.randint(1, 12), 1))
        )  # fmt: skip
        for gp in pl.kids(zone.path):
            grid = pl.area_index[gp]
            comm_name = pl.area_index[zone.parent or ""].name
            w.party_orgs.append(
                PartyOrgSpec(gp, PartyOrgKind.GROUP, f"{comm_name}{grid.name}党小组",
                             dt.date(2022 + rng.randrange(2), rng.randint(1, 12), 1))
            )  # fmt: skip

    # street party secretaries live somewhere in their street
    pl.street_secretary = {}
    for street in streets:
        p = pl.must_pick(rng, [pl.persons_under(street.path)], 40, 56, party=True, convert=True)
        add_position(p, street.path, PositionRole.SECRETARY, Appointment.SECONDED)
        pl.street_secretary[street.path] = p

    # community 两委: secretary + 4 members, all community workers too
    pl.two_committees = {}
    pl.community_staff = {}
    for comm in communities:
        pool = pl.persons_under(comm.path)
        team: list[int] = []
        p = pl.must_pick(rng, [pool], 35, 55, party=True, convert=True)
        add_position(p, comm.path, PositionRole.SECRETARY, Appointment.ELECTED)
        team.append(p)
        for _ in range(4):
            p = pl.must_pick(rng, [pool], 26, 55)
            add_position(p, comm.path, PositionRole.COMMITTEE_MEMBER, Appointment.ELECTED)
            team.append(p)
        pl.two_committees[comm.path] = team
        workers = list(team)
        for _ in range(s.community_workers - len(team)):
            workers.append(pl.must_pick(rng, [pool], 23, 45))
        for p in workers:
            w.forces.append(
                ForceSpec(p, ForceKind.COMMUNITY_WORKER, comm.path, skills(), f"{comm.name}居委会")
            )
        pl.community_staff[comm.path] = workers[-1]

    # zone branches: secretary (兼任/派驻/推选 in the published proportions) + 2 members
    mix = secretary_mix(pl, rng, len(zones))
    first_zone = zones[0].path
    mix_by_zone = dict(zip([z.path for z in zones], mix, strict=True))
    if mix_by_zone[first_zone] != Appointment.ELECTED:  # the demo `branch` is a resident
        swap = next(z for z, m in mix_by_zone.items() if m == Appointment.ELECTED)
        mix_by_zone[swap], mix_by_zone[first_zone] = (
            mix_by_zone[first_zone],
            Appointment.ELECTED,
        )
    concurrent_turn: dict[str, int] = {}
    pl.branch_secretary = {}
    for zone in zones:
        pool = pl.persons_under(zone.path)
        comm_path = zone.parent or ""
        how = mix_by_zone[zone.path]
        if how == Appointment.CONCURRENT:
            team = pl.two_committees[comm_path]
            turn = concurrent_turn.get(comm_path, 0)
            concurrent_turn[comm_path] = turn + 1
            p = team[turn % len(team)]
            w.persons[p].political_status = PoliticalStatus.PARTY_MEMBER
        elif how == Appointment.SECONDED:
            p = pl.must_pick(rng, [pool, pl.persons_under(comm_path)], 60, 72,
                               party=True, convert=True)  # fmt: skip
        else:
            p = pl.must_pick(rng, [pool], 35, 65, party=True, convert=True)
        add_position(p, zone.path, PositionRole.SECRETARY, how)
        pl.branch_secretary[zone.path] = p
        for _ in range(2):
            p = pl.must_pick(rng, [pool], 30, 70, party=True, convert=True)
            add_position(p, zone.path, PositionRole.COMMITTEE_MEMBER, Appointment.ELECTED)

    # 三长: one 小区长 per zone, one 楼栋长 per building, one 单元长 per unit
    pl.building_head = {}
    three_head_how = (
        (Appointment.SELF, 3),
        (Appointment.RECOMMENDED, 5),
        (Appointment.ELECTED, 2),
    )
    for zone in zones:
        zone_pool = pl.persons_under(zone.path)
        p = pl.must_pick(rng, [zone_pool], 40, 72)
        add_position(p, zone.path, PositionRole.ZONE_HEAD, weighted(rng, three_head_how))
        w.forces.append(ForceSpec(p, ForceKind.THREE_HEAD, zone.path, skills()))
        for gp in pl.kids(zone.path):
            for bp in pl.kids(gp):
                unit_paths = pl.kids(bp)
                building_pool = [i for u in unit_paths for i in pl.by_unit.get(u, [])]
                p = pl.must_pick(rng, [building_pool, pl.by_grid.get(gp, []), zone_pool], 35, 72)
                add_position(p, bp, PositionRole.BUILDING_HEAD, weighted(rng, three_head_how))
                w.forces.append(ForceSpec(p, ForceKind.THREE_HEAD, bp, skills()))
                pl.building_head[bp] = p
                for up in unit_paths:
                    pools = [
                        pl.by_unit.get(up, []),
                        building_pool,
                        pl.by_grid.get(gp, []),
                        zone_pool,
                    ]
                    p = pl.must_pick(
                        rng, pools, 30, 75,
                    )  # fmt: skip
                    add_position(p, up, PositionRole.UNIT_HEAD, weighted(rng, three_head_how))
                    w.forces.append(ForceSpec(p, ForceKind.THREE_HEAD, up, skills()))

    # property: one 物业项目经理 per zone, who is also a property-staff force
    for zone in zones:
        p = pl.must_pick(rng, [pl.persons_under(zone.parent or "")], 28, 55)
        add_position(p, zone.path, PositionRole.PROPERTY_MANAGER)
        company = rng.choice(names.PROPERTY_COMPANIES)
        w.forces.append(ForceSpec(p, ForceKind.PROPERTY_STAFF, zone.path, skills(), company))

    # grid workers: one 专职网格员 per grid, a 兼职网格员 in every other grid
    pl.grid_worker = {}
    grids = w.of_kind(AreaKind.GRID)
    for n, grid in enumerate(grids):
        comm_path = "/".join(grid.path.split("/")[:4]) + "/"
        p = pl.must_pick(rng, [pl.persons_under(comm_path)], 24, 45)
        add_position(p, grid.path, PositionRole.GRID_WORKER, Appointment.RECOMMENDED)
        w.forces.append(ForceSpec(p, ForceKind.GRID_WORKER, grid.path, skills(), "社区网格工作站"))
        pl.grid_worker[grid.path] = p
        if n % 2 == 0:
            p = pl.must_pick(rng, [pl.by_grid.get(grid.path, [])], 30, 65)
            add_position(p, grid.path, PositionRole.PART_TIME_GRID_WORKER, Appointment.SELF)
            w.forces.append(ForceSpec(p, ForceKind.PART_TIME_GRID_WORKER, grid.path, skills()))

    # 党员中心户: party members each looking after about ten neighbouring households
    central = distribute(rng, s.central_households, len(grids), *s.central_per_grid)
    grid_households: dict[str, list[int]] = {}
    for h, hh in enumerate(w.households):
        grid_households.setdefault(hh.grid, []).append(h)
    for grid, n_central in zip(grids, central, strict=True):
        households = grid_households.get(grid.path, [])
        block = max(1, min(10, len(households) // max(1, n_central)))
        for k in range(n_central):
            p = pl.must_pick(rng, [pl.by_grid.get(grid.path, [])], 30, 80, party=True, convert=True)
            size = max(1, min(block, rng.randint(block - 2, block + 2)))
            first = k * block
            served = households[first : first + size] if first < len(households) else []
            w.central_households.append(CentralHouseholdSpec(p, grid.path, served, start(4)))
            add_position(p, grid.path, PositionRole.CENTRAL_HOUSEHOLD, Appointment.RECOMMENDED)

    # in-service party members registered where they live, and volunteers
    pl.in_service = []
    for comm in communities:
        pool = pl.persons_under(comm.path)
        for _ in range(s.in_service_members):
            p = pl.must_pick(rng, [pool], 25, 58, party=True, convert=True)
            org = rng.choice(names.WORKPLACES)
            w.forces.append(
                ForceSpec(p, ForceKind.IN_SERVICE_MEMBER, w.persons[p].grid, skills(), org)
            )
            pl.in_service.append(p)
        for _ in range(s.volunteers):
            p = pl.must_pick(rng, [pool], 16, 75)
            w.forces.append(ForceSpec(p, ForceKind.VOLUNTEER, comm.path, skills() or ["志愿服务"]))


def secretary_mix(pl: Planner, rng: random.Random, n: int) -> list[str]:
    """How each zone branch secretary came to office, in the published proportions."""
    concurrent, seconded, elected = pl.scale.secretary_mix
    total = concurrent + seconded + elected
    if total != n:  # keep the proportions at other scales
        seconded = round(n * seconded / total)
        elected = round(n * elected / total)
        concurrent = n - seconded - elected
    mix = (
        [Appointment.CONCURRENT] * concurrent
        + [Appointment.SECONDED] * seconded
        + [Appointment.ELECTED] * elected
    )
    rng.shuffle(mix)
    return [str(m) for m in mix]


# -- tags -----------------------------------------------------------------------------
