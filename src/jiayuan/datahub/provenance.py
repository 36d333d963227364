"""Field provenance (数据来源): what every source says about every imported field.

For each record (a person) and field, every source's latest value is kept with the
source's rank for that field and the date the agency's data speaks for (``as_of``),
in one :class:`~.models.SourceValues` row per record and source (the fields in its
JSON ``data``; read here as one :class:`Stored` per field). The record holds the
value of the highest rank, the latest ``as_of`` among equal ranks (and, on a tie, the
value recorded last); that value is marked ``current``. A lower-rank source never
overwrites a higher one: its value is stored beside it and stays visible on the
person page.

Every change of a held value gets a :class:`~.models.FieldChange` row naming the run
and source (an import) or the user (a review decision). Users' own edits through the
person form are not in this history: they are in the audit log, which the provenance
panel shows beside it. A held value a user changed by hand stays until a source sends a
*new* value for that field (a re-sent unchanged value does not undo the user's edit).

:func:`settle` does this for a whole batch: one query reads the batch's stored values,
then new rows go through :mod:`jiayuan.core.bulk` (``COPY`` on PostgreSQL) and each
changed row (record and source) is written once, with all its fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from jiayuan.core import bulk

from .models import FieldChange, SourceValues

PERSON = "person"

#: Fields of a person the panel names, in display order (target field → label).
PERSON_FIELDS: dict[str, str] = {
    "id_number": "身份证号",
    "name": "姓名",
    "gender": "性别",
    "birth_date": "出生日期",
    "ethnicity": "民族",
    "household": "户号",
    "relation": "与户主关系",
    "hukou_type": "户口性质",
    "hukou_address": "户籍地址",
    "address": "现住址",
    "residence_status": "居住状态",
    "death_date": "死亡日期",
    "disability": "残疾人证",
}

#: Fields whose values are personal: stored masked already, shown masked.
PERSONAL_FIELDS = frozenset({"id_number", "disability"})


def as_text(value: Any) -> str:
    """How a value is stored in the provenance tables (dates in ISO form)."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Claim:
    """One source's value for one field of one record."""

    object_id: int
    field: str
    value: str


@dataclass
class Settled:
    """What :func:`settle` decided: per record, the fields whose held value changes."""

    changes: dict[int, dict[str, str]] = field(default_factory=dict)
    stored: int = 0  # field values written (inserted or changed)

    def changed(self, object_id: int) -> dict[str, str]:
        return self.changes.get(object_id, {})


@dataclass(frozen=True)
class Origin:
    """Where claims come from: the source, its ranks, the run or the deciding user."""

    source_id: int
    as_of: dt.date
    ranks: Mapping[str, int]
    default_rank: int
    run_id: int | None = None
    actor_id: int | None = None
    kind: str = "import"  # ChangeKind: an import run, or a person's review decision

    def rank_of(self, name: str) -> int:
        return int(self.ranks.get(name, self.default_rank))


@dataclass(slots=True)
class Stored:
    """One source's value of one field, as :func:`settle` reads and writes it (a plain
    record: building a model instance per value cost more than writing it). ``pk`` is
    the id of the :class:`~.models.SourceValues` row holding it (``None`` until the
    record has a row for the source)."""

    pk: int | None
    object_id: int
    field: str
    source_id: int
    value: str
    rank: int
    as_of: dt.date
    run_id: int | None
    current: bool
    recorded_at: dt.datetime

    def key(self) -> tuple[int, dt.date, dt.datetime]:
        return (self.rank, self.as_of, self.recorded_at)


#: The key of a row's shared ``[as_of, run_id, recorded_at]`` in ``SourceValues.data``:
#: a field whose entry is ``[value, rank, current]`` takes them (a source sends its
#: fields together, so most entries share them; an entry of six items carries its own).
SHARED = "@"


