"""What the API and the pages of the import side share: who may run imports, storing
an uploaded file, starting its run, and the 问题数据 workbook sent back to an agency.

**Who may import.** A source's rows land anywhere in the county (a 公安 file covers
every street), so imports are for users who hold :attr:`Perm.CHANGE` at the county or
at a street (county administrators, street leaders) — not for a community or a grid,
whose change permission covers their own area only. The same users see the runs and
their rejected rows. Clear ID numbers in the workbook need :attr:`Perm.REVEAL_PII`
at that level too, and each such export is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

from jiayuan.core import audit, imports, pii
from jiayuan.core.errors import BilingualError, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import ALL, scope_paths

from . import engine
from .models import ImportRun, RejectedRow, Source, SourceKind, Stream

MAX_UPLOAD = int(getattr(settings, "HUB_MAX_UPLOAD", 50 * 1024 * 1024))
#: larger uploads are imported by a worker (the request answers at once with the run)
INLINE_BYTES = int(getattr(settings, "HUB_INLINE_BYTES", 4 * 1024 * 1024))
SUFFIXES = {
    SourceKind.CSV: (".csv", ".txt"),
    SourceKind.XLSX: (".xlsx", ".xlsm"),
    SourceKind.FOLDER: (".csv", ".txt", ".xlsx", ".xlsm"),
}
#: a path of the area tree at the county (``370830/``) or a street (``370830/001/``)
TOP_LEVELS = 2


class TooLarge(BilingualError):
    code = "too_large"
    status = 413


def _top(user: Any, perm: str) -> bool:
    return any(p == ALL or p.count("/") <= TOP_LEVELS for p in scope_paths(user, perm))


def may_import(user: Any) -> bool:
    """County or street change permission (see the module's docstring)."""
    return _top(user, Perm.CHANGE)


def may_reveal(user: Any) -> bool:
    return may_import(user) and _top(user, Perm.REVEAL_PII)


def require_import(user: Any) -> None:
    if not may_import(user):
        raise PermissionDenied(
            "只有县级和街道的管理人员可以导入数据", "only county and street staff may import data"
        )


def visible_run(user: Any, run_id: int) -> ImportRun:
    require_import(user)
    run = ImportRun.objects.select_related("stream__source", "actor").filter(pk=run_id).first()
    if run is None:
        raise NotFound("导入批次不存在", "no such import run")
    return run


def store_upload(chunks: Iterator[bytes], name: str, size: int | None) -> tuple[Path, str]:
    """Write an upload under VAR_DIR/hub/uploads by its SHA-256; refuse one too large or
    empty. Returns the path and its name relative to VAR_DIR."""
    if size is not None and size > MAX_UPLOAD:
        raise TooLarge(
            f"文件超过 {MAX_UPLOAD // 1048576} MB 的上限", f"the file exceeds {MAX_UPLOAD} bytes"
        )
    folder = Path(settings.VAR_DIR) / "hub" / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(name).suffix.lower()[:8]
    h = hashlib.sha256()
    part = folder / f".upload-{hashlib.sha256(name.encode()).hexdigest()[:8]}-{id(h)}.part"
    written = 0
    with part.open("wb") as f:
        for chunk in chunks:
            written += len(chunk)
            if written > MAX_UPLOAD:
                f.close()
                part.unlink(missing_ok=True)
                raise TooLarge(
                    f"文件超过 {MAX_UPLOAD // 1048576} MB 的上限",
                    f"the file exceeds {MAX_UPLOAD} bytes",
                )
            h.update(chunk)
            f.write(chunk)
    if not written:
        part.unlink(missing_ok=True)
        raise ValidationFailed("上传的文件是空的", "the uploaded file is empty", field="file")
    final = folder / f"{h.hexdigest()}{suffix}"
    part.replace(final)
    return final, str(final.relative_to(Path(settings.VAR_DIR)))


def import_upload(
    source: Source,
    stream_name: str | None,
    chunks: Iterator[bytes],
    name: str,
    size: int | None,
    *,
    actor: Any,
    trigger: str,
    as_of: dt.date | None = None,
) -> ImportRun:
    """Check, store and import one uploaded file of ``source``."""
    from .sources import pick_stream

    require_import(actor)
    stream = pick_stream(source, stream_name or None)
    allowed = SUFFIXES.get(SourceKind(source.kind))
    if allowed is None:
        raise ValidationFailed(
            f"数据源 {source.code}（{source.get_kind_display()}）按计划读取，不接受上传文件",
            f"source {source.code} is read on its schedule and takes no upload",
            field="file",
        )
    if Path(name).suffix.lower() not in allowed:
        raise ValidationFailed(
            f"文件类型不符：数据源 {source.code} 接受 {'、'.join(allowed)} 文件",
            f"wrong file type: source {source.code} takes {', '.join(allowed)}",
            field="file",
        )
    path, stored = store_upload(chunks, name, size)
    if path.stat().st_size <= INLINE_BYTES:
        return engine.run(
            stream, path, actor=actor, trigger=trigger, as_of=as_of, file_name=name,
            stored_file=stored,
        )  # fmt: skip
    return queue_import(stream, path, stored, name, actor=actor, trigger=trigger, as_of=as_of)


def queue_import(
    stream: Stream,
    path: Path,
    stored: str,
    name: str,
    *,
    actor: Any,
    trigger: str,
    as_of: dt.date | None,
) -> ImportRun:
    """A large file: its run is written now (status running, nothing read) and a worker
    imports it — the engine resumes the unfinished run of the same file, from row 0.
    A worker that dies leaves the run unfinished; the next upload of the file resumes
    it where the last committed batch ended."""
    from django.db import transaction
    from django.utils import timezone

    from .tasks import import_stored

    engine.check_stream(stream)
    from .connectors import connector

    connector(stream.source, stream, path).check()  # a broken file answers now, not later
    sha = engine.file_sha256(path)
    run = (
        ImportRun.objects.filter(stream=stream, file_sha256=sha, status__in=engine.UNFINISHED)
        .order_by("-pk")
        .first()
    )
    if run is None:
        run = ImportRun.objects.create(
            stream=stream, trigger=trigger, actor=actor if getattr(actor, "pk", None) else None,
            file_name=name[:255], file_sha256=sha, stored_file=stored[:255],
            as_of=as_of or timezone.localdate(),
        )  # fmt: skip
    transaction.on_commit(lambda: import_stored(run.pk))
    return run


# --- 问题数据: the rejected rows of a run as a workbook --------------------------------------
HEAD = ("行号", "字段", "列名", "问题代码", "原因", "原始值", "Reason")


def personal_columns(stream: Stream) -> set[str]:
    """The source columns that carry ID numbers or phones (masked unless revealed)."""
    try:
        fields = {f.name: f for f in imports.get(stream.target).fields}
    except BilingualError:
        fields = {}
    out: set[str] = set()
    for item in stream.mapping or []:
        f = fields.get(item.get("field", ""))
        personal = f is not None and (
            f.pii or f.kind in (imports.Kind.ID_NUMBER, imports.Kind.PHONE)
        )
        if personal or item.get("field") in ("id_number", "certificate", "phone"):
            out.update([item["column"], *(item.get("aliases") or [])])
    return out


def _mask(value: str) -> str:
    return pii.mask_id_number(value) if value else ""


def rejects_workbook(run: ImportRun, *, actor: Any, reveal: bool) -> bytes:
    """The run's rejected rows: line, field, column, code, reason and the value as read,
    then the whole row as the agency sent it. Every cell is text (ID numbers stay
    exact); personal columns are masked unless ``reveal`` (audited)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    if reveal:
        if not may_reveal(actor):
            raise PermissionDenied("没有查看完整身份证号的权限", "you may not reveal personal data")
        audit.record(
            AuditEntry.Action.REVEAL,
            run,
            actor,
            {"export": "rejects"},
            "导出问题数据（含完整证件号）",
        )
    personal = personal_columns(run.stream)
    rejects = RejectedRow.objects.filter(run=run).order_by("line", "pk")
    columns: list[str] = []
    for token in rejects.exclude(row_enc="").values_list("row_enc", flat=True)[:1]:
        columns = list(json.loads(pii.decrypt(token)))
    book = Workbook(write_only=True)
    sheet = book.create_sheet("问题数据")
    bold = Font(bold=True)

    def cell(value: Any, *, head: bool = False) -> Any:
        c = WriteOnlyCell(sheet, value="" if value is None else str(value))
        c.number_format = "@"
        if head:
            c.font = bold
        return c

    sheet.append([cell(h, head=True) for h in (*HEAD, *columns)])
    for r in rejects.iterator(chunk_size=2000):
        row = json.loads(pii.decrypt(r.row_enc)) if r.row_enc else {}
        raw_value = r.raw_value
        if reveal and r.column in personal and r.column in row:
            raw_value = row[r.column]
        values = [
            row.get(c, "") if reveal or c not in personal else _mask(str(row.get(c, "")))
            for c in columns
        ]
        sheet.append(
            [
                cell(v)
                for v in (
                    r.line,
                    r.field,
                    r.column,
                    r.code,
                    r.reason,
                    raw_value,
                    r.reason_en,
                    *values,
                )
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
