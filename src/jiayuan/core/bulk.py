"""The bulk path's writer: model rows as tuples, straight to the database driver.

Django's ``QuerySet.bulk_create`` compiles SQL per field and per row and, on SQLite,
sends a few dozen rows per statement; for the demo county's 1.4 million rows that was
most of the seeding time. This module writes the same rows the way the driver is
fastest at:

* **SQLite** — one ``INSERT`` prepared once and run by ``executemany`` per chunk;
* **PostgreSQL** (psycopg 3) — ``COPY … FROM STDIN`` through ``cursor.copy()``.

Values are prepared by the model's own fields (``pre_save`` for ``auto_now``,
``get_db_prep_save`` for dates, JSON and decimals), so a row lands exactly as
``bulk_create`` would have written it. Primary keys are reserved before the rows are
written, so the caller gets them back without reading anything: on PostgreSQL from
the column's sequence (``nextval`` over a range, safe beside other writers); on SQLite
as the range after the table's highest id, which is safe because the range is taken
and used inside one transaction holding the database's write lock (Jiayuan opens
SQLite transactions ``IMMEDIATE``; in WAL mode a writer whose snapshot is stale fails
rather than overwrites).

No signals are sent and no audit entry is written here: :func:`jiayuan.core.actions.
bulk_create` is the audited entry point every app calls; this module is its engine,
and the engine of writers that have plain tuples rather than model instances
(:func:`insert_tuples`, used for the audit log itself).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.db import connections, models, router, transaction
from django.utils import timezone

M = TypeVar("M", bound=models.Model)

CHUNK = 5000
"""Rows per ``executemany`` call or ``COPY`` block: large enough that the per-call
overhead vanishes, small enough that memory stays flat."""

# Field classes whose Python value is already what the driver takes: no preparation.
# Exact classes only, so a subclass that adapts its values keeps its own preparation.
_PLAIN = frozenset({
    models.CharField, models.TextField, models.SlugField, models.EmailField,
    models.IntegerField, models.BigIntegerField, models.SmallIntegerField,
    models.PositiveIntegerField, models.PositiveSmallIntegerField,
    models.PositiveBigIntegerField, models.FloatField, models.BooleanField,
    models.AutoField, models.BigAutoField, models.SmallAutoField,
})  # fmt: skip

Prep = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Column:
    """One concrete field of a model as the writer sees it."""

    field: models.Field[Any, Any]
    attname: str
    column: str
    pre_save: bool  # the field computes its value when saved (auto_now, …)
    relation: bool  # a foreign key whose related instance may carry the id


def _plain(field: models.Field[Any, Any]) -> bool:
    if type(field) in _PLAIN:
        return True
    if isinstance(field, models.ForeignKey) and type(field) in (
        models.ForeignKey,
        models.OneToOneField,
    ):
        return _plain(field.target_field)
    return False


def _needs_pre_save(field: models.Field[Any, Any]) -> bool:
    if isinstance(field, models.DateField):  # DateTimeField too
        return bool(field.auto_now or field.auto_now_add)
    return type(field).pre_save is not models.Field.pre_save


@cache
def _columns(model: type[models.Model]) -> tuple[Column, ...]:
    return tuple(
        Column(
            field=f,
            attname=f.attname,
            column=f.column,
            pre_save=_needs_pre_save(f),
            relation=isinstance(f, models.ForeignKey),
        )
        for f in model._meta.concrete_fields
    )


def _auto_pk(model: type[models.Model]) -> bool:
    pk = model._meta.pk
    return isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField)


def preparers(
    model: type[models.Model], fields: Sequence[str], using: str = "default"
) -> list[Prep]:
    """For each of ``fields`` (names or attnames), ``None`` when its value goes to the
    driver as it is, else the function that prepares it for the database ``using``."""
    connection = connections[using]
    out: list[Prep] = []
    for name in fields:
        field = concrete(model, name)
        out.append(None if _plain(field) else _preparer(field, connection))
    return out


def concrete(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    """``model``'s concrete field called ``name`` (or whose attname it is)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.concrete:
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field


