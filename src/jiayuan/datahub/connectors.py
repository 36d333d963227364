"""Connectors: how the data hub reads a source. Three verbs, the same for every kind:

* ``check()`` — can the source be read at all (the file opens, the interface answers,
  the table exists)? Raises :class:`SourceError` with the reason, else returns.
* ``discover()`` — its columns and the first five rows, to write or check a mapping.
* ``open(state)`` — a :class:`Table`: the columns and an iterator of ``(line, raw row)``
  where the raw row is ``{column: value}`` as read (text from CSV; numbers, dates and
  text from Excel and databases). ``line`` is the spreadsheet row number (header = 1)
  of a file, or the row's position in the read of an interface or table.

Kinds: CSV (UTF-8, UTF-8 with BOM or GB18030, which contains GBK, detected), XLSX
(openpyxl in read-only mode: rows stream, memory stays flat), a folder that agencies
drop files into (the files not yet imported, by SHA-256, are read one by one), a JSON
HTTP interface with paging (a page number or a next link) and an incremental cursor
parameter, and a SQL table (a Django database alias, a PostgreSQL DSN or an SQLite
file) read in cursor order from the last cursor on.

Hostile input — a damaged XLSX, binary junk named .csv, a cell of megabytes, JSON
nested ten thousand deep, an interface that answers HTML — ends in a
:class:`SourceError` in Chinese and English, never in a crash.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import re
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from jiayuan.core.errors import ValidationFailed

from .models import Source, SourceKind, Stream

SAMPLES = 5
MAX_CELL = 100_000  # characters in one CSV cell; a longer one is refused, not truncated
MAX_JSON_BYTES = 50 * 1024 * 1024  # one page of an interface
MAX_PAGES = 100_000
SQL_PAGE = 5000
EXTRA = "…"  # the key under which cells beyond the header are handed on (never dropped)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")

Raw = dict[str, Any]


class SourceError(ValidationFailed):
    """A source that cannot be read (the file, the interface or the table itself)."""

    code = "bad_source"


@dataclass
class Table:
    columns: list[str]
    rows: Iterator[tuple[int, Raw]]
    name: str = ""  # the file read, for the run's report
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for close in self.closers:
            close()


@dataclass(frozen=True)
class Discovery:
    columns: list[str]
    samples: list[dict[str, str]]


def text_of(value: Any) -> str:
    """A raw value as text: what the run report shows and the row digest hashes."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


class Connector:
    """The three verbs; subclasses implement :meth:`open`."""

    def __init__(self, source: Source, stream: Stream | None = None) -> None:
        self.source = source
        self.stream = stream
        self.config: dict[str, Any] = {
            **(source.config or {}),
            **((stream and stream.config) or {}),
        }

    def open(self, state: dict[str, Any] | None = None) -> Table:
        raise TypeError(f"{type(self).__name__} cannot open a table")

    def check(self) -> None:
        table = self.open({})
        try:
            next(table.rows, None)
        finally:
            table.close()

    def discover(self) -> Discovery:
        table = self.open({})
        try:
            samples = []
            for _line, raw in table.rows:
                samples.append({k: text_of(v) for k, v in raw.items()})
                if len(samples) >= SAMPLES:
                    break
        finally:
            table.close()
        return Discovery(columns=table.columns, samples=samples)


# --- files -------------------------------------------------------------------------------
def _clean_headers(values: list[Any], name: str) -> list[str]:
    headers = []
    for i, value in enumerate(values, start=1):
        text = text_of(value).strip().lstrip("\ufeff")
        headers.append(text or f"列{i}")
    while headers and headers[-1].startswith("列") and not text_of(values[len(headers) - 1]):
        headers.pop()  # trailing empty header cells
    seen: set[str] = set()
    for h in headers:
        if h in seen:
            raise SourceError(
                f"{name} 的表头有重复的列名「{h}」", f"{name}: the header repeats column {h!r}"
            )
        seen.add(h)
    if not headers:
        raise SourceError(f"{name} 没有表头行", f"{name} has no header row")
    return headers


