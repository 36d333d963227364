"""Field provenance (数据来源): what every source says about every imported field.

For each record (a person) and field, every source's latest value is kept as a
:class:`~.models.FieldValue` with the source's rank for that field and the date the
agency's data speaks for (``as_of``). The record holds the value of the highest rank,
the latest ``as_of`` among equal ranks (and, on a tie, the value recorded last); that
row is marked ``current``. A lower-rank source never overwrites a higher one: its value
is stored beside it and stays visible on the person page.

Every change of a held value gets a :class:`~.models.FieldChange` row naming the run
and source (an import) or the user (a review decision). Users' own edits through the
person form are not in this history: they are in the audit log, which the provenance
panel shows beside it. A held value a user changed by hand stays until a source sends a
*new* value for that field (a re-sent unchanged value does not undo the user's edit).

:func:`settle` does this for a whole batch: one query reads the batch's stored values,
then inserts and updates go through :mod:`jiayuan.core.bulk` (``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from jiayuan.core import bulk

from .models import FieldChange, FieldValue

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
    stored: int = 0  # FieldValue rows written (inserted or changed)

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
    record: building a model instance per value cost more than writing it)."""

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


_STORED = ("pk", "object_id", "field", "source_id", "value", "rank", "as_of", "run_id",
           "current", "recorded_at")  # fmt: skip


def stored_values(entity: str, object_ids: Iterable[int]) -> dict[tuple[int, str], list[Stored]]:
    """Every source's stored values of the records, by (record, field): one query."""
    ids = list(dict.fromkeys(object_ids))
    out: dict[tuple[int, str], list[Stored]] = {}
    if not ids:
        return out
    rows = FieldValue.objects.filter(entity=entity, object_id__any_of=ids).order_by()
    for row in rows.values_list(*_STORED):
        fv = Stored(*row)
        out.setdefault((fv.object_id, fv.field), []).append(fv)
    return out


_NEW = ("entity", "object_id", "field", "value", "source", "rank", "as_of", "run", "current",
        "recorded_at")  # fmt: skip
_CHANGED = ("value", "rank", "as_of", "run", "current", "recorded_at")


def _update(rows: Sequence[Stored], fields: Sequence[str]) -> None:
    """``UPDATE … WHERE id`` of plain records, one ``executemany`` (as ``bulk.update``)."""
    model = FieldValue
    targets = [bulk.concrete(model, name) for name in fields]
    q = connection.ops.quote_name
    sets = ", ".join(f"{q(f.column)} = %s" for f in targets)
    sql = f"UPDATE {q(model._meta.db_table)} SET {sets} WHERE id = %s"  # noqa: S608
    preps = bulk.preparers(model, [f.attname for f in targets])
    attrs = [f.attname for f in targets]
    params = []
    for fv in rows:
        row = [getattr(fv, a) for a in attrs]
        for i, prep in enumerate(preps):
            if prep is not None:
                row[i] = prep(row[i])
        params.append([*row, fv.pk])
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
    new: list[Stored] = []
    changed: list[Stored] = []
    flags: list[Stored] = []
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
            new.append(fv)
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
            new.append(ours)
        elif ours.value != claim.value or ours.rank != rank or ours.as_of < origin.as_of:
            ours.value, ours.rank, ours.run_id, ours.recorded_at = (
                claim.value, rank, origin.run_id, now,
            )  # fmt: skip
            ours.as_of = max(ours.as_of, origin.as_of)
            if ours.pk is not None:
                changed.append(ours)
        else:
            continue  # this source said the same before: nothing to decide
        winner = max(group, key=Stored.key)
        for fv in group:
            if fv.current != (fv is winner):
                fv.current = fv is winner
                if fv.pk is not None and fv is not ours:
                    flags.append(fv)
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
        if new:
            bulk.insert_tuples(
                FieldValue, _NEW,
                ((entity, fv.object_id, fv.field, fv.value, fv.source_id, fv.rank, fv.as_of,
                  fv.run_id, fv.current, fv.recorded_at) for fv in new),
            )  # fmt: skip
        if changed:
            _update(changed, _CHANGED)
        if flags:
            _update(flags, ["current"])
        if history:
            record_history(history)
    return result


def record_new(
    entity: str, records: Iterable[tuple[int, Mapping[str, str]]], origin: Origin
) -> int:
    """The provenance of records just created from ``origin``'s values: each non-empty
    value is the field's only stored value, so it is held (``current``) and nothing is
    compared or changed (what :func:`settle` decides for them, without a record per
    value); one ``COPY``. Returns the rows written."""
    now = timezone.now()
    source, as_of, run = origin.source_id, origin.as_of, origin.run_id
    ranks: dict[str, int] = {}

    def rows() -> Iterable[tuple[Any, ...]]:
        for object_id, values in records:
            for name, value in values.items():
                if value == "":
                    continue
                rank = ranks.get(name)
                if rank is None:
                    rank = ranks[name] = origin.rank_of(name)
                yield (entity, object_id, name, value, source, rank, as_of, run, True, now)

    return bulk.insert_tuples(FieldValue, _NEW, rows())


HISTORY_FIELDS = (
    "entity", "object_id", "field", "old", "new", "source", "run", "actor", "at", "kind",
)  # fmt: skip


def record_history(rows: Iterable[Sequence[Any]]) -> int:
    """Write FieldChange rows given as tuples in :data:`HISTORY_FIELDS` order."""
    return bulk.insert_tuples(FieldChange, HISTORY_FIELDS, rows)


# --- undo support (review decisions) ---------------------------------------------------
FV_STATE = ("value", "rank", "as_of", "run_id", "current", "recorded_at")


def snapshot(entity: str, object_id: int) -> list[dict[str, Any]]:
    """The record's stored values as plain data, to put back by :func:`restore`."""
    rows = FieldValue.objects.filter(entity=entity, object_id=object_id).order_by("pk")
    return [
        {"pk": fv.pk, "field": fv.field, "source_id": fv.source_id}
        | {name: as_text(getattr(fv, name)) if name in ("as_of", "recorded_at")
           else getattr(fv, name) for name in FV_STATE}
        for fv in rows
    ]  # fmt: skip


def restore(entity: str, object_id: int, saved: Sequence[dict[str, Any]]) -> None:
    """Put the record's stored values back as :func:`snapshot` saw them: rows added
    since are deleted, rows changed since take their old state again."""
    by_pk = {row["pk"]: row for row in saved}
    present = list(FieldValue.objects.filter(entity=entity, object_id=object_id))
    extra = [fv.pk for fv in present if fv.pk not in by_pk]
    if extra:
        FieldValue.objects.filter(pk__in=extra).delete()
    back: list[FieldValue] = []
    for fv in present:
        row = by_pk.get(fv.pk)
        if row is None:
            continue
        fv.value, fv.rank, fv.run_id, fv.current = (
            row["value"], row["rank"], row["run_id"], row["current"],
        )  # fmt: skip
        fv.as_of = dt.date.fromisoformat(row["as_of"])
        fv.recorded_at = dt.datetime.fromisoformat(row["recorded_at"])
        back.append(fv)
    if back:
        bulk.update(back, ["value", "rank", "as_of", "run", "current", "recorded_at"])