def _preparer(field: models.Field[Any, Any], connection: Any) -> Callable[[Any], Any]:
    """The field's own ``get_db_prep_save``, with shortcuts for the values the bulk path
    writes by the million: aware datetimes and dates. The shortcut gives what Django's
    backend gives (SQLite: naive UTC text and ISO dates; PostgreSQL: the value itself)
    without its per-value settings look-ups; anything else takes the field's path."""

    def generic(value: Any) -> Any:
        return field.get_db_prep_save(value, connection)

    sqlite = connection.vendor == "sqlite"
    if type(field) is models.DateTimeField:
        if sqlite and connection.timezone_name != "UTC":
            return generic
        last: list[Any] = [None, None]  # rows of one write often share a timestamp

        def datetime(value: Any) -> Any:
            if type(value) is not dt.datetime or value.tzinfo is None:
                return generic(value)
            if value is last[0]:
                return last[1]
            prepared: Any
            if not sqlite:
                prepared = value
            elif value.tzinfo is dt.UTC:  # timezone.now(): already UTC
                prepared = str(value.replace(tzinfo=None))
            else:
                prepared = str(value.astimezone(dt.UTC).replace(tzinfo=None))
            last[0], last[1] = value, prepared
            return prepared

        return datetime
    if type(field) is models.JSONField and field.encoder is None and sqlite:
        # what the SQLite backend's adapt_json_value does, minus three layers of calls
        def json_text(value: Any) -> Any:
            if type(value) is dict or type(value) is list:
                return _json(value) if value else ("{}" if type(value) is dict else "[]")
            return generic(value)

        return json_text
    if type(field) is models.DateField:

        def date(value: Any) -> Any:
            if type(value) is not dt.date:
                return generic(value)
            return str(value) if sqlite else value

        return date
    return generic


# --- building instances ------------------------------------------------------------------------
_NO_FACTORY = object()


@dataclass(frozen=True)
class _Slot:
    """How :func:`build` fills one concrete field of a new instance."""

    name: str
    attname: str
    constant: Any  # the default when it is a constant (None, "", a fixed value) …
    factory: Any  # … else the callable that makes it (``_NO_FACTORY`` for a constant)
    now: bool  # the default is ``timezone.now``
    related: tuple[str, str] | None  # (local attname, remote attname) of a foreign key
    one_to_one: Any  # the reverse side of a one-to-one field, cached on the related row


def _default_of(f: models.Field[Any, Any]) -> tuple[Any, Any]:
    """(constant, factory) giving what ``f.get_default()`` gives."""
    if not f.has_default():
        return f.get_default(), _NO_FACTORY  # None or "": the same every time
    if isinstance(f, models.ForeignKey):
        return None, f.get_default  # a default instance gives its key there
    if callable(f.default):
        return None, f.default
    return f.default, _NO_FACTORY  # Django hands out this very object too


@cache
def _slots(model: type[models.Model]) -> tuple[_Slot, ...] | None:
    """The fields :func:`build` fills, or ``None`` when ``model`` needs its own
    ``__init__`` (init signals, custom descriptors, routers, composite keys)."""
    if model.__init__ is not models.Model.__init__:
        return None
    if models.signals.pre_init.has_listeners(model) or models.signals.post_init.has_listeners(
        model
    ):
        return None
    from django.conf import settings
    from django.db.models.fields.related_descriptors import (
        ForeignKeyDeferredAttribute,
        ForwardManyToOneDescriptor,
        ForwardOneToOneDescriptor,
    )
    from django.db.models.query_utils import DeferredAttribute

    if settings.DATABASE_ROUTERS:  # the relation descriptors ask the routers
        return None
    slots = []
    for f in model._meta.concrete_fields:
        if f.generated:
            return None
        related = None
        one_to_one = None
        if f.is_relation:
            if not isinstance(f, models.ForeignKey):
                return None
            if getattr(type(f), "descriptor_class", None) is not ForeignKeyDeferredAttribute:
                return None
            forward = type(getattr(model, f.name))
            one = isinstance(f, models.OneToOneField)
            if forward is not (ForwardOneToOneDescriptor if one else ForwardManyToOneDescriptor):
                return None
            if len(f.related_fields) != 1:
                return None
            lh, rh = f.related_fields[0]
            related = (lh.attname, rh.attname)
            one_to_one = f.remote_field if one else None
        elif getattr(type(f), "descriptor_class", None) is not DeferredAttribute:
            return None
        constant, factory = _default_of(f)
        slots.append(
            _Slot(
                name=f.name,
                attname=f.attname,
                constant=constant,
                factory=factory,
                now=f.default is timezone.now,
                related=related,
                one_to_one=one_to_one,
            )
        )
    return tuple(slots)


