"""The ``person`` target (公安户籍): residents, their households and places.

A batch is written with a fixed number of queries whatever its size: the persons of
the batch are found through the blind index of their ID numbers in ONE query, their
households by number in one more, their stored provenance in one; new rows go through
the audited bulk path (``COPY`` on PostgreSQL) and changed rows through one
``executemany`` ``UPDATE``. Each field a row carries is settled by rank against what
other sources said (:mod:`jiayuan.datahub.provenance`).

Rows without a usable ID number (empty, or one GB 11643 refuses) but with a name and a
birth date go to entity resolution (:mod:`jiayuan.datahub.resolution`): held for a
person's decision when they resemble a resident of the same community, refused with
``no_match`` otherwise. Nothing is merged without a decision.

注销 (a cancelled registration): a reason naming a death sets the date of death (the
cancel date, else the data's date); one naming a move sets the residence status to 外出.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from jiayuan.core import actions, bulk, idnumber, imports, pii
from jiayuan.core.imports import Context, Kind, Outcome, Problem, Row, TargetField, Written
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.org.models import Area
from jiayuan.people.choices import Relation, ResidenceStatus
from jiayuan.people.models import Household, Person, PersonTag
from jiayuan.people.services import person_moved
from jiayuan.people.tagging import recompute_tags

from .. import provenance
from ..provenance import PERSON, Claim, Origin
from . import common
from .places import AreaIndex, Place, index_for_run, place_all


@dataclass
class Incoming:
    """One 公安户籍 row, checked: what it says about a person."""

    line: int
    name: str
    id_number: str = ""  # the checked 18-character number, or "" when unusable
    id_raw: str = ""  # what the row gave when it was not usable (for the review page)
    gender: str = ""
    birth_date: dt.date | None = None
    ethnicity: str = ""
    household: str = ""
    relation: str = ""
    hukou_type: str = ""
    hukou_address: str = ""
    address: str = ""
    death_date: dt.date | None = None
    residence_status: str = ""
    index: str = field(default="", repr=False)

    def claims(self) -> dict[str, str]:
        """Field → value as provenance stores it (the ID number masked)."""
        return {
            "id_number": pii.mask_id_number(self.id_number),
            "name": self.name,
            "gender": self.gender,
            "birth_date": provenance.as_text(self.birth_date),
            "ethnicity": self.ethnicity,
            "household": self.household,
            "relation": self.relation,
            "hukou_type": self.hukou_type,
            "hukou_address": self.hukou_address,
            "address": self.address,
            "residence_status": self.residence_status,
            "death_date": provenance.as_text(self.death_date),
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("index")
        for key in ("birth_date", "death_date"):
            data[key] = provenance.as_text(data[key])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Incoming:
        values = dict(data)
        for key in ("birth_date", "death_date"):
            values[key] = imports.as_date(values.get(key))
        item = cls(**values)
        if item.id_number:
            item.index = pii.blind_index(item.id_number, purpose="id")
        return item

    def masked(self) -> dict[str, Any]:
        """What the review queue may show to anyone who sees the pair."""
        data = self.to_json()
        data["id_number"] = pii.mask_id_number(self.id_number)
        data["id_raw"] = pii.mask_id_number(self.id_raw)
        return data


FIELDS = (
    TargetField("id_number", "公民身份号码", Kind.ID_NUMBER, pii=True),
    TargetField("name", "姓名", required=True),
    TargetField("gender", "性别"),
    TargetField("ethnicity", "民族"),
    TargetField("birth_date", "出生日期", Kind.DATE),
    TargetField("hukou_no", "户号"),
    TargetField("relation", "与户主关系"),
    TargetField("hukou_address", "户籍地址"),
    TargetField("address", "现住址"),
    TargetField("hukou_type", "户口性质"),
    TargetField("cancel_reason", "注销原因"),
    TargetField("cancel_date", "注销日期", Kind.DATE),
)


def parse(row: Row, context: Context) -> tuple[Incoming | None, Problem | None]:
    """Check one row: an :class:`Incoming`, or the problem that refuses it."""
    v = row.values
    line = row.line
    name = imports.text(v.get("name"))
    if not name:
        return None, imports.problem(line, "name", "required", "姓名为空", "the name is empty")
    item = Incoming(line=line, name=name[:50])
    raw_id = v.get("id_number")
    parsed: idnumber.IDNumber | None = None
    if isinstance(raw_id, idnumber.IDNumber):
        parsed = raw_id
    elif imports.text(raw_id):
        try:
            parsed = idnumber.parse(imports.text(raw_id))
        except idnumber.InvalidIDNumber as exc:
            item.id_raw = imports.text(raw_id)
            if v.get("birth_date") is None:
                masked = pii.mask_id_number(item.id_raw)
                return None, imports.problem(line, "id_number", exc.code, exc.zh, exc.en, masked)
    item.birth_date = imports.as_date(v.get("birth_date"))
    item.gender = common.gender(v.get("gender"))
    if parsed is not None:
        item.id_number = parsed.value
        item.index = pii.blind_index(parsed.value, purpose="id")
        if item.birth_date is not None and item.birth_date != parsed.birth_date:
            return None, imports.problem(
                line, "birth_date", "id_birth_mismatch",
                f"出生日期 {item.birth_date} 与身份证号码不一致",
                "the birth date disagrees with the ID number", item.birth_date,
            )  # fmt: skip
        if item.gender and item.gender != parsed.gender:
            return None, imports.problem(
                line, "gender", "id_gender_mismatch", "性别与身份证号码不一致",
                "the gender disagrees with the ID number", v.get("gender"),
            )  # fmt: skip
        item.birth_date, item.gender = parsed.birth_date, parsed.gender
    elif item.birth_date is None:
        return None, imports.problem(
            line, "id_number", "id_required",
            "缺少有效的身份证号码，且没有出生日期，无法比对",
            "no usable ID number, and no birth date to compare on",
        )  # fmt: skip
    item.ethnicity = imports.text(v.get("ethnicity"))[:20]
    item.household = imports.text(v.get("hukou_no"))[:24]
    item.relation = common.relation(v.get("relation"))
    item.hukou_type = common.hukou_type(v.get("hukou_type"))
    item.hukou_address = imports.text(v.get("hukou_address"))[:200]
    item.address = "".join(imports.text(v.get("address")).split())[:200]
    reason = imports.text(v.get("cancel_reason"))
    if reason:
        when = imports.as_date(v.get("cancel_date")) or context.as_of
        if "死" in reason or "亡" in reason:
            item.death_date = when
        else:
            item.residence_status = ResidenceStatus.AWAY
    return item, None


_areas: dict[int, Area] = {}


def _area(node_pk: int, path: str) -> Area:
    """An area instance that carries its path (what ``derive_area_path`` reads), one per
    area for the process (a model instance per row cost more than the row's write)."""
    found = _areas.get(node_pk)
    if found is None or found.path != path:
        if len(_areas) > 100_000:
            _areas.clear()
        found = _areas[node_pk] = Area(pk=node_pk, path=path)
    return found


#: What the rule language reads of a person (``people.rules_fields``): a change of
#: these may change computed tags, of the person and (household, death, birth) of the
#: housemates.
RULE_ATTNAMES = frozenset({
    "birth_date", "death_date", "gender", "hukou_type", "residence_status", "area_path",
    "household_id",
})  # fmt: skip


class PersonWriter:
    """Writes checked person rows of one source: creates, updates and provenance."""

    def __init__(self, context: Context, source: int | None = None) -> None:
        self.context = context
        self.source = source if source is not None else common.source_id(context)
        self.origin: Origin = common.origin_of(context, self.source)
        self.actor = context.actor
        self.note = common.note(context)
        self._index: AreaIndex | None = None
        self.touched: set[int] = set()
        self.households: set[int] = set()

    @property
    def index(self) -> AreaIndex:
        if self._index is None:
            self._index = index_for_run(self.context.run_id)
        return self._index

    def places(self, items: Iterable[Incoming]) -> dict[str, Place]:
        return place_all(self.index, {i.address for i in items if i.address})

    def allowed(self, path: str) -> bool:
        return self.actor is None or path_allowed(self.actor, path, Perm.CHANGE)

    # --- households ------------------------------------------------------------------
    def household_map(
        self,
        wanted: dict[str, tuple[int, str, int | None]],
        heads: dict[str, int] | None = None,
    ) -> dict[str, Household]:
        """Households by number (one query); missing ones are created where their first
        member lives (``wanted``: number → area id, area path, dwelling id), with their
        head when the batch names one (``heads``: number → the new person's reserved id,
        so no second pass sets it)."""
        heads = heads or {}
        found = {h.number: h for h in Household.objects.filter(number__any_of=wanted)}
        missing = []
        for number, (area_id, path, dwelling) in wanted.items():
            if number not in found and self.allowed(path):
                missing.append(
                    Household(
                        number=number,
                        area=_area(area_id, path),
                        dwelling_id=dwelling,
                        head_id=heads.get(number),
                    )
                )
        if missing:
            actions.bulk_create(Household, missing, actor=self.actor, note=self.note)
            found.update((h.number, h) for h in missing)
        return found

    # --- new persons -----------------------------------------------------------------
    @staticmethod
    def reserve(items: Sequence[Incoming]) -> tuple[list[int], dict[str, int]]:
        """Primary keys for new persons, and the heads of their households by number
        (the first 户主 row of each), so new households are written with their head."""
        ids = bulk.reserve_ids(Person, len(items))
        heads: dict[str, int] = {}
        for item, pk in zip(items, ids, strict=True):
            if item.household and item.relation in ("", Relation.HEAD):
                heads.setdefault(item.household, pk)
        return ids, heads

    def create(
        self,
        items: Sequence[tuple[Incoming, Place]],
        households: dict[str, Household],
        ids: Sequence[int] = (),
    ) -> list[Person]:
        """Insert persons (placed already), audited, with their provenance; ``ids`` are
        their reserved primary keys when the caller took them (:meth:`reserve`)."""
        objs: list[Person] = []
        now = timezone.now()
        for item, place in items:
            person = bulk.build(
                Person,
                now=now,
                name=item.name,
                birth_date=item.birth_date,
                gender=item.gender,
                area=_area(place.area_id, place.area_path),
                dwelling_id=place.dwelling_id,
                household=households.get(item.household),
                relation=item.relation or Relation.HEAD,
                death_date=item.death_date,
                residence_status=item.residence_status or ResidenceStatus.RESIDENT,
            )
            if item.ethnicity:
                person.ethnicity = item.ethnicity
            if item.hukou_type:
                person.hukou_type = item.hukou_type
            if item.id_number:  # Person.set_id_number, with the index parse() computed
                person.id_number_enc = pii.encrypt(item.id_number)
                person.id_number_index = item.index or pii.blind_index(item.id_number, purpose="id")
                person.id_number_masked = pii.mask_id_number(item.id_number)
                person.hukou_code = item.id_number[:6]
            objs.append(person)
        for person, pk in zip(objs, ids, strict=False):
            person.pk = pk
        actions.bulk_create(Person, objs, actor=self.actor, note=self.note)
        heads = []
        for person, (item, _place) in zip(objs, items, strict=True):
            hh = households.get(item.household)
            if hh is not None and hh.head_id is None and person.relation == Relation.HEAD:
                hh.head = person
                heads.append(hh)
        if heads:
            actions.bulk_update_each(
                heads, ["head"], actor=self.actor, note=self.note,
                previous=[{"head_id": None} for _ in heads],
            )  # fmt: skip
        # the new records hold every value they bring: nothing to settle
        provenance.record_new(
            PERSON,
            (
                (person.pk, item.claims())
                for person, (item, _place) in zip(objs, items, strict=True)
            ),
            self.origin,
        )
        self.touched.update(p.pk for p in objs)
        self.households.update(p.household_id for p in objs if p.household_id)
        return objs

    # --- persons found -----------------------------------------------------------------
    def update(
        self,
        items: Sequence[tuple[Person, Incoming, Place | None]],
        households: dict[str, Household],
        origin: Origin | None = None,
    ) -> dict[int, dict[str, str]]:
        """Settle the rows' fields against the persons' provenance and write what
        changes (one ``UPDATE`` for the batch, an audit entry per changed person)."""
        origin = origin or self.origin
        claims: list[Claim] = []
        held: dict[tuple[int, str], str] = {}
        for person, item, _place in items:
            for name, value in item.claims().items():
                claims.append(Claim(person.pk, name, value))
            held.update(self.held(person))
        settled = provenance.settle(PERSON, claims, origin, held)
        changed: list[Person] = []
        previous: list[dict[str, Any]] = []
        fields: set[str] = set()
        moved: list[tuple[Person, str]] = []
        ruled: list[int] = []  # changed persons whose computed tags may change
        for person, _item, place in items:
            delta = settled.changed(person.pk)
            if not delta:
                continue
            before = {a: getattr(person, a) for a in self.ATTNAMES}
            old_path = person.area_path
            names = self.apply(person, delta, households, place)
            if not names:
                continue
            fields.update(names)
            changed.append(person)
            previous.append(before)
            if names & RULE_ATTNAMES:
                ruled.append(len(changed) - 1)
            if person.area_path != old_path:
                moved.append((person, old_path))
        if changed:
            ordered = [f for f in self.ATTNAMES if f in fields]
            actions.bulk_update_each(
                changed, ordered, actor=self.actor, note=self.note,
                previous=[{a: p[a] for a in ordered} for p in previous],
            )  # fmt: skip
            for person, old_path in moved:
                self.follow(person, old_path)
            for i in ruled:  # a new name or ethnicity changes no rule's verdict
                self.touched.add(changed[i].pk)
                for household in (changed[i].household_id, previous[i]["household_id"]):
                    if household is not None:
                        self.households.add(household)
        return settled.changes

    ATTNAMES: tuple[str, ...] = (
        "name", "gender", "birth_date", "ethnicity", "household_id", "relation", "hukou_type",
        "residence_status", "death_date", "area_id", "area_path", "dwelling_id",
    )  # fmt: skip

    @staticmethod
    def held(person: Person) -> dict[tuple[int, str], str]:
        """What the record holds of each field it stores itself."""
        pk = person.pk
        household = person.household.number if person.household is not None else ""
        return {
            (pk, "id_number"): person.id_number_masked,
            (pk, "name"): person.name,
            (pk, "gender"): person.gender,
            (pk, "birth_date"): provenance.as_text(person.birth_date),
            (pk, "ethnicity"): person.ethnicity,
            (pk, "household"): household,
            (pk, "relation"): person.relation,
            (pk, "hukou_type"): person.hukou_type,
            (pk, "residence_status"): person.residence_status,
            (pk, "death_date"): provenance.as_text(person.death_date),
        }

    def apply(
        self,
        person: Person,
        delta: dict[str, str],
        households: dict[str, Household],
        place: Place | None,
    ) -> set[str]:
        """Set the settled values on ``person``; returns the attnames that changed."""
        names: set[str] = set()
        for key, value in delta.items():
            if key in ("name", "gender", "ethnicity", "relation", "hukou_type", "residence_status"):
                setattr(person, key, value)
                names.add(key)
            elif key in ("birth_date", "death_date"):
                setattr(person, key, imports.as_date(value))
                names.add(key)
            elif key == "household":
                hh = households.get(value)
                if hh is not None:
                    person.household = hh
                    names.add("household_id")
            elif key == "address" and place is not None and place.placeable:
                if place.area_id != person.area_id or place.dwelling_id != person.dwelling_id:
                    person.area = _area(place.area_id, place.area_path)
                    person.area_path = place.area_path
                    person.dwelling_id = place.dwelling_id
                    names.update(("area_id", "area_path", "dwelling_id"))
        return names

    def follow(self, person: Person, old_path: str) -> None:
        """A person placed elsewhere takes their tags and (through ``person_moved``)
        the other apps' rows along, as the person form's move does."""
        PersonTag.objects.filter(person=person).update(
            area_path=person.area_path, updated_at=timezone.now()
        )
        person_moved.send(
            sender=Person, person=person, old_path=old_path, new_path=person.area_path,
            actor=self.actor,
        )  # fmt: skip

    def finish(self) -> None:
        """Computed tags follow the written persons and their housemates (bulk writes
        send no signals; see ``people.tagging.connect``)."""
        if not self.touched and not self.households:
            return
        ids = set(self.touched)
        if self.households:  # the housemates, one query
            mates = Person.objects.filter(household_id__any_of=self.households)
            ids.update(mates.values_list("pk", flat=True))
        recompute_tags(persons=_person_set(ids), note="标签规则计算（数据导入）")


def _person_set(ids: set[int]) -> Any:
    """The persons ``ids`` as the subquery each tag's three queries filter on.

    On PostgreSQL a set the planner starts from (``unnest`` of one array parameter,
    the ids looked up by primary key): as ``id = ANY(…) OR household_id = ANY(…)`` it
    estimated a tag's rule as selective, walked every person the rule's first
    condition admits (every resident over 60) and probed the batch's ids last, a
    cost growing with the table (0.35 s a query at 200,000 residents, against 0.06 s
    so; the recomputation of a 5,000-row batch 2.4 s → 0.4–0.8 s)."""
    if connection.vendor == "postgresql":
        array = RawSQL("SELECT unnest(%s::bigint[])", [sorted(ids)])
        return Person.objects.filter(pk__in=array)
    return Person.objects.filter(pk__any_of=ids)


class PersonTarget:
    """公安户籍 → residents (居民), households (户) and places."""

    code = "person"
    label = "居民（户籍）"
    fields: tuple[TargetField, ...] = FIELDS

    def write(self, context: Context, rows: Sequence[Row]) -> Written:
        with transaction.atomic():
            return _Batch(context).write(rows)


class _Batch:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.writer = PersonWriter(context)
        self.outcomes: list[Outcome | None] = []
        self.problems: list[Problem] = []

    def reject(self, i: int, problem: Problem) -> None:
        self.outcomes[i] = Outcome.REJECTED
        self.problems.append(problem)

    def write(self, rows: Sequence[Row]) -> Written:
        self.outcomes = [None] * len(rows)
        items: list[tuple[int, Incoming]] = []
        for i, row in enumerate(rows):
            item, problem = parse(row, self.context)
            if problem is not None:
                self.reject(i, problem)
            elif item is not None:
                items.append((i, item))
        places = self.writer.places(item for _i, item in items)
        with_id = [(i, item) for i, item in items if item.id_number]
        without = [(i, item) for i, item in items if not item.id_number]
        # a number seen twice in one batch: the later row is written after the earlier
        while with_id:
            seen: set[str] = set()
            now: list[tuple[int, Incoming]] = []
            later: list[tuple[int, Incoming]] = []
            for pair in with_id:
                (later if pair[1].index in seen else now).append(pair)
                seen.add(pair[1].index)
            self.write_identified(now, places)
            with_id = later
        if without:
            from ..resolution import hold_for_review

            for i, outcome, problem in hold_for_review(self.writer, without, places):
                self.outcomes[i] = outcome
                if problem is not None:
                    self.problems.append(problem)
        self.writer.finish()
        # every row has its outcome by now; REJECTED is only the type's fallback
        outcomes = [o or Outcome.REJECTED for o in self.outcomes]
        return Written(outcomes=outcomes, problems=self.problems)

    def write_identified(self, items: list[tuple[int, Incoming]], places: dict[str, Place]) -> None:
        found = {
            p.id_number_index: p
            for p in Person.objects.filter(
                id_number_index__any_of=[item.index for _i, item in items]
            ).select_related("household")
        }
        new: list[tuple[int, Incoming, Place]] = []
        old: list[tuple[int, Person, Incoming, Place | None]] = []
        wanted: dict[str, tuple[int, str, int | None]] = {}
        for i, item in items:
            place = places.get(item.address) if item.address else None
            person = found.get(item.index)
            if person is None:
                if place is None or not place.placeable:
                    self.reject(i, self.unplaced(item))
                    continue
                if not self.writer.allowed(place.area_path):
                    self.reject(i, self.out_of_scope(item))
                    continue
                new.append((i, item, place))
                if item.household:
                    wanted.setdefault(
                        item.household, (place.area_id, place.area_path, place.dwelling_id)
                    )
            else:
                if not self.writer.allowed(person.area_path) or (
                    place is not None
                    and place.placeable
                    and not self.writer.allowed(place.area_path)
                ):
                    self.reject(i, self.out_of_scope(item))
                    continue
                old.append((i, person, item, place))
                if item.household:
                    if place is not None and place.placeable:
                        where = (place.area_id, place.area_path, place.dwelling_id)
                    else:
                        where = (person.area_id, person.area_path, person.dwelling_id)
                    wanted.setdefault(item.household, where)
        ids, heads = self.writer.reserve([it for _i, it, _pl in new]) if new else ([], {})
        households = self.writer.household_map(wanted, heads) if wanted else {}
        if new:
            self.writer.create([(it, pl) for _i, it, pl in new], households, ids)
            for i, _it, _pl in new:
                self.outcomes[i] = Outcome.INSERTED
        if old:
            changes = self.writer.update([(p, item, pl) for _i, p, item, pl in old], households)
            for i, p, _x, _y in old:
                self.outcomes[i] = Outcome.UPDATED if changes.get(p.pk) else Outcome.UNCHANGED

    @staticmethod
    def unplaced(item: Incoming) -> Problem:
        return imports.problem(
            item.line, "address", "unknown_place",
            "现住址无法落到网格、楼栋或单元（未找到社区、小区、楼栋或单元）",
            "the address does not name a known grid, building or unit", item.address,
        )  # fmt: skip

    @staticmethod
    def out_of_scope(item: Incoming) -> Problem:
        return imports.problem(
            item.line, "address", "out_of_scope", "该居民不在您可以修改的区域内",
            "the person lives outside the areas you may change", item.address,
        )  # fmt: skip