def _row(headers: list[str], values: list[Any] | tuple[Any, ...]) -> Raw | None:
    """``{header: value}``; ``None`` for an empty row. Cells past the header are kept
    under :data:`EXTRA` (the mapping refuses such a row with its line)."""
    if not any(v is not None and v != "" for v in values):
        return None
    row: Raw = dict(zip(headers, values, strict=False))
    if len(values) > len(headers):
        extra = [text_of(v) for v in values[len(headers) :] if v is not None and v != ""]
        if extra:
            row[EXTRA] = extra
    return row


class FileConnector(Connector):
    def __init__(self, source: Source, stream: Stream | None, path: Path | str) -> None:
        super().__init__(source, stream)
        self.path = Path(path)

    @property
    def name(self) -> str:
        return self.path.name

    def _exists(self) -> None:
        if not self.path.is_file():
            raise SourceError(f"文件不存在：{self.name}", f"no such file: {self.name}")


def detect_encoding(path: Path, configured: str = "auto") -> str:
    """The encoding of a CSV file: the configured one, else UTF-8 (with or without BOM)
    when the whole file decodes as UTF-8, else GB18030 (a superset of GBK and GB2312)."""
    if configured and configured.lower() not in ("auto", ""):
        try:
            return codecs.lookup(configured).name
        except LookupError:
            raise SourceError(
                f"未知的文件编码 {configured}", f"unknown encoding {configured!r}"
            ) from None
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        f.seek(0)
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


class CsvConnector(FileConnector):
    def open(self, state: dict[str, Any] | None = None) -> Table:
        self._exists()
        with self.path.open("rb") as f:
            head = f.read(65536)
        if head.startswith(b"PK\x03\x04"):
            raise SourceError(
                f"{self.name} 是 Excel 或压缩文件，不是 CSV", f"{self.name} is a zip/XLSX, not CSV"
            )
        if b"\x00" in head:
            raise SourceError(
                f"{self.name} 含有二进制内容，不是文本 CSV 文件",
                f"{self.name} holds binary data, not CSV text",
            )
        encoding = detect_encoding(self.path, str(self.config.get("encoding", "auto")))
        handle = self.path.open(encoding=encoding, newline="")
        reader = csv.reader(handle, delimiter=str(self.config.get("delimiter", ","))[:1] or ",")
        name = self.name
        try:
            headers = _clean_headers(list(next(reader, [])), name)
        except (csv.Error, UnicodeDecodeError) as exc:
            handle.close()
            raise SourceError(
                f"{name} 的表头无法读取（{exc}）", f"{name}: bad header ({exc})"
            ) from exc

        def rows() -> Iterator[tuple[int, Raw]]:
            line = 1
            try:
                width = len(headers)
                for values in reader:
                    line += 1
                    if not any(values):  # text cells: an empty row
                        continue
                    if sum(map(len, values)) > MAX_CELL and max(map(len, values)) > MAX_CELL:
                        raise SourceError(
                            f"{name} 第 {line} 行有超过 {MAX_CELL} 个字符的单元格",
                            f"{name} line {line}: a cell longer than {MAX_CELL} characters",
                        )
                    if len(values) > width:
                        row = _row(headers, values)
                        if row is not None:
                            yield line, row
                    else:
                        yield line, dict(zip(headers, values, strict=False))
            except csv.Error as exc:
                raise SourceError(
                    f"{name} 第 {line + 1} 行无法解析（{exc}）",
                    f"{name} line {line + 1} cannot be parsed ({exc})",
                ) from exc
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"{name} 第 {line + 1} 行附近的编码与前文不一致（{encoding}）",
                    f"{name} near line {line + 1}: not {encoding} like the rest of the file",
                ) from exc
            finally:
                handle.close()

        return Table(headers, rows(), name=name, closers=[handle.close])