def build(model: type[M], /, now: dt.datetime | None = None, **values: Any) -> M:
    """``model(**values)`` without the generic constructor's per-field work, for the
    bulk path's hundreds of thousands of new rows: the same instance (values by field
    name or attname, a related instance cached as its descriptor caches it, defaults
    from the fields), built from a per-model plan. Fields whose default is
    ``timezone.now`` get one moment per instance, or ``now`` when given (one moment for
    a whole batch, as :func:`insert` stamps ``auto_now``). Models the plan cannot hold
    (init signals, routers, custom descriptors) go through ``model(**values)``."""
    slots = _slots(model)
    if slots is None:
        return model(**values)
    obj = model.__new__(model)
    state = obj._state = models.base.ModelState()
    data = obj.__dict__
    used = 0
    for slot in slots:
        if slot.related is not None:
            related = values.get(slot.name, _MISSING)
            if related is not _MISSING:
                used += 1
                local, remote = slot.related
                if related is None:
                    data[local] = None
                else:
                    if not isinstance(related, _target(model, slot.name)):
                        return model(**values)  # Django's own error for a wrong type
                    # what the forward descriptor does: both ends get the database
                    if state.db is None:
                        state.db = related._state.db or router.db_for_write(model)
                    if related._state.db is None:
                        related._state.db = state.db
                    data[local] = getattr(related, remote)
                    if slot.one_to_one is not None:
                        slot.one_to_one.set_cached_value(related, obj)
                state.fields_cache[slot.name] = related
                continue
        value = values.get(slot.attname, _MISSING)
        if value is not _MISSING:
            used += 1
        elif slot.now:
            if now is None:
                now = timezone.now()
            value = now
        elif slot.factory is _NO_FACTORY:
            value = slot.constant
        else:
            value = slot.factory()
        data[slot.attname] = value
    if used < len(values):  # properties and the like, set as __init__ sets them
        known = {s.attname for s in slots} | {s.name for s in slots if s.related}
        for name, value in values.items():
            if name in known:
                continue
            if name not in model._meta._property_names:  # type: ignore[attr-defined]
                raise TypeError(f"{model.__name__}() got an unexpected keyword argument {name!r}")
            setattr(obj, name, value)
    return obj


_MISSING = object()


@cache
def _target(model: type[models.Model], name: str) -> type[models.Model]:
    """The concrete model the foreign key ``name`` of ``model`` points to."""
    field = model._meta.get_field(name)
    target: type[models.Model] = field.remote_field.model._meta.concrete_model  # type: ignore[union-attr, assignment]
    return target


