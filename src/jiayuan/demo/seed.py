"""Seeding the demo county (演示县): write a :mod:`jiayuan.demo.plan` world to the database.

Every row goes through the action layer's bulk path (``actions.bulk_create``), so the
demo county arrives with one audit entry per row, written by the system (actor None)
with the note ``seed-demo``, exactly as an import would. The whole seed runs in one
transaction: it lands complete or not at all.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.test.utils import override_settings

from jiayuan.core import actions, audit, bulk
from jiayuan.core.models import AuditEntry
from jiayuan.org.choices import AREA_ORDER
from jiayuan.org.models import Area, Dwelling, Membership, PartyOrganization
from jiayuan.people.choices import THREE_HEADS, Relation
from jiayuan.people.management.commands.createuser import grant_admin_site
from jiayuan.people.models import (
    CentralHousehold,
    Force,
    Household,
    HouseholdTag,
    Person,
    PersonTag,
    Position,
    Residence,
    Tag,
)
from jiayuan.people.tagging import recompute_tags

from .plan import plan_world
from .progress import Progress
from .records import AS_OF, SCALES, World

NOTE = "seed-demo"
CHUNK = 20_000

M = TypeVar("M", bound=models.Model)


def _write(
    model: type[M], objs: Sequence[M], advance: Callable[[int], None], audited: bool = True
) -> list[M]:
    """``actions.bulk_create`` in chunks, so memory stays flat at the bench scale and the
    bar moves.

    ``audited=False`` is the bench scale's load generator only: the same rows (area path
    derived the same way) through the same writer, without one audit entry each, see
    :func:`seed_demo`.
    """
    out: list[M] = []
    for start in range(0, len(objs), CHUNK):
        chunk = list(objs[start : start + CHUNK])
        if audited:
            out.extend(actions.bulk_create(model, chunk, actor=None, note=NOTE))
        else:
            for obj in chunk:
                derive = getattr(obj, "derive_area_path", None)
                if derive is not None:
                    obj.area_path = derive()  # type: ignore[attr-defined]
            out.extend(bulk.insert(model, chunk))
        advance(len(chunk))
    return out


def _stage(
    progress: Progress, label: str, model: type[M], objs: Sequence[M], audited: bool
) -> list[M]:
    with progress.stage(label, len(objs)) as advance:
        return _write(model, objs, advance, audited)


def _estimate(residents: int) -> list[tuple[str, int]]:
    """Every stage's size before the world is planned, in proportion to the population
    (as the county's plan has them); :meth:`Progress.refine` corrects them after."""
    share = {
        "规划": 1.0, "区域": 0.033, "房屋": 0.39, "家庭户": 0.36, "加密身份证号": 1.0,
        "居民": 1.0, "户主": 0.36, "居住记录": 1.0, "标签": 0.0, "个人标签": 0.45,
        "家庭标签": 0.012, "党组织": 0.0026, "职务": 0.052, "共治力量": 0.039,
        "党员中心户": 0.017, "中心户联系户": 0.17, "规则标签": 1.0, "账号": 0.0,
        "诉求": 1.0, "政策": 1.0, "设备": 1.0, "社区服务": 1.0,
    }  # fmt: skip
    plan = [(label, round(residents * k)) for label, k in share.items()]
    return [(label, n if label != "账号" else 7) for label, n in plan]


def _sizes(world: World) -> list[tuple[str, int]]:
    """Every stage's size once the world is planned."""
    n = len(world.persons)
    return [
        ("区域", len(world.areas)), ("房屋", len(world.dwellings)),
        ("家庭户", len(world.households)), ("加密身份证号", n), ("居民", n),
        ("户主", len(world.households)), ("居住记录", n), ("标签", len(world.tags)),
        ("个人标签", len(world.person_tags)), ("家庭标签", len(world.household_tags)),
        ("党组织", len(world.party_orgs)), ("职务", len(world.positions)),
        ("共治力量", len(world.forces)), ("党员中心户", len(world.central_households)),
        ("中心户联系户", sum(len(c.households) for c in world.central_households)),
        ("规则标签", n), ("账号", len(world.accounts)), ("诉求", n), ("政策", n), ("设备", n),
        ("社区服务", n),
    ]  # fmt: skip


def seed_demo(
    scale: str = "tiny",
    seed: int = 7,
    progress: bool = True,
    *,
    if_empty: bool = False,
    residents: int | None = None,
    audited: bool | None = None,
) -> dict[str, Any]:
    """Build the demo county of ``scale`` (tiny / county / bench) from ``seed``.

    Every row is audited one by one, except at the ``bench`` scale (unless ``audited``
    says otherwise): the bench world is a synthetic load generator for the search and
    report benchmarks, its million residents would add as many audit rows and double
    the seeding time for no one to read, and the benchmarks measure queries, not
    seeding. It still leaves one audit entry saying what it wrote. ``residents`` resizes
    the scale (see :func:`jiayuan.demo.plan.resized`). With ``progress`` the user sees
    one bar for the whole seed (:class:`jiayuan.demo.progress.Progress`).

    Returns the counts written (and ``skipped: True`` when ``if_empty`` finds areas),
    with the CPU and wall seconds of each stage.
    """
    if if_empty and Area.objects.exists():
        return {"skipped": True}
    started = time.perf_counter()
    bar = Progress(_estimate(residents or SCALES[scale].residents), enabled=progress)
    # One transaction for the whole seed: it lands complete or not at all, and what the
    # other apps write action by action (policy visits, alarms) commits once instead of
    # row by row. DEBUG would keep every statement in memory.
    try:
        with override_settings(DEBUG=False), _no_full_collections(), transaction.atomic():
            counts, planned = _seed(bar, scale, seed, residents, audited)
    finally:
        bar.close()
    counts["plan_seconds"] = round(planned - started, 2)
    counts["seconds"] = round(time.perf_counter() - started, 2)
    counts["stage_cpu_seconds"] = bar.cpu_seconds
    counts["stage_wall_seconds"] = bar.wall_seconds
    return counts


@contextmanager
def _no_full_collections() -> Iterator[None]:
    """No full garbage collection while seeding; the young generations as usual.

    The seed keeps millions of long-lived objects (the planned world, the rows it
    writes), and every full collection walks them all: 24 full collections took 12 of
    the county seed's 88 CPU seconds. Young objects are still collected (what the seed
    drops is young); the interpreter's thresholds come back afterwards, and with them
    the next full collection."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, 1 << 30)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


def _seed(
    bar: Progress, scale: str, seed: int, residents: int | None, audited: bool | None
) -> tuple[dict[str, Any], float]:
    """The seed's stages in order: plan, the world, then what other apps add to it.
    Returns the counts and the moment planning ended."""
    with bar.stage("规划"):
        world = plan_world(scale, seed, residents=residents)
    planned = time.perf_counter()
    counts = write_world(
        world, progress=bar, audited=scale != "bench" if audited is None else audited
    )
    with bar.stage("诉求"):
        from jiayuan.cases.demo import seed_cases  # a year of cases (诉求) in the world

        counts.update(seed_cases(seed, scale, progress=False))
    with bar.stage("政策"):
        from jiayuan.policies.demo import seed_policies  # benefits received, a run

        counts.update(seed_policies(seed))
    with bar.stage("设备"):
        from jiayuan.iot.demo import seed_devices  # the safety devices and alarms

        counts.update(seed_devices(scale, random.Random(seed)))  # noqa: S311 - demo data
    with bar.stage("社区服务"):
        from jiayuan.community.demo import seed_community  # positions, volunteers, markets …

        counts.update(seed_community(seed, scale))
    if scale != "tiny":  # tests/partners assume an empty registry; tests seed it themselves
        with bar.stage("红色合伙人"):
            from jiayuan.partners.demo import seed_partners  # partners, projects, a year

            counts.update(seed_partners(seed, scale))
        with bar.stage("数字助理"):
            from jiayuan.assistant.demo.asks import seed_asks  # a week of questions, hand-offs
            from jiayuan.assistant.demo.wecom import seed_wecom  # group robots, broadcasts

            counts.update(seed_wecom(seed, scale))
            counts.update(seed_asks(seed, scale))
    if scale == "county":  # the first start; the tiny test world stays without imports
        with bar.stage("数据汇聚"):
            from jiayuan.datahub.demo.stage import seed_hub  # agency files, first imports

            counts.update(seed_hub(seed))
        with bar.stage("在岗力量"):
            from jiayuan.command.demo import seed_duty  # forces on post, two weeks of shifts

            counts.update(seed_duty(seed))
    # The first pages read these tables at once: a server whose autovacuum is off (or
    # has not come round yet) would plan them as empty, so give the planner the seed's
    # statistics before it commits.
    bulk.analyze(django_apps.get_models())
    return counts, planned


def write_world(
    world: World, *, progress: bool | Progress = True, audited: bool = True
) -> dict[str, Any]:
    """Write every record of ``world`` through the action layer in one transaction.

    ``progress`` is the seed's bar, or a flag to make one for this world alone."""
    own = not isinstance(progress, Progress)
    if isinstance(progress, Progress):
        p = progress
        p.refine(_sizes(world))
    else:
        p = Progress(_sizes(world), enabled=progress)
    if connection.vendor == "sqlite":
        # a 256 MB page cache keeps the growing indexes in memory while seeding
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")
    # DEBUG keeps every SQL statement in memory, which costs a tenth of the time here.
    with override_settings(DEBUG=False), transaction.atomic():
        areas = _write_areas(world, p, audited)
        dwellings = _stage(
            p,
            "房屋",
            Dwelling,
            [
                bulk.build(Dwelling, unit=areas[d.unit], number=d.number, floor=d.floor,
                           floor_area=d.floor_area, use=d.use)
                for d in world.dwellings
            ],
            audited,
        )  # fmt: skip
        households = _stage(
            p,
            "家庭户",
            Household,
            [
                bulk.build(
                    Household, number=h.number, dwelling=dwellings[h.dwelling], area=areas[h.unit]
                )
                for h in world.households
            ],
            audited,
        )
        persons = _write_persons(world, p, areas, dwellings, households, audited)
        with p.stage("户主", len(households)) as advance:
            for hh, spec in zip(households, world.households, strict=True):
                hh.head = persons[spec.members[0]]
            if audited:
                # just created: every head was empty
                empty = [{"head_id": None}] * len(households)
                actions.bulk_update_each(
                    households, ["head"], actor=None, note=NOTE, previous=empty
                )
            else:
                bulk.update(households, ["head"])
            advance(len(households))
        _stage(
            p,
            "居住记录",
            Residence,
            [
                bulk.build(
                    Residence,
                    person=persons[i],
                    dwelling=dwellings[s.dwelling],
                    household=households[s.household],
                    relation=Relation.TENANT
                    if world.households[s.household].tenant
                    else s.relation,
                    since=s.since,
                    until=s.death_date,
                )
                for i, s in enumerate(world.persons)
            ],
            audited,
        )
        tags = _write_tags(world, p, audited)
        _stage(
            p,
            "个人标签",
            PersonTag,
            [
                bulk.build(PersonTag, person=persons[t.owner], tag=tags[t.tag],
                           attributes=t.attributes, valid_from=t.valid_from, source=t.source,
                           evidence=t.evidence)
                for t in world.person_tags
            ],
            audited,
        )  # fmt: skip
        _stage(
            p,
            "家庭标签",
            HouseholdTag,
            [
                bulk.build(HouseholdTag, household=households[t.owner], tag=tags[t.tag],
                           attributes=t.attributes, valid_from=t.valid_from, source=t.source,
                           evidence=t.evidence)
                for t in world.household_tags
            ],
            audited,
        )  # fmt: skip
        _stage(
            p,
            "党组织",
            PartyOrganization,
            [
                bulk.build(
                    PartyOrganization,
                    area=areas[o.area],
                    kind=o.kind,
                    name=o.name,
                    founded_on=o.founded_on,
                )
                for o in world.party_orgs
            ],
            audited,
        )
        _stage(
            p,
            "职务",
            Position,
            [
                bulk.build(Position, person=persons[x.person], area=areas[x.area], role=x.role,
                           appointed=x.appointed, start=x.start)
                for x in world.positions
            ],
            audited,
        )  # fmt: skip
        _stage(
            p,
            "共治力量",
            Force,
            [
                bulk.build(Force, person=persons[f.person], kind=f.kind, area=areas[f.area],
                           skills=f.skills, organisation=f.organisation, on_duty=f.on_duty)
                for f in world.forces
            ],
            audited,
        )  # fmt: skip
        centrals = _stage(
            p,
            "党员中心户",
            CentralHousehold,
            [
                bulk.build(
                    CentralHousehold, person=persons[c.person], grid=areas[c.grid], since=c.since
                )
                for c in world.central_households
            ],
            audited,
        )
        through = CentralHousehold.households.through
        _stage(
            p,
            "中心户联系户",
            through,
            [
                bulk.build(through, centralhousehold_id=ch.pk, household_id=households[h].pk)
                for ch, spec in zip(centrals, world.central_households, strict=True)
                for h in spec.households
            ],
            audited,
        )
        # the planner must know the tables are full before the rules query them
        bulk.analyze([Area, Dwelling, Household, Person, Residence, Tag, PersonTag,
                      HouseholdTag, PartyOrganization, Position, Force, CentralHousehold,
                      through])  # fmt: skip
        # computed tags (高龄老人, 独居老人, 空巢老人) come from their rules, on the
        # world's reference date, before accounts: linking a user saves a person,
        # which recomputes that household's tags (then nothing is left to change)
        with p.stage("规则标签", len(world.persons)):
            computed = recompute_tags(AS_OF, note=NOTE, audited=audited)
        with p.stage("账号", len(world.accounts)):
            _write_accounts(world, areas, persons)
        if not audited:
            summary = {k: v for k, v in counts_of(world).items() if isinstance(v, int)}
            audit.record(AuditEntry.Action.CREATE, areas[world.areas[0].path], None, summary,
                         f"{NOTE}: {world.scale} 规模，逐行审计已省略（压测数据）")  # fmt: skip
    if own:
        p.close()
    counts = counts_of(world)
    counts["computed_tags"] = {code: s["holders"] for code, s in computed.items()}
    counts["stage_cpu_seconds"] = p.cpu_seconds
    return counts


def _write_areas(world: World, p: Progress, audited: bool) -> dict[str, Area]:
    by_path: dict[str, Area] = {}
    with p.stage("区域", len(world.areas)) as advance:
        for kind in AREA_ORDER:
            level = [a for a in world.areas if a.kind == kind]
            objs = []
            for a in level:
                obj = Area(
                    kind=a.kind,
                    code=a.code,
                    name=a.name,
                    parent=by_path[a.parent] if a.parent else None,
                    boundary=a.boundary,
                    centroid_lat=a.centroid[0] if a.centroid else None,
                    centroid_lng=a.centroid[1] if a.centroid else None,
                )
                objs.append(obj)
            for obj, a in zip(_write(Area, objs, advance, audited), level, strict=True):
                if obj.path != a.path:  # pragma: no cover - the plan and the model disagree
                    raise RuntimeError(f"area path {obj.path} != planned {a.path}")
                by_path[a.path] = obj
    return by_path


def _write_tags(world: World, p: Progress, audited: bool) -> dict[str, Tag]:
    """The catalogue is installed by a migration (people 0002); add what is missing."""
    tags = Tag.objects.in_bulk(field_name="code")
    missing = [
        Tag(code=t.code, name=t.name, category=t.category, scope=t.scope,
            attributes=list(t.attributes), description=t.description)
        for t in world.tags
        if t.code not in tags
    ]  # fmt: skip
    for tag in _stage(p, "标签", Tag, missing, audited):
        tags[tag.code] = tag
    return tags


def _write_persons(
    world: World,
    p: Progress,
    areas: dict[str, Area],
    dwellings: list[Dwelling],
    households: list[Household],
    audited: bool,
) -> list[Person]:
    objs = []
    with p.stage("加密身份证号", len(world.persons)) as advance:
        for s in world.persons:
            person = bulk.build(
                Person,
                name=s.name,
                birth_date=s.birth_date,
                gender=s.gender,
                ethnicity=s.ethnicity,
                political_status=s.political_status,
                hukou_code=s.hukou_code,
                hukou_type=s.hukou_type,
                residence_status=s.residence_status,
                death_date=s.death_date,
                area=areas[s.unit],
                dwelling=dwellings[s.dwelling],
                household=households[s.household],
                relation=s.relation,
            )
            person.set_id_number(s.id_number)
            if s.phone:
                person.set_phone(s.phone)
            objs.append(person)
            if len(objs) % 5000 == 0:
                advance(5000)
    return _stage(p, "居民", Person, objs, audited)


def _write_accounts(world: World, areas: dict[str, Area], persons: list[Person]) -> None:
    user_model = get_user_model()
    # One hash serves every account (the salt travels inside it); hashing once keeps the
    # tiny seed, which starts every test session, fast.
    password = make_password(settings.DEMO_PASSWORD)
    for spec in world.accounts:
        user = user_model(username=spec.username, is_staff=spec.is_staff, is_superuser=False)
        user.password = password
        # the password hash must never reach the audit log
        user.audit_secret_fields = ("password",)  # type: ignore[attr-defined]
        actions.save_new(user, actor=None, note=NOTE)
        area = areas[spec.area]
        membership = Membership(user=user, area=area, role=spec.role)
        membership.area_path = area.path
        actions.save_new(membership, actor=None, note=NOTE)
        if spec.is_staff:
            grant_admin_site(user)
        if spec.person is not None:
            actions.update(persons[spec.person], actor=None, note=NOTE, user=user)


def counts_of(world: World) -> dict[str, Any]:
    """What the world holds, in the overview's terms."""
    kinds: dict[str, int] = {}
    for a in world.areas:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
    party = sum(1 for s in world.persons if s.political_status in ("party_member", "probationary"))
    return {
        "streets": kinds.get("street", 0),
        "communities": kinds.get("community", 0),
        "zones": kinds.get("zone", 0),
        "grids": kinds.get("grid", 0),
        "buildings": kinds.get("building", 0),
        "units": kinds.get("unit", 0),
        "party_organisations": len(world.party_orgs),
        "party_branches": sum(1 for o in world.party_orgs if o.kind == "branch"),
        "central_households": len(world.central_households),
        "three_heads": sum(1 for x in world.positions if x.role in THREE_HEADS),
        "positions": len(world.positions),
        "forces": len(world.forces),
        "dwellings": len(world.dwellings),
        "households": len(world.households),
        "residents": len(world.persons),
        "party_members": party,
        "person_tags": len(world.person_tags),
        "household_tags": len(world.household_tags),
        "accounts": len(world.accounts),
    }