def _packed(fields: Mapping[str, Stored]) -> dict[str, list[Any]]:
    """A row's ``data``: the latest (as-of, run, time) among its fields is shared, the
    fields that have it keep three items, the others all six."""
    latest = max(fields.values(), key=lambda fv: fv.recorded_at)
    shared = (latest.as_of, latest.run_id, latest.recorded_at)
    data: dict[str, list[Any]] = {
        SHARED: [latest.as_of.isoformat(), latest.run_id, latest.recorded_at.isoformat()]
    }
    for name, fv in fields.items():
        if (fv.as_of, fv.run_id, fv.recorded_at) == shared:
            data[name] = [fv.value, fv.rank, fv.current]
        else:
            data[name] = [fv.value, fv.rank, fv.as_of.isoformat(), fv.run_id, fv.current,
                          fv.recorded_at.isoformat()]  # fmt: skip
    return data


def unpacked(data: Mapping[str, list[Any]]) -> Iterator[tuple[str, list[Any]]]:
    """A row's fields as ``(field, [value, rank, as_of, run_id, current, recorded_at])``
    (the dates in ISO form), whichever way the row stores them."""
    shared = data.get(SHARED)
    for name, item in data.items():
        if name == SHARED:
            continue
        if len(item) == 3 and shared is not None:
            value, rank, current = item
            yield name, [value, rank, shared[0], shared[1], current, shared[2]]
        else:
            yield name, list(item)


def stored_values(entity: str, object_ids: Iterable[int]) -> dict[tuple[int, str], list[Stored]]:
    """Every source's stored values of the records, by (record, field): one query."""
    ids = list(dict.fromkeys(object_ids))
    out: dict[tuple[int, str], list[Stored]] = {}
    if not ids:
        return out
    rows = SourceValues.objects.filter(entity=entity, object_id__any_of=ids).order_by("pk")
    dates: dict[str, dt.date] = {}
    moments: dict[str, dt.datetime] = {}
    for pk, object_id, source_id, data in rows.values_list("pk", "object_id", "source_id", "data"):
        for name, (value, rank, as_of, run_id, current, recorded_at) in unpacked(data):
            day = dates.get(as_of)
            if day is None:
                day = dates[as_of] = dt.date.fromisoformat(as_of)
            moment = moments.get(recorded_at)
            if moment is None:
                moment = moments[recorded_at] = dt.datetime.fromisoformat(recorded_at)
            fv = Stored(pk, object_id, name, source_id, value, rank, day, run_id, current, moment)
            out.setdefault((object_id, name), []).append(fv)
    return out


def values_of(entity: str, object_id: int) -> list[Stored]:
    """Every source's values of one record: by field, the held one first, then by rank
    and as-of date (what the person page shows)."""
    found = stored_values(entity, [object_id])
    values = [fv for group in found.values() for fv in group]
    values.sort(key=lambda fv: (fv.field, not fv.current, -fv.rank, -fv.as_of.toordinal()))
    return values


def held_value(entity: str, object_id: int, name: str) -> str:
    """The value the record holds of a field kept only here (the hukou address)."""
    for fv in stored_values(entity, [object_id]).get((object_id, name), ()):
        if fv.current:
            return fv.value
    return ""


_ROW = ("entity", "object_id", "source", "data")