class XlsxConnector(FileConnector):
    def open(self, state: dict[str, Any] | None = None) -> Table:
        from openpyxl import load_workbook

        self._exists()
        name = self.name
        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises a dozen kinds on a damaged file
            raise SourceError(
                f"{name} 不是有效的 Excel（xlsx）文件，无法打开",
                f"{name} is not a readable XLSX file ({type(exc).__name__})",
            ) from exc
        try:
            sheet_name = self.config.get("sheet")
            if sheet_name:
                if sheet_name not in book.sheetnames:
                    raise SourceError(
                        f"{name} 没有工作表「{sheet_name}」", f"{name} has no sheet {sheet_name!r}"
                    )
                sheet = book[sheet_name]
            else:
                sheet = book.worksheets[0]
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # some writers declare A1:A1; read what is there
            it = sheet.iter_rows(values_only=True)
            headers = _clean_headers(list(next(it, ())), name)
        except SourceError:
            book.close()
            raise
        except Exception as exc:
            book.close()
            raise SourceError(
                f"{name} 的表头无法读取", f"{name}: unreadable header ({exc})"
            ) from exc

        def rows() -> Iterator[tuple[int, Raw]]:
            line = 1
            try:
                for values in it:
                    line += 1
                    row = _row(headers, values)
                    if row is not None:
                        yield line, row
            except SourceError:
                raise
            except Exception as exc:
                raise SourceError(
                    f"{name} 第 {line + 1} 行无法读取，文件可能已损坏",
                    f"{name} line {line + 1} cannot be read: damaged file ({type(exc).__name__})",
                ) from exc
            finally:
                book.close()

        return Table(headers, rows(), name=name, closers=[book.close])


def file_connector(source: Source, stream: Stream | None, path: Path | str) -> FileConnector:
    """The connector of one file: by its suffix, else by the source's kind."""
    suffix = Path(path).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return XlsxConnector(source, stream, path)
    if suffix in (".csv", ".txt"):
        return CsvConnector(source, stream, path)
    fmt = (source.config or {}).get("format", "")
    if source.kind == SourceKind.XLSX or fmt == "xlsx":
        return XlsxConnector(source, stream, path)
    if source.kind == SourceKind.CSV or fmt == "csv":
        return CsvConnector(source, stream, path)
    with Path(path).open("rb") as f:
        zipped = f.read(4) == b"PK\x03\x04"
    return XlsxConnector(source, stream, path) if zipped else CsvConnector(source, stream, path)


class FolderConnector(Connector):
    """A folder agencies drop files into; the engine imports each file not yet seen."""

    def folder(self) -> Path:
        path = self.config.get("path")
        if not path:
            raise SourceError("目录投放数据源未配置 path", "the folder source has no 'path'")
        folder = Path(path)
        if not folder.is_dir():
            raise SourceError(f"目录不存在：{folder}", f"no such folder: {folder}")
        return folder

    def files(self) -> list[Path]:
        pattern = str(self.config.get("pattern", "*"))
        return sorted(
            p
            for p in self.folder().glob(pattern)
            if p.is_file()
            and not p.name.startswith((".", "~$"))
            and p.suffix not in (".part", ".tmp")
        )

    def check(self) -> None:
        self.folder()

    def discover(self) -> Discovery:
        files = self.files()
        if not files:
            return Discovery(columns=[], samples=[])
        return file_connector(self.source, self.stream, files[-1]).discover()


# --- cursors ------------------------------------------------------------------------------
def cursor_key(value: Any) -> tuple[int, Any]:
    """An order over cursor values of any kind: numbers as numbers, the rest as text."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return (0, float(value))
    text = text_of(value)
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def since_value(cursor: Any, lookback: int) -> Any:
    """Where an incremental read starts: the saved cursor moved back by the look-back
    (seconds for timestamps, units for numbers), so rows that arrived late are read
    again; the row digests make those re-reads "unchanged"."""
    if cursor in (None, "") or not lookback:
        return cursor
    if isinstance(cursor, int | float) and not isinstance(cursor, bool):
        return cursor - lookback
    text = str(cursor)
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return cursor
    back = moment - dt.timedelta(seconds=lookback)
    return back.isoformat(sep="T" if "T" in text else " ")


# --- JSON HTTP ----------------------------------------------------------------------------
def dig(data: Any, path: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; ``data`` itself for an empty path."""
    for part in [p for p in path.split(".") if p]:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def flat(item: dict[str, Any]) -> Raw:
    """An interface's row: nested objects become ``a.b`` columns, lists JSON text."""
    out: Raw = {}
    for key, value in item.items():
        if isinstance(value, dict):
            for sub, inner in flat(value).items():
                out[f"{key}.{sub}"] = inner
        elif isinstance(value, list):
            out[str(key)] = json.dumps(value, ensure_ascii=False)
        else:
            out[str(key)] = value
    return out


