"""Seeding the demo county (演示县): write a :mod:`jiayuan.demo.plan` world to the database.

Every row goes through the action layer's bulk path (``actions.bulk_create``), so the
demo county arrives with one audit entry per row, written by the system (actor None)
with the note ``seed-demo``, exactly as an import would. The whole seed runs in one
transaction: it lands complete or not at all.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.test.utils import override_settings
from tqdm import tqdm

from jiayuan.core import actions, audit
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
from .records import AS_OF, World

NOTE = "seed-demo"
CHUNK = 20_000

M = TypeVar("M", bound=models.Model)


class _Progress:
    """One tqdm bar per stage when ``enabled``; silent otherwise. Also carries whether
    rows are audited one by one, and the CPU seconds each stage took."""

    def __init__(self, enabled: bool, audit: bool = True) -> None:
        self.enabled = enabled
        self.audit = audit
        self.seconds: dict[str, float] = {}

    def bar(self, label: str, total: int) -> Any:
        return tqdm(total=total, desc=label, unit="行", disable=not self.enabled, leave=False)


def _write(model: type[M], objs: Sequence[M], bar: Any, audited: bool = True) -> list[M]:
    """``actions.bulk_create`` in chunks, so memory stays flat at the bench scale.

    ``audited=False`` is the bench scale's load generator only: the same rows (area path
    derived the same way) without one audit entry each, see :func:`seed_demo`.
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
            out.extend(model._default_manager.bulk_create(chunk, batch_size=5000))
        bar.update(len(chunk))
    return out


def _stage(progress: _Progress, label: str, model: type[M], objs: Sequence[M]) -> list[M]:
    started = time.process_time()
    with progress.bar(label, len(objs)) as bar:
        out = _write(model, objs, bar, progress.audit)
    progress.seconds[label] = round(time.process_time() - started, 2)
    return out