def _write_rows(
    entity: str, stored: Mapping[tuple[int, str], list[Stored]], dirty: set[tuple[int, int]]
) -> None:
    """Write the rows (record, source) in ``dirty`` with every field they hold: new
    ones in one ``COPY``, the others in one ``executemany`` ``UPDATE``."""
    rows: dict[tuple[int, int], tuple[list[int | None], dict[str, Stored]]] = {}
    for (object_id, _name), group in stored.items():
        for fv in group:
            key = (object_id, fv.source_id)
            if key not in dirty:
                continue
            pks, fields = rows.setdefault(key, ([None], {}))
            if fv.pk is not None:
                pks[0] = fv.pk
            fields[fv.field] = fv
    new = [
        (entity, key[0], key[1], _packed(fields))
        for key, (pks, fields) in rows.items()
        if pks[0] is None
    ]
    if new:
        bulk.insert_tuples(SourceValues, _ROW, new)
    changed = [(_packed(fields), pks[0]) for pks, fields in rows.values() if pks[0] is not None]
    if changed:
        (prep,) = bulk.preparers(SourceValues, ["data"])
        q = connection.ops.quote_name
        table = q(SourceValues._meta.db_table)
        sql = f"UPDATE {table} SET {q('data')} = %s WHERE id = %s"  # noqa: S608
        params: list[list[Any]] = [[prep(data) if prep else data, pk] for data, pk in changed]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


def settle(
    entity: str,
    claims: Sequence[Claim],
    origin: Origin,
    held: Mapping[tuple[int, str], str],
    *,
    stored: dict[tuple[int, str], list[Stored]] | None = None,
) -> Settled:
    """Record ``claims`` from ``origin`` and decide which held values change.

    ``held`` gives the record's present value of each claimed field that the record
    itself holds (a field held only here, such as the hukou address, takes the current
    stored value). Empty claims are ignored: a blank cell never clears a value. Returns
    the changes the caller must apply to its records; the history rows are written here.
    ``stored={}`` says the records are new (nothing to read).
    """
    if stored is None:
        stored = stored_values(entity, {c.object_id for c in claims})
    now = timezone.now()
    dirty: set[tuple[int, int]] = set()  # rows (record, source) to write
    history: list[tuple[Any, ...]] = []
    result = Settled()
    source = origin.source_id
    ranks: dict[str, int] = {}
    for claim in claims:
        if claim.value == "":
            continue
        key = (claim.object_id, claim.field)
        group = stored.get(key)
        rank = ranks.get(claim.field)
        if rank is None:
            rank = ranks[claim.field] = origin.rank_of(claim.field)
        if group is None:  # the first value of this field: it is held, nothing to compare
            fv = Stored(None, claim.object_id, claim.field, source, claim.value, rank,
                        origin.as_of, origin.run_id, True, now)  # fmt: skip
            stored[key] = [fv]
            dirty.add((claim.object_id, source))
            result.stored += 1
            previous = held.get(key, "")
            if previous != claim.value:
                result.changes.setdefault(claim.object_id, {})[claim.field] = claim.value
                history.append((entity, claim.object_id, claim.field, previous,
                                claim.value, source, origin.run_id, origin.actor_id, now,
                                origin.kind))  # fmt: skip
            continue
        ours = next((fv for fv in group if fv.source_id == source), None)
        before = next((fv.value for fv in group if fv.current), "")
        if ours is None:
            ours = Stored(None, claim.object_id, claim.field, source, claim.value, rank,
                          origin.as_of, origin.run_id, False, now)  # fmt: skip
            group.append(ours)
        elif ours.value != claim.value or ours.rank != rank or ours.as_of < origin.as_of:
            ours.value, ours.rank, ours.run_id, ours.recorded_at = (
                claim.value, rank, origin.run_id, now,
            )  # fmt: skip
            ours.as_of = max(ours.as_of, origin.as_of)
        else:
            continue  # this source said the same before: nothing to decide
        dirty.add((claim.object_id, source))
        winner = max(group, key=Stored.key)
        for fv in group:
            if fv.current != (fv is winner):
                fv.current = fv is winner
                dirty.add((claim.object_id, fv.source_id))
        result.stored += 1
        previous = held.get(key, before)
        if winner.value != previous:
            result.changes.setdefault(claim.object_id, {})[claim.field] = winner.value
            history.append((
                entity, claim.object_id, claim.field, previous, winner.value,
                winner.source_id, winner.run_id if winner is not ours else origin.run_id,
                origin.actor_id, now, origin.kind,
            ))  # fmt: skip
    with transaction.atomic():
        if dirty:
            _write_rows(entity, stored, dirty)
        if history:
            record_history(history)
    return result


