"""Light views of devices and device types for the ingest hot path.

A batch of 500 messages touches up to 500 devices; building 500 ``Device`` model
instances (with their types) per batch costs more than the rest of the pipeline.
Ingest reads the handful of columns it needs into :class:`DeviceRef` rows instead, and
keeps the few device types in a per-process cache. Full ``Device`` objects are loaded
only when an alarm is raised.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Max

from jiayuan.core.cache import ProcessCache

from .models import Device, DeviceType

# How often a process asks whether a device type changed (one aggregate query).
TYPES_CHECK_S = 2.0


@dataclass(frozen=True, slots=True)
class TypeInfo:
    pk: int
    code: str
    name: str
    schema: dict[str, Any]
    activity: bool


@dataclass(slots=True)
class DeviceRef:
    """The columns of a device that validation, liveness and the rules read. Attribute
    names match :class:`Device`, so :meth:`AlarmRule.applies_to` takes either."""

    pk: int
    serial: str
    device_type_id: int
    area_path: str
    dwelling_id: int | None
    status: str
    last_seen_at: dt.datetime | None
    last_device_ts: dt.datetime | None
    battery: int | None
    device_type: TypeInfo

    def load(self) -> Device:
        """The full device, for raising an alarm or opening a case."""
        return Device.objects.select_related("device_type", "area", "dwelling").get(pk=self.pk)


def _types_version() -> tuple[int, Any]:
    found = DeviceType.objects.aggregate(n=Count("id"), newest=Max("updated_at"))
    return (found["n"], found["newest"])


def _load_types() -> dict[int, TypeInfo]:
    return {
        t.pk: TypeInfo(t.pk, t.code, t.name, t.schema, t.activity) for t in DeviceType.objects.all()
    }


class _Types:
    """The device types of this process, with their schemas, kept in step with the
    database (a :class:`~jiayuan.core.cache.ProcessCache`): at most every
    :data:`TYPES_CHECK_S` seconds one cheap query reads the types' version (how many,
    and the newest ``updated_at``); only when it moved are the types read again. So a
    schema saved in the web process (or by an administrator) reaches every running
    ``jiayuan ingest`` within seconds, without a restart. A type this process has not
    seen yet is read at once."""

    def __init__(self) -> None:
        self.cache = ProcessCache(_load_types, ttl=TYPES_CHECK_S, version=_types_version)
        self.cache.watch(DeviceType, uid="iot.types")

    @property
    def checked_at(self) -> float:
        return self.cache.checked_at

    @checked_at.setter
    def checked_at(self, value: float) -> None:
        self.cache.checked_at = value

    def forget(self) -> None:
        """Read the types again on next use (tests that roll back a changed schema)."""
        self.cache.forget()

    def get(self, pk: int) -> TypeInfo:
        by_id = self.cache.get()
        if pk not in by_id:
            self.cache.forget()
            by_id = self.cache.get()
        return by_id[pk]


TYPES = _Types()
_COLUMNS = (
    "pk",
    "serial",
    "device_type_id",
    "area_path",
    "dwelling_id",
    "status",
    "last_seen_at",
    "last_device_ts",
    "battery",
)


def pg_cursor() -> Any:
    """A psycopg cursor with server-side binding on Django's PostgreSQL connection (so in
    the same transaction). Django's cursors bind on the client: each element of an array
    parameter is quoted into the SQL text in Python; here psycopg's C dumpers send the
    parameters apart from the statement."""
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def _from_epoch(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def device_refs(serials: Iterable[str]) -> dict[str, DeviceRef]:
    """The devices with these serials, by serial (one query)."""
    found: dict[str, DeviceRef] = {}
    wanted = list(serials)
    rows: Iterable[tuple[Any, ...]]
    if connection.vendor == "postgresql":
        # One array parameter instead of one per serial, bound by the driver; times as
        # epoch seconds, which load an order of magnitude faster than timestamptz text.
        with pg_cursor() as cursor:
            cursor.execute(
                "SELECT id, serial, device_type_id, area_path, dwelling_id, status, "  # noqa: S608 - fixed names
                "extract(epoch FROM last_seen_at)::float8, "
                "extract(epoch FROM last_device_ts)::float8, battery "
                f"FROM {Device._meta.db_table} WHERE serial = ANY(%s)",
                [wanted],
            )
            rows = [
                (*row[:6], _from_epoch(row[6]), _from_epoch(row[7]), row[8])
                for row in cursor.fetchall()
            ]
    else:
        rows = Device.objects.filter(serial__in=wanted).values_list(*_COLUMNS)
    for pk, serial, type_id, path, dwelling_id, status, seen, device_ts, battery in rows:
        found[serial] = DeviceRef(
            pk, serial, type_id, path, dwelling_id, status, seen, device_ts, battery,
            device_type=TYPES.get(type_id),
        )  # fmt: skip
    return found


def locked_ids(table: str, **columns: Iterable[Any]) -> list[int] | None:
    """On PostgreSQL, the ids of ``table`` rows whose columns take one of the given
    values, locked for this transaction, with one array parameter per column (``= ANY``)
    instead of one parameter per value; ``None`` elsewhere (the caller uses the ORM)."""
    if connection.vendor != "postgresql":
        return None
    where = " AND ".join(f"{name} = ANY(%s)" for name in columns)
    with pg_cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {table} WHERE {where} ORDER BY id FOR UPDATE",  # noqa: S608 - fixed names
            [list(values) for values in columns.values()],
        )
        return [row[0] for row in cursor.fetchall()]