def _json_encoder() -> Callable[[Any], str]:
    """``json.dumps`` with its default arguments, minus its three Python layers: the C
    encoder ``JSONEncoder.encode`` sets up on each call, set up once (same text; a
    circular value, which no row holds, fails with RecursionError instead of
    ValueError)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython has the C accelerator
        return json.dumps
    base = json.JSONEncoder()
    chunks = make(
        None, base.default, json.encoder.encode_basestring_ascii, None,
        base.key_separator, base.item_separator, False, False, True,
    )  # fmt: skip

    def dumps(value: Any) -> str:
        return "".join(chunks(value, 0))

    return dumps


_json = _json_encoder()


def _writable(model: type[models.Model]) -> None:
    meta = model._meta
    if meta.parents:
        raise TypeError(f"{model.__name__}: the bulk path cannot write multi-table models")
    for f in meta.concrete_fields:
        if getattr(f, "db_default", models.NOT_PROVIDED) is not models.NOT_PROVIDED:
            raise TypeError(f"{model.__name__}.{f.name}: db_default is not supported in bulk")


def reserve_ids(model: type[models.Model], count: int, using: str = "default") -> list[int]:
    """``count`` new primary keys for ``model``'s table, taken before the rows are written.

    Must run inside a transaction on SQLite (see the module's docstring); the ids are
    then written by the same transaction.
    """
    if count <= 0:
        return []
    connection = connections[using]
    meta = model._meta
    table, column = meta.db_table, meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
            sequence = cursor.fetchone()[0]
            cursor.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [sequence, count]
            )
            return [row[0] for row in cursor.fetchall()]
        if connection.vendor != "sqlite":  # pragma: no cover - Jiayuan runs on these two
            raise RuntimeError(f"no id reservation for {connection.vendor}")
        if not connection.in_atomic_block:
            raise RuntimeError("reserve_ids on SQLite must run inside transaction.atomic()")
        q = connection.ops.quote_name
        cursor.execute(f"SELECT COALESCE(MAX({q(column)}), 0) FROM {q(table)}")  # noqa: S608
        last = cursor.fetchone()[0]
        # AUTOINCREMENT never reuses an id, even one whose row was deleted
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        last = max(last, row[0] if row else 0)
    return list(range(last + 1, last + 1 + count))


def _write(
    model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]], using: str
) -> int:
    """Send prepared rows to the table, chunk by chunk; returns how many."""
    connection = connections[using]
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    names = ", ".join(q(c) for c in columns)
    written = 0
    with connection.cursor() as cursor:
        raw = getattr(cursor, "cursor", None)
        if connection.vendor == "postgresql" and hasattr(raw, "copy"):
            # psycopg 3: COPY in text format; the driver's dumpers adapt each value
            with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
                    written += 1
            return written
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - names from the model
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                cursor.executemany(sql, batch)
                written += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            written += len(batch)
    return written


def insert(model: type[M], objs: Sequence[M], *, using: str | None = None) -> list[M]:
    """Write unsaved instances of ``model`` and give each its primary key.

    The fast equivalent of ``model.objects.bulk_create(objs)``: same values, same
    preparation by the fields, no signals. Instances are marked saved afterwards.
    """
    if not objs:
        return list(objs)
    _writable(model)
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    cols = _columns(model)
    pk = model._meta.pk
    auto = _auto_pk(model)
    relations = [c for c in cols if c.relation and c.field is not pk]
    batch = {id(o) for o in objs} if relations else set()
    later: list[tuple[M, Column, models.Model]] = []  # rows pointing into this batch
    for obj in objs:  # before the transaction: a refusal leaves it usable
        values = obj.__dict__
        for c in relations:
            if values.get(c.attname) is None:
                related = _sync_relation(obj, c, batch)
                if related is not None:
                    later.append((obj, c, related))
    # auto_now / auto_now_add timestamps: one moment for the whole write
    now = timezone.now()
    stamped = [c.attname for c in cols if c.pre_save and type(c.field) is models.DateTimeField]
    pre_saved = [c for c in cols if c.pre_save and c.attname not in stamped]
    attnames = [c.attname for c in cols]
    converted = [(i, p) for i, p in enumerate(preparers(model, attnames, alias)) if p is not None]

    def rows() -> Iterable[list[Any]]:
        for obj in objs:
            values = obj.__dict__
            for attname in stamped:
                values[attname] = now
            for c in pre_saved:
                setattr(obj, c.attname, c.field.pre_save(obj, True))
            # concrete values live in the instance's dict; a deferred one is loaded
            row = [values[a] if a in values else getattr(obj, a) for a in attnames]
            for i, prep in converted:
                row[i] = prep(row[i])
            yield row

    given: list[M] = []
    try:
        with transaction.atomic(using=alias, savepoint=False):
            if auto:
                given = [o for o in objs if o.pk is None]
                for obj, new_id in zip(given, reserve_ids(model, len(given), alias), strict=True):
                    obj.pk = new_id
            for obj, c, related in later:  # a row of the batch now has its id
                setattr(obj, c.attname, related.pk)
            _write(model, [c.column for c in cols], rows(), alias)
    except BaseException:
        for obj in given:  # the rows were not written: their ids are not theirs
            obj.pk = None
        for obj, c, _related in later:
            setattr(obj, c.attname, None)
        raise
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objs)


def _sync_relation(obj: models.Model, column: Column, batch: set[int]) -> models.Model | None:
    """Copy the id of a related instance saved after it was assigned, as Django's
    ``_prepare_related_fields_for_save`` does, and refuse an unsaved one, unless it is
    a row of the same write (a case merged into another): that one is returned, to get
    its id once the batch's ids are reserved."""
    field = column.field
    if not field.is_cached(obj):  # type: ignore[attr-defined]
        return None
    related = field.get_cached_value(obj)  # type: ignore[attr-defined]
    if related is None:
        return None
    if related.pk is None:
        if id(related) in batch:
            return related
        raise ValueError(f"{type(obj).__name__}.{field.name}: the related row is not saved")
    setattr(obj, column.attname, related.pk)
    return None


def insert_tuples(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    using: str | None = None,
) -> int:
    """Write rows given as tuples of Python values, one per ``fields`` (names or
    attnames of concrete fields, the auto primary key left to the database). Values
    are prepared by their fields; returns the number of rows written. For writers that
    never need the rows back as instances (the audit log, timelines, telemetry)."""
    _writable(model)
    alias = using or router.db_for_write(model)
    columns = [concrete(model, name).column for name in fields]
    converted = [(i, p) for i, p in enumerate(preparers(model, fields, alias)) if p is not None]

    def prepared() -> Iterable[Sequence[Any]]:
        if not converted:
            yield from rows
            return
        for values in rows:
            row = list(values)
            for i, prep in converted:
                row[i] = prep(row[i])
            yield row

    with transaction.atomic(using=alias, savepoint=False):
        return _write(model, columns, prepared(), alias)


def update(objs: Sequence[models.Model], fields: Sequence[str], *, using: str | None = None) -> int:
    """Write the current values of ``fields`` of each of ``objs`` (each row its own
    values): one parametrised ``UPDATE … WHERE pk`` run by ``executemany``. Django's
    ``bulk_update`` builds a ``CASE`` expression per batch instead, which cost a third
    of the first county seed."""
    if not objs:
        return 0
    model = type(objs[0])
    alias = using or router.db_for_write(model)
    connection = connections[alias]
    q = connection.ops.quote_name
    meta = model._meta
    targets = [concrete(model, name) for name in fields]
    sets = ", ".join(f"{q(f.column)} = %s" for f in targets)
    sql = f"UPDATE {q(meta.db_table)} SET {sets} WHERE {q(meta.pk.column)} = %s"  # noqa: S608
    attnames = [f.attname for f in targets]
    preps = preparers(model, attnames, alias)
    with transaction.atomic(using=alias, savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(objs), CHUNK):
            batch = []
            for obj in objs[start : start + CHUNK]:
                row = [getattr(obj, a) for a in attnames]
                for i, prep in enumerate(preps):
                    if prep is not None:
                        row[i] = prep(row[i])
                row.append(obj.pk)
                batch.append(row)
            cursor.executemany(sql, batch)
    return len(objs)


def analyze(models_: Iterable[type[models.Model]], *, using: str = "default") -> None:
    """Refresh PostgreSQL's planner statistics of tables the bulk path has just filled.

    Rows written in the current transaction are invisible to autovacuum until it
    commits, so the planner would still take the tables for empty and pick nested
    loops over a hundred thousand rows (the demo county's computed tags took ten
    minutes so). ``ANALYZE`` inside the transaction counts its own rows. SQLite's
    planner works without statistics: nothing to do there.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in dict.fromkeys(models_):
            cursor.execute(f"ANALYZE {q(model._meta.db_table)}")