class HttpJsonConnector(Connector):
    """A JSON interface read page by page: ``paging.kind`` is ``page`` (a page-number
    parameter, until a page comes back short or empty), ``next`` (the response names
    the next page's address) or ``none``. ``cursor_param`` sends the stream's cursor
    (moved back by its look-back) so only new or changed rows come back."""

    def _url(self, base: str, params: dict[str, Any]) -> str:
        parts = urllib.parse.urlsplit(base)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        query += [(k, text_of(v)) for k, v in params.items() if v not in (None, "")]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def _fetch(self, url: str) -> Any:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https", "file"):
            raise SourceError(f"不支持的接口地址 {url}", f"unsupported address {url}")
        headers = {"Accept": "application/json", **(self.config.get("headers") or {})}
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked
        limit = int(self.config.get("max_bytes", MAX_JSON_BYTES))
        try:
            timeout = float(self.config.get("timeout", 30))
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                body = response.read(limit + 1)
        except urllib.error.HTTPError as exc:
            raise SourceError(
                f"接口返回错误 {exc.code}：{url}", f"the interface answered {exc.code}: {url}"
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SourceError(
                f"无法连接接口 {url}（{exc}）", f"cannot reach the interface {url} ({exc})"
            ) from exc
        if len(body) > limit:
            raise SourceError(
                f"接口一页数据超过 {limit // 1048576} MB", f"one page exceeds {limit} bytes"
            )
        try:
            return json.loads(body)
        except RecursionError:
            raise SourceError(
                "接口数据嵌套过深", "the interface's JSON is nested too deep"
            ) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(
                f"接口返回的不是有效的 JSON（{exc}）", f"the interface did not answer JSON ({exc})"
            ) from exc

    def _items(self, data: Any, url: str) -> list[Raw]:
        items = dig(data, str(self.config.get("items", "")))
        if items is None:
            items = []
        if not isinstance(items, list):
            raise SourceError(
                f"接口数据中 {self.config.get('items')} 不是列表：{url}",
                f"{self.config.get('items')!r} is not a list in {url}",
            )
        out = []
        for item in items:
            if not isinstance(item, dict):
                raise SourceError(f"接口数据的行不是对象：{url}", f"a row is not an object: {url}")
            out.append(flat(item))
        return out

    def pages(self, state: dict[str, Any] | None) -> Iterator[list[Raw]]:
        base = str(self.config.get("url", ""))
        if not base:
            raise SourceError("JSON 接口数据源未配置 url", "the JSON source has no 'url'")
        paging = self.config.get("paging") or {}
        kind = paging.get("kind", "none")
        params: dict[str, Any] = {}
        cursor_param = self.config.get("cursor_param")
        if cursor_param and state and state.get("cursor") not in (None, ""):
            lookback = self.stream.lookback if self.stream else 0
            params[cursor_param] = since_value(state["cursor"], lookback)
        if kind == "page":
            page, size = int(paging.get("start", 1)), int(paging.get("size", 0))
            if size and paging.get("size_param"):
                params[paging["size_param"]] = size
            for _n in range(MAX_PAGES):
                url = self._url(base, {**params, paging.get("param", "page"): page})
                items = self._items(self._fetch(url), url)
                if items:
                    yield items
                if not items or (size and len(items) < size):
                    return
                page += 1
        elif kind == "next":
            url = self._url(base, params)
            visited: set[str] = set()
            for _n in range(MAX_PAGES):
                visited.add(url)
                data = self._fetch(url)
                items = self._items(data, url)
                if items:
                    yield items
                following = dig(data, str(paging.get("next", "next")))
                if not following or not isinstance(following, str):
                    return
                url = urllib.parse.urljoin(url, following)
                if url in visited:
                    raise SourceError(
                        f"接口的下一页地址循环：{url}", f"the next-page links loop: {url}"
                    )
        else:
            url = self._url(base, params)
            yield self._items(self._fetch(url), url)

    def open(self, state: dict[str, Any] | None = None) -> Table:
        pages = self.pages(state)
        first = next(pages, [])
        columns: list[str] = list(dict.fromkeys(k for item in first for k in item))

        def rows() -> Iterator[tuple[int, Raw]]:
            line = 0
            for item in first:
                line += 1
                yield line, item
            for page in pages:
                for item in page:
                    line += 1
                    yield line, item

        return Table(columns, rows(), name=str(self.config.get("url", "")))


# --- SQL ----------------------------------------------------------------------------------
def _quote(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise SourceError(f"表名或列名无效：{name}", f"bad table or column name {name!r}")
    return ".".join(f'"{part}"' for part in name.split("."))


class SqlConnector(Connector):
    """A table of another database: ``config.database`` (a Django alias), ``config.dsn``
    (PostgreSQL) or ``config.sqlite`` (a file); the stream names ``table`` and, for an
    incremental read, its ``cursor_field``. Read in cursor order, a page at a time."""

    def _connect(self) -> tuple[Any, str, Callable[[], None]]:
        if self.config.get("sqlite"):
            path = Path(str(self.config["sqlite"]))
            if not path.is_file():
                raise SourceError(f"数据库文件不存在：{path}", f"no such database file: {path}")
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            return conn.cursor(), "?", conn.close
        if self.config.get("dsn"):
            import psycopg

            try:
                pg = psycopg.connect(str(self.config["dsn"]), connect_timeout=10)
            except psycopg.Error as exc:
                raise SourceError(f"无法连接数据库（{exc}）", f"cannot connect ({exc})") from exc
            pg.read_only = True
            return pg.cursor(), "%s", pg.close
        from django.db import connections

        alias = str(self.config.get("database", "default"))
        if alias not in connections:
            raise SourceError(f"数据库别名 {alias} 不存在", f"no database alias {alias!r}")
        cursor = connections[alias].cursor()
        return cursor, "%s", cursor.close

    def open(self, state: dict[str, Any] | None = None) -> Table:
        table = _quote(str(self.config.get("table", "")))
        cols = self.config.get("columns") or []
        select = ", ".join(_quote(c) for c in cols) if cols else "*"
        cursor_field = self.stream.cursor_field if self.stream else ""
        cursor, mark, close = self._connect()
        where, params = "", []
        if cursor_field:
            order = f" ORDER BY {_quote(cursor_field)}"
            since = since_value(
                (state or {}).get("cursor"), self.stream.lookback if self.stream else 0
            )
            if since not in (None, ""):
                where, params = f" WHERE {_quote(cursor_field)} >= {mark}", [since]
        else:
            order = ""
        sql = f"SELECT {select} FROM {table}{where}{order} LIMIT {SQL_PAGE} OFFSET {{offset}}"  # noqa: S608

        def page(offset: int) -> tuple[list[str], list[Any]]:
            try:
                cursor.execute(sql.format(offset=offset), params)
                names = [d[0] for d in cursor.description or ()]
                return names, list(cursor.fetchall())
            except Exception as exc:  # every driver has its own error classes
                raise SourceError(
                    f"读取数据表失败（{exc}）", f"reading the table failed ({exc})"
                ) from exc

        try:
            columns, first = page(0)
        except SourceError:
            close()
            raise

        def rows() -> Iterator[tuple[int, Raw]]:
            line, offset, batch = 0, 0, first
            try:
                while batch:
                    for values in batch:
                        line += 1
                        yield line, dict(zip(columns, values, strict=False))
                    if len(batch) < SQL_PAGE:
                        return
                    offset += SQL_PAGE
                    batch = page(offset)[1]
            finally:
                close()

        return Table(columns, rows(), name=str(self.config.get("table", "")), closers=[close])


def stream_connector(source: Source, stream: Stream) -> Connector:
    """The connector of a stream whose source is read without a file in hand."""
    if source.kind == SourceKind.HTTP_JSON:
        return HttpJsonConnector(source, stream)
    if source.kind == SourceKind.SQL:
        return SqlConnector(source, stream)
    if source.kind == SourceKind.FOLDER:
        return FolderConnector(source, stream)
    raise SourceError(
        f"数据源 {source.code} 是文件上传类，请提供文件", f"source {source.code} needs a file"
    )


def connector(source: Source, stream: Stream | None, path: Path | str | None = None) -> Connector:
    if path is not None:
        return file_connector(source, stream, path)
    if stream is None:
        raise SourceError("请指定数据流", "name a stream")
    return stream_connector(source, stream)