def record_new(
    entity: str, records: Iterable[tuple[int, Mapping[str, str]]], origin: Origin
) -> int:
    """The provenance of records just created from ``origin``'s values: each non-empty
    value is the field's only stored value, so it is held (``current``) and nothing is
    compared or changed (what :func:`settle` decides for them, without a record per
    value); one row per record, one ``COPY``. Returns the rows written."""
    shared = [origin.as_of.isoformat(), origin.run_id, timezone.now().isoformat()]
    source = origin.source_id
    ranks: dict[str, int] = {}

    def rows() -> Iterable[tuple[Any, ...]]:
        for object_id, values in records:
            data: dict[str, list[Any]] = {SHARED: shared}
            for name, value in values.items():
                if value == "":
                    continue
                rank = ranks.get(name)
                if rank is None:
                    rank = ranks[name] = origin.rank_of(name)
                data[name] = [value, rank, True]
            if len(data) > 1:
                yield (entity, object_id, source, data)

    return bulk.insert_tuples(SourceValues, _ROW, rows())


HISTORY_FIELDS = (
    "entity", "object_id", "field", "old", "new", "source", "run", "actor", "at", "kind",
)  # fmt: skip


def record_history(rows: Iterable[Sequence[Any]]) -> int:
    """Write FieldChange rows given as tuples in :data:`HISTORY_FIELDS` order."""
    return bulk.insert_tuples(FieldChange, HISTORY_FIELDS, rows)


# --- undo support (review decisions) ---------------------------------------------------
def snapshot(entity: str, object_id: int) -> list[dict[str, Any]]:
    """The record's stored values as plain data, to put back by :func:`restore`: one
    item per source, ``{"source_id", "data"}``."""
    rows = SourceValues.objects.filter(entity=entity, object_id=object_id).order_by("pk")
    return [{"source_id": sid, "data": data} for sid, data in rows.values_list("source_id", "data")]


def _by_source(saved: Sequence[dict[str, Any]]) -> dict[int, dict[str, list[Any]]]:
    """A snapshot as source → data. Snapshots taken before provenance was kept per
    record and source (undo information of merges decided then) list one item per
    field: ``{"pk", "field", "source_id", "value", "rank", "as_of", "run_id",
    "current", "recorded_at"}``."""
    out: dict[int, dict[str, list[Any]]] = {}
    per_field: dict[int, dict[str, Stored]] = {}
    for item in saved:
        source_id = int(item["source_id"])
        if "data" in item:
            out[source_id] = dict(item["data"])
            continue
        per_field.setdefault(source_id, {})[item["field"]] = Stored(
            None, 0, item["field"], source_id, item["value"], item["rank"],
            dt.date.fromisoformat(item["as_of"]), item["run_id"], item["current"],
            dt.datetime.fromisoformat(item["recorded_at"]),
        )  # fmt: skip
    for source_id, fields in per_field.items():
        out[source_id] = _packed(fields)
    return out


def restore(entity: str, object_id: int, saved: Sequence[dict[str, Any]]) -> None:
    """Put the record's stored values back as :func:`snapshot` saw them: sources added
    since are deleted, the others take their old values again."""
    wanted = _by_source(saved)
    present = {
        row.source_id: row
        for row in SourceValues.objects.filter(entity=entity, object_id=object_id)
    }
    extra = [row.pk for sid, row in present.items() if sid not in wanted]
    if extra:
        SourceValues.objects.filter(pk__in=extra).delete()
    for sid, data in wanted.items():
        row = present.get(sid)
        if row is None:
            SourceValues.objects.create(
                entity=entity, object_id=object_id, source_id=sid, data=data
            )
        elif row.data != data:
            SourceValues.objects.filter(pk=row.pk).update(data=data)
