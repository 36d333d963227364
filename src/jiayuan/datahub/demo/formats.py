"""Writing agency files the way agencies send them: 公安's CSV in GBK with Windows line
ends, Excel workbooks with text ID numbers and date cells, JSON pages of an HTTP API.

Files are byte-for-byte the same for the same rows (the workbook's timestamps and the
archive's dates are fixed), so writing the demo twice gives files with the same hash,
and several test processes may write the same file at once: each file is written
beside its place and renamed into it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

# the moment every demo workbook says it was made (the files speak for this day); naive,
# as openpyxl writes document times (it reads them as UTC)
WORKBOOK_TIME = dt.datetime(2026, 1, 1, 8, 0, 0)  # noqa: DTZ001
_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def write_csv(
    path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]], *, encoding: str = "gbk"
) -> None:
    """A CSV as 公安's export writes it: GBK by default, ``\\r\\n`` line ends, every
    value as text."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else str(row[c]) for c in columns])
    _replace(path, buffer.getvalue().encode(encoding))


def write_xlsx(
    path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]], *, sheet: str
) -> None:
    """One sheet, the header in row 1: ID numbers and other text as text cells (never
    numbers, which Excel would round), dates as date cells, money with two decimals."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(list(columns))
    for row in rows:
        ws.append([_cell(ws, row.get(c)) for c in columns])
    wb.properties.creator = "jiayuan-demo"
    wb.properties.created = WORKBOOK_TIME
    out = io.BytesIO()
    wb.save(out)
    _replace(path, _fixed_archive(out.getvalue()))


def _cell(ws: Any, value: Any) -> Any:
    if isinstance(value, dt.date):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    if isinstance(value, Decimal):
        cell = WriteOnlyCell(ws, value=float(value))
        cell.number_format = "0.00"
        return cell
    return value


def _fixed_archive(data: bytes) -> bytes:
    """The workbook with its timestamps and the archive's entry dates fixed."""
    stamp = WORKBOOK_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _STAMP.sub(rb"\g<1>" + stamp + rb"\g<2>", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=WORKBOOK_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, body)
    return out.getvalue()


def write_json_pages(
    directory: Path, records: Sequence[dict[str, Any]], *, page_size: int, prefix: str = "page"
) -> list[Path]:
    """An HTTP API's answers saved page by page (``page-0001.json`` …), as the grid
    centre's interface answers: ``{"code": 0, "message": …, "data": {"items": [...],
    "next": "page-0002.json", …}}`` (``next`` is ``null`` on the last page). The JSON
    connector reads them from ``file://`` addresses as it reads them over HTTP."""
    pages = max(1, -(-len(records) // page_size))
    paths = []
    for n in range(1, pages + 1):
        chunk = records[(n - 1) * page_size : n * page_size]
        body = {
            "code": 0,
            "message": "成功",
            "data": {
                "page": n,
                "page_size": page_size,
                "total": len(records),
                "next": f"{prefix}-{n + 1:04d}.json" if n < pages else None,
                "items": list(chunk),
            },
        }
        path = directory / f"{prefix}-{n:04d}.json"
        text = json.dumps(body, ensure_ascii=False, indent=1, default=_json_default)
        _replace(path, text.encode())
        paths.append(path)
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _replace(path: Path, data: bytes) -> None:
    """Write beside ``path`` and rename into it: a reader never sees half a file, and
    two writers of the same bytes do not disturb each other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
