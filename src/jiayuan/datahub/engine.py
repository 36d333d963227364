"""The import engine: one run reads a stream once, exactly once.

:func:`run` imports one file into a stream, :func:`sync` reads a stream that needs no
file in hand (a folder's new files, an interface or a table from its cursor on). Each
returns the :class:`~.models.ImportRun` whose counters are the run report
(``read N, inserted I, updated U, unchanged C, rejected R``).

Exactly once, three ways:

* **the file** — its SHA-256: the same file again is a run that reads nothing and
  reports every row unchanged; a file whose earlier run stopped half-way (killed,
  failed) resumes that run from ``run.position``;
* **the row** — a digest of its raw values (:class:`~.models.SeenRow`, unique per
  stream): a row read again, in this file or a later one, is "unchanged" and never
  reaches the target;
* **the cursor** — interfaces and tables are read from ``stream.state["cursor"]``
  moved back by the stream's look-back; rows read twice are caught by their digest.

Each batch (5,000 rows unless the stream says otherwise: fewer commits, whose fsync
is most of a batch's fixed cost) commits in ONE transaction:
the target's write, the seen rows, the rejected rows, the run's counters and
position, and the stream's state. A process killed between two batches loses
nothing and duplicates nothing: the next run of the same file starts after the last
committed batch. The engine adds a fixed number of queries per batch, none per row.
On PostgreSQL a batch's commit does not wait for the disk (``synchronous_commit``
off for that transaction): a server crash may lose the last batches, rows and
position together, and the next run reads them again.

Schema drift (:meth:`.mapping.Mapping.drift`) follows the stream's contract: PAUSE
stops before anything is written (run ``paused``, the stream's ``paused_reason`` set,
further runs refused until someone resumes it); QUARANTINE reads the file and refuses
every row of it with the code ``schema_drift`` (run ``quarantined``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import socket
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from jiayuan.core import bulk, imports, pii
from jiayuan.core.errors import BilingualError, Conflict
from jiayuan.core.imports import Context, Kind, Outcome, Problem, Row

from .connectors import (
    Connector,
    FolderConnector,
    SourceError,
    Table,
    connector,
    cursor_key,
    stream_connector,
    text_of,
)
from .mapping import Drift, Mapping, digest
from .models import Contract, ImportRun, RejectedRow, RunStatus, SeenRow, SourceKind, Stream

log = logging.getLogger(__name__)

BATCH = 5000
#: A run that read this many rows refreshes the planner's statistics of its tables.
ANALYZE_AFTER = 50_000
#: A run in one of these states is resumed by the next run of the same file.
UNFINISHED = (RunStatus.RUNNING, RunStatus.FAILED)

REJECT_FIELDS = ("run", "line", "field", "column", "code", "reason", "reason_en", "raw_value",
                 "row_enc")  # fmt: skip


class StreamBusy(Conflict):
    code = "stream_busy"


class StreamPaused(Conflict):
    code = "stream_paused"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# --- one stream at a time ----------------------------------------------------------------
@contextlib.contextmanager
def stream_lock(stream: Stream) -> Iterator[None]:
    """Only one run of a stream at a time, across processes and hosts. PostgreSQL: a
    session advisory lock; SQLite (one machine): a claim in ``stream.state`` naming the
    process, taken over when that process is gone.
    Both vanish with a killed process, so a killed import never blocks the next one."""
    if connection.vendor == "postgresql":
        # the two-int4 form of the lock: a class (7011, the data hub) and the stream
        key = zlib.crc32(f"jiayuan.datahub.stream:{stream.pk}".encode()) - 2**31
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s::int, %s::int)", [7011, key])
            if not cursor.fetchone()[0]:
                raise _busy(stream)
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s::int, %s::int)", [7011, key])
        return
    token = _claim(stream)
    try:
        yield
    finally:
        with transaction.atomic():
            current = Stream.objects.select_for_update().filter(pk=stream.pk).first()
            if current is not None and (current.state or {}).get("lock", {}).get("token") == token:
                state = {k: v for k, v in current.state.items() if k != "lock"}
                Stream.objects.filter(pk=stream.pk).update(state=state)
                stream.state = state


def _claim(stream: Stream) -> str:
    """SQLite runs on one machine: the stream's state names the process importing it,
    and a claim whose process is gone (killed) is taken over."""
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    with transaction.atomic():
        current = Stream.objects.select_for_update().get(pk=stream.pk)
        state = dict(current.state or {})
        held = state.get("lock") or {}
        if held and _alive(held):
            raise _busy(stream)
        state["lock"] = {"token": token, "host": socket.gethostname(), "pid": os.getpid()}
        Stream.objects.filter(pk=stream.pk).update(state=state)
        stream.state = state
    return token


def _alive(held: dict[str, Any]) -> bool:
    if held.get("host") != socket.gethostname():
        return True  # another machine's process: trust its claim
    try:
        os.kill(int(held.get("pid", 0)), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def _busy(stream: Stream) -> StreamBusy:
    return StreamBusy(
        f"数据流 {stream} 正在导入，请稍后再试", f"stream {stream} is being imported, retry later"
    )


# --- the run -----------------------------------------------------------------------------
@dataclass
class _Batch:
    """What one batch adds to the run (written with it, in its transaction)."""

    read: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seen: list[tuple[int, str, int]] = field(default_factory=list)
    rejects: list[tuple[Any, ...]] = field(default_factory=list)
    cursor: Any = None

    def add(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n


def check_stream(stream: Stream) -> tuple[imports.Target, Mapping]:
    if stream.paused_reason:
        raise StreamPaused(
            f"数据流 {stream} 已暂停：{stream.paused_reason}。调整映射后请恢复数据流再导入",
            f"stream {stream} is paused ({stream.paused_reason}); resume it after fixing "
            "the mapping",
        )
    target = imports.get(stream.target)
    return target, Mapping(stream.mapping or [], target.fields)


def run(
    stream: Stream,
    path: Path | str,
    *,
    actor: Any = None,
    trigger: str = "cli",
    as_of: dt.date | None = None,
    file_name: str = "",
    stored_file: str = "",
) -> ImportRun:
    """Import the file at ``path`` into ``stream`` (see the module's docstring)."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"文件不存在：{path.name}", f"no such file: {path.name}")
    target, mapping = check_stream(stream)
    conn = connector(stream.source, stream, path)
    with stream_lock(stream):
        sha = file_sha256(path)
        done = (
            ImportRun.objects.filter(stream=stream, file_sha256=sha, status=RunStatus.SUCCEEDED)
            .order_by("-pk")
            .first()
        )
        if done is not None:
            return _unchanged_file(stream, done, actor, trigger, file_name or path.name)
        previous = (
            ImportRun.objects.filter(stream=stream, file_sha256=sha, status__in=UNFINISHED)
            .order_by("-pk")
            .first()
        )
        try:
            table = conn.open(dict(stream.state or {}))  # a file that cannot be read: no run
        except BilingualError as exc:
            if previous is not None:  # written when the file arrived (a queued import)
                ImportRun.objects.filter(pk=previous.pk).update(
                    status=RunStatus.FAILED, error=exc.message[:2000], finished_at=timezone.now()
                )
            raise
        if previous is not None:
            the_run = previous
            ImportRun.objects.filter(pk=the_run.pk).update(
                status=RunStatus.RUNNING, error="", finished_at=None
            )
            the_run.status, the_run.error = RunStatus.RUNNING, ""
        else:
            the_run = ImportRun.objects.create(
                stream=stream,
                trigger=trigger,
                actor=actor if getattr(actor, "pk", None) else None,
                file_name=(file_name or path.name)[:255],
                file_sha256=sha,
                stored_file=stored_file[:255],
                as_of=as_of or timezone.localdate(),
            )
        return _read(the_run, stream, table, target, mapping, actor)


def sync(stream: Stream, *, actor: Any = None, trigger: str = "schedule") -> list[ImportRun]:
    """Read a stream whose source needs no file in hand: each new file of a folder (by
    SHA-256), or an interface or table from its cursor on. Returns the runs made."""
    source = stream.source
    conn = stream_connector(source, stream)
    if isinstance(conn, FolderConnector):
        runs = []
        for file in conn.files():
            sha = file_sha256(file)
            if ImportRun.objects.filter(
                stream=stream, file_sha256=sha, status=RunStatus.SUCCEEDED
            ).exists():
                continue
            runs.append(run(stream, file, actor=actor, trigger=trigger))
        return runs
    return [_cursor_run(stream, conn, actor=actor, trigger=trigger)]


def _cursor_run(stream: Stream, conn: Connector, *, actor: Any, trigger: str) -> ImportRun:
    target, mapping = check_stream(stream)
    with stream_lock(stream):
        stream.refresh_from_db(fields=["state"])
        table = conn.open(dict(stream.state or {}))
        the_run = ImportRun.objects.create(
            stream=stream,
            trigger=trigger,
            actor=actor if getattr(actor, "pk", None) else None,
            file_name=table.name[:255],
            as_of=timezone.localdate(),
        )
        return _read(the_run, stream, table, target, mapping, actor)


def _unchanged_file(
    stream: Stream, done: ImportRun, actor: Any, trigger: str, name: str
) -> ImportRun:
    """The same file again: a finished run that read nothing new."""
    now = timezone.now()
    return ImportRun.objects.create(
        stream=stream,
        status=RunStatus.SUCCEEDED,
        trigger=trigger,
        actor=actor if getattr(actor, "pk", None) else None,
        file_name=name[:255],
        file_sha256=done.file_sha256,
        as_of=done.as_of,
        started_at=now,
        finished_at=now,
        read=done.read,
        unchanged=done.read,
        position=done.position,
        drift={"same_file_as": done.pk},
    )


def _read(
    the_run: ImportRun,
    stream: Stream,
    table: Table,
    target: imports.Target,
    mapping: Mapping,
    actor: Any,
) -> ImportRun:
    try:
        # an interface that answers no rows names no columns: nothing drifted
        drift = mapping.drift(table.columns) if table.columns else Drift()
        if drift and stream.contract == Contract.PAUSE:
            return _pause(the_run, stream, drift)
        if drift:
            ImportRun.objects.filter(pk=the_run.pk).update(drift=drift.as_dict())
        mapping.bind(table.columns)
        context = the_run.context(actor)
        batch_size = int((stream.config or {}).get("batch", BATCH)) or BATCH
        rows = islice(table.rows, the_run.position, None)  # a resumed run skips what it wrote
        columns = list(table.columns)
        state = dict(stream.state or {})
        while chunk := list(islice(rows, batch_size)):
            with transaction.atomic():
                _no_commit_wait()
                if drift:
                    batch = _quarantine(the_run, chunk, drift)
                else:
                    batch = _import(the_run, stream, chunk, columns, mapping, target, context)
                state = _commit(the_run, stream, batch, state)
        status = RunStatus.QUARANTINED if drift else RunStatus.SUCCEEDED
        ImportRun.objects.filter(pk=the_run.pk).update(status=status, finished_at=timezone.now())
        if the_run.read >= ANALYZE_AFTER:
            # the next run's digest look-ups plan on these statistics (PostgreSQL servers
            # may run without autovacuum; see core.bulk.analyze)
            bulk.analyze([SeenRow, RejectedRow])
    except Exception as exc:  # the run says why it stopped; the next run resumes it
        message = exc.message if isinstance(exc, BilingualError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, BilingualError):
            log.exception("import run %s failed", the_run.pk)
        ImportRun.objects.filter(pk=the_run.pk).update(
            status=RunStatus.FAILED, error=message[:2000], finished_at=timezone.now()
        )
    finally:
        table.close()
    the_run.refresh_from_db()
    return the_run


def _no_commit_wait() -> None:
    """PostgreSQL: this batch's commit does not wait for its WAL to reach the disk
    (``SET LOCAL synchronous_commit = off``, this transaction only). A killed import
    loses nothing by it (the server has the commit); a crash of the server itself may
    lose the last batches committed, rows and run position together (one
    transaction), so the next run of the file reads them again: still exactly once."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _pause(the_run: ImportRun, stream: Stream, drift: Drift) -> ImportRun:
    reason = f"文件结构与映射不一致（{drift.describe()}）"
    with transaction.atomic():
        Stream.objects.filter(pk=stream.pk).update(paused_reason=reason)
        ImportRun.objects.filter(pk=the_run.pk).update(
            status=RunStatus.PAUSED,
            drift=drift.as_dict(),
            error=f"{reason} / schema drift: {drift.describe_en()}",
            finished_at=timezone.now(),
        )
    stream.paused_reason = reason
    the_run.refresh_from_db()
    return the_run


def _seal(raw: Any) -> str:
    return pii.encrypt(json.dumps(raw, ensure_ascii=False, default=str))


def _quarantine(the_run: ImportRun, chunk: Sequence[tuple[int, Any]], drift: Drift) -> _Batch:
    batch = _Batch(read=len(chunk))
    reason, reason_en = f"文件结构变化：{drift.describe()}", f"schema drift: {drift.describe_en()}"
    for line, raw in chunk:
        batch.rejects.append(
            (
                the_run.pk,
                line,
                "",
                "",
                "schema_drift",
                reason[:300],
                reason_en[:300],
                "",
                _seal(raw),
            )
        )
    batch.add(Outcome.REJECTED, len(chunk))
    return batch


def _import(
    the_run: ImportRun,
    stream: Stream,
    chunk: Sequence[tuple[int, Any]],
    columns: Sequence[str],
    mapping: Mapping,
    target: imports.Target,
    context: Context,
) -> _Batch:
    batch = _Batch(read=len(chunk))
    digests = [digest(raw, columns) for _line, raw in chunk]
    seen = seen_digests(stream.pk, set(digests))
    cursor_field = stream.cursor_field
    sealed: dict[int, str] = {}
    column_of = {entry.field.name: entry.column for entry in mapping.entries if entry.field}
    pii_fields = {
        name
        for name, f in mapping.fields.items()
        if f.pii or f.kind in (Kind.ID_NUMBER, Kind.PHONE)
    }
    rows: list[Row] = []
    raws: dict[int, Any] = {}

    def reject(problem: Problem) -> None:
        line = problem.line
        if line not in sealed:
            sealed[line] = _seal(raws.get(line, {}))
        raw_value = problem.raw
        if problem.field in pii_fields and raw_value and "*" not in raw_value:
            raw_value = pii.mask_id_number(raw_value)
        batch.rejects.append((
            the_run.pk, line, problem.field[:60], column_of.get(problem.field, "")[:60],
            problem.code[:40], problem.reason[:300], problem.reason_en[:300], raw_value[:300],
            sealed[line],
        ))  # fmt: skip

    for (line, raw), row_digest in zip(chunk, digests, strict=True):
        if cursor_field and raw.get(cursor_field) not in (None, ""):
            value = raw[cursor_field]
            if batch.cursor is None or cursor_key(value) > cursor_key(batch.cursor):
                batch.cursor = value
        if row_digest in seen:
            batch.add(Outcome.UNCHANGED)
            continue
        raws[line] = raw
        row, problems = mapping.row(line, raw, row_digest)
        for problem in problems:
            reject(problem)
        if row is None:  # a copy of a refused row is refused again, on its own line
            batch.add(Outcome.REJECTED)
            continue
        seen.add(row_digest)  # a copy later in the batch is unchanged, not written twice
        rows.append(row)
    if rows:
        written = target.write(context, rows)
        if len(written.outcomes) != len(rows):
            raise RuntimeError(
                f"target {target.code} returned {len(written.outcomes)} outcomes "
                f"for {len(rows)} rows"
            )
        for row, outcome in zip(rows, written.outcomes, strict=True):
            batch.add(Outcome(outcome))
            if outcome != Outcome.REJECTED:
                batch.seen.append((stream.pk, row.digest, the_run.pk))
        for problem in written.problems:
            reject(problem)
    return batch


def seen_digests(stream_id: int, digests: set[str]) -> set[str]:
    """Which of ``digests`` the stream has seen: one query per batch (an array parameter
    on PostgreSQL; on SQLite, IN lists within its parameter limit)."""
    if not digests:
        return set()
    table = connection.ops.quote_name(SeenRow._meta.db_table)
    found: set[str] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT digest FROM {table} WHERE stream_id = %s AND digest = ANY(%s)",  # noqa: S608
                [stream_id, list(digests)],
            )
            return {row[0] for row in cursor.fetchall()}
        wanted = list(digests)
        for start in range(0, len(wanted), 900):
            part = wanted[start : start + 900]
            marks = ", ".join(["%s"] * len(part))
            cursor.execute(
                f"SELECT digest FROM {table} WHERE stream_id = %s AND digest IN ({marks})",  # noqa: S608
                [stream_id, *part],
            )
            found.update(row[0] for row in cursor.fetchall())
    return found


def _commit(
    the_run: ImportRun, stream: Stream, batch: _Batch, state: dict[str, Any]
) -> dict[str, Any]:
    """The batch's bookkeeping, in the transaction of its rows."""
    if batch.seen:
        bulk.insert_tuples(SeenRow, ("stream_id", "digest", "run_id"), batch.seen)
    if batch.rejects:
        bulk.insert_tuples(RejectedRow, [f"{n}_id" if n == "run" else n for n in REJECT_FIELDS],
                           batch.rejects)  # fmt: skip
    c = batch.counts
    the_run.read += batch.read
    the_run.position += batch.read
    the_run.inserted += c.get(Outcome.INSERTED, 0)
    the_run.updated += c.get(Outcome.UPDATED, 0)
    the_run.unchanged += c.get(Outcome.UNCHANGED, 0)
    the_run.rejected += c.get(Outcome.REJECTED, 0)
    the_run.review += c.get(Outcome.REVIEW, 0)
    ImportRun.objects.filter(pk=the_run.pk).update(
        read=the_run.read,
        position=the_run.position,
        inserted=the_run.inserted,
        updated=the_run.updated,
        unchanged=the_run.unchanged,
        rejected=the_run.rejected,
        review=the_run.review,
    )
    new_state = {**state, "last_run": the_run.pk}
    if batch.cursor is not None:
        old = state.get("cursor")
        if old in (None, "") or cursor_key(batch.cursor) > cursor_key(old):
            value = batch.cursor
            new_state["cursor"] = value if isinstance(value, int | float) else text_of(value)
    Stream.objects.filter(pk=stream.pk).update(state=new_state)
    stream.state = new_state
    return new_state


def resume_stream(stream: Stream) -> None:
    """Lift a stream's pause (after its mapping was fixed)."""
    Stream.objects.filter(pk=stream.pk).update(paused_reason="")
    stream.paused_reason = ""


def needs_file(stream: Stream) -> bool:
    return stream.source.kind in (SourceKind.CSV, SourceKind.XLSX)