def _set_each(objs: Sequence[M], field: str, *, audited: bool = True) -> None:
    """Set a different value of ``field`` on each row (already assigned on the objects),
    with an audit entry per row: the bulk path for per-row values, which
    ``actions.bulk_update`` (one value for all rows) does not cover. One parametrised
    UPDATE run by ``executemany``: Django's ``bulk_update`` builds a CASE expression per
    batch and took a third of the county seed."""
    if not objs:
        return
    model = type(objs[0])
    target = model._meta.get_field(field)
    if not isinstance(target, models.Field):  # pragma: no cover - a programming error
        raise TypeError(f"{model.__name__}.{field} is not a concrete field")
    column, attname = target.column, target.attname
    table = connection.ops.quote_name(model._meta.db_table)
    # names come from the model's metadata, values are parameters
    sql = f"UPDATE {table} SET {connection.ops.quote_name(column)} = %s WHERE id = %s"  # noqa: S608
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, [(getattr(o, attname), o.pk) for o in objs])
        if audited:
            audit.record_many(
                audit.entry(
                    AuditEntry.Action.UPDATE, o, None, {attname: [None, getattr(o, attname)]}, NOTE
                )
                for o in objs
            )


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
    the scale (see :func:`jiayuan.demo.plan.resized`).

    Returns the counts written (and ``skipped: True`` when ``if_empty`` finds areas).
    """
    if if_empty and Area.objects.exists():
        return {"skipped": True}
    started = time.perf_counter()
    world = plan_world(scale, seed, residents=residents)
    planned = time.perf_counter()
    counts = write_world(
        world, progress=progress, audited=scale != "bench" if audited is None else audited
    )
    from jiayuan.cases.demo import seed_cases  # a year of cases (诉求) in the world

    counts.update(seed_cases(seed, scale, progress=progress))
    from jiayuan.policies.demo import seed_policies  # benefits received, a matching run

    counts.update(seed_policies(seed))
    from jiayuan.iot.demo import seed_devices  # the safety devices (智能安防) and alarms

    counts.update(seed_devices(scale, random.Random(seed)))  # noqa: S311 - demo data
    counts["plan_seconds"] = round(planned - started, 2)
    counts["seconds"] = round(time.perf_counter() - started, 2)
    return counts


def write_world(world: World, *, progress: bool = True, audited: bool = True) -> dict[str, Any]:
    """Write every record of ``world`` through the action layer in one transaction."""
    p = _Progress(progress, audited)
    if connection.vendor == "sqlite":
        # a 256 MB page cache keeps the growing indexes in memory while seeding
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size = -262144")
    # DEBUG keeps every SQL statement in memory, which costs a tenth of the time here.
    with override_settings(DEBUG=False), transaction.atomic():
        areas = _write_areas(world, p)
        dwellings = _stage(
            p,
            "房屋",
            Dwelling,
            [
                Dwelling(unit=areas[d.unit], number=d.number, floor=d.floor,
                         floor_area=d.floor_area, use=d.use)
                for d in world.dwellings
            ],
        )  # fmt: skip
        households = _stage(
            p,
            "家庭户",
            Household,
            [
                Household(number=h.number, dwelling=dwellings[h.dwelling], area=areas[h.unit])
                for h in world.households
            ],
        )
        persons = _write_persons(world, p, areas, dwellings, households)
        started = time.process_time()
        for hh, spec in zip(households, world.households, strict=True):
            hh.head = persons[spec.members[0]]
        _set_each(households, "head", audited=audited)
        p.seconds["户主"] = round(time.process_time() - started, 2)
        _stage(
            p,
            "居住记录",
            Residence,
            [
                Residence(
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
        )
        tags = _write_tags(world, p)
        _stage(
            p,
            "个人标签",
            PersonTag,
            [
                PersonTag(person=persons[t.owner], tag=tags[t.tag], attributes=t.attributes,
                          valid_from=t.valid_from, source=t.source, evidence=t.evidence)
                for t in world.person_tags
            ],
        )  # fmt: skip
        _stage(
            p,
            "家庭标签",
            HouseholdTag,
            [
                HouseholdTag(household=households[t.owner], tag=tags[t.tag],
                             attributes=t.attributes, valid_from=t.valid_from, source=t.source,
                             evidence=t.evidence)
                for t in world.household_tags
            ],
        )  # fmt: skip
        _stage(
            p,
            "党组织",
            PartyOrganization,
            [
                PartyOrganization(
                    area=areas[o.area], kind=o.kind, name=o.name, founded_on=o.founded_on
                )
                for o in world.party_orgs
            ],
        )
        _stage(
            p,
            "职务",
            Position,
            [
                Position(person=persons[x.person], area=areas[x.area], role=x.role,
                         appointed=x.appointed, start=x.start)
                for x in world.positions
            ],
        )  # fmt: skip
        _stage(
            p,
            "共治力量",
            Force,
            [
                Force(person=persons[f.person], kind=f.kind, area=areas[f.area], skills=f.skills,
                      organisation=f.organisation, on_duty=f.on_duty)
                for f in world.forces
            ],
        )  # fmt: skip
        centrals = _stage(
            p,
            "党员中心户",
            CentralHousehold,
            [
                CentralHousehold(person=persons[c.person], grid=areas[c.grid], since=c.since)
                for c in world.central_households
            ],
        )
        through = CentralHousehold.households.through
        _stage(
            p,
            "中心户联系户",
            through,
            [
                through(centralhousehold_id=ch.pk, household_id=households[h].pk)
                for ch, spec in zip(centrals, world.central_households, strict=True)
                for h in spec.households
            ],
        )
        # computed tags (高龄老人, 独居老人, 空巢老人) come from their rules, on the
        # world's reference date, before accounts: linking a user saves a person,
        # which recomputes that household's tags (then nothing is left to change)
        started = time.process_time()
        computed = recompute_tags(AS_OF, note=NOTE, audited=audited)
        p.seconds["规则标签"] = round(time.process_time() - started, 2)
        _write_accounts(world, areas, persons)
        if not audited:
            summary = {k: v for k, v in counts_of(world).items() if isinstance(v, int)}
            audit.record(AuditEntry.Action.CREATE, areas[world.areas[0].path], None, summary,
                         f"{NOTE}: {world.scale} 规模，逐行审计已省略（压测数据）")  # fmt: skip
    counts = counts_of(world)
    counts["computed_tags"] = {code: s["holders"] for code, s in computed.items()}
    counts["stage_cpu_seconds"] = p.seconds
    return counts


def _write_areas(world: World, p: _Progress) -> dict[str, Area]:
    by_path: dict[str, Area] = {}
    with p.bar("区域", len(world.areas)) as bar:
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
            for obj, a in zip(_write(Area, objs, bar), level, strict=True):
                if obj.path != a.path:  # pragma: no cover - the plan and the model disagree
                    raise RuntimeError(f"area path {obj.path} != planned {a.path}")
                by_path[a.path] = obj
    return by_path


def _write_tags(world: World, p: _Progress) -> dict[str, Tag]:
    """The catalogue is installed by a migration (people 0002); add what is missing."""
    tags = Tag.objects.in_bulk(field_name="code")
    missing = [
        Tag(code=t.code, name=t.name, category=t.category, scope=t.scope,
            attributes=list(t.attributes), description=t.description)
        for t in world.tags
        if t.code not in tags
    ]  # fmt: skip
    for tag in _stage(p, "标签", Tag, missing):
        tags[tag.code] = tag
    return tags


def _write_persons(
    world: World,
    p: _Progress,
    areas: dict[str, Area],
    dwellings: list[Dwelling],
    households: list[Household],
) -> list[Person]:
    objs = []
    started = time.process_time()
    with p.bar("加密身份证号", len(world.persons)) as bar:
        for s in world.persons:
            person = Person(
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
                bar.update(5000)
        bar.update(len(objs) % 5000)
    p.seconds["加密身份证号"] = round(time.process_time() - started, 2)
    return _stage(p, "居民", Person, objs)


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
