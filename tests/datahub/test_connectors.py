"""Connectors: CSV in every encoding agencies send, XLSX cells as typed values, a JSON
interface with both kinds of paging and an incremental cursor (served by a local
server), SQL names checked, and hostile input ending in a bilingual SourceError."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from jiayuan.datahub.connectors import (
    EXTRA,
    CsvConnector,
    HttpJsonConnector,
    SourceError,
    SqlConnector,
    XlsxConnector,
    detect_encoding,
    since_value,
)
from jiayuan.datahub.models import Source, Stream

from .conftest import HEADER, id_number, person_rows, write_csv


def source(kind: str = "csv", **config: Any) -> Source:
    return Source(code="t", name="t", kind=kind, config=config)  # unsaved: connectors read config


def rows_of(connector: Any, state: Any = None) -> list[tuple[int, dict[str, Any]]]:
    table = connector.open(state or {})
    try:
        return list(table.rows)
    finally:
        table.close()


@pytest.mark.parametrize(("encoding", "expected"), [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030"),
])  # fmt: skip
def test_csv_in_each_encoding_reads_the_same(tmp_path: Path, encoding: str, expected: str) -> None:
    rows = [
        *person_rows(3),
        [id_number(9), "龔鑫𠀀" if encoding != "gbk" else "龚鑫", "女", "", "x"],
    ]
    path = write_csv(tmp_path / "a.csv", rows, encoding=encoding)
    assert detect_encoding(path) == expected
    read = rows_of(CsvConnector(source(), None, path))
    assert [line for line, _ in read] == [2, 3, 4, 5]
    assert read[3][1]["姓名"] == rows[3][1] and list(read[0][1]) == HEADER


def test_csv_discover_gives_columns_and_five_samples(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", person_rows(8))
    found = CsvConnector(source(), None, path).discover()
    assert found.columns == HEADER and len(found.samples) == 5
    assert found.samples[0]["姓名"] == "居民0"


def test_csv_keeps_cells_beyond_the_header_and_skips_empty_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n1,2\n\n,\n3,4,5\n", encoding="utf-8")
    read = rows_of(CsvConnector(source(), None, path))
    assert read == [(2, {"a": "1", "b": "2"}), (5, {"a": "3", "b": "4", EXTRA: ["5"]})]


@pytest.mark.parametrize(
    ("content", "word"),
    [
        (b"\x00\x01\x02\x03binary" * 100, "二进制"),
        (b"PK\x03\x04rest of a zip", "Excel"),
        (b"a,a\n1,2\n", "重复"),
        (b"", "表头"),
        (b"a,b\n" + b"x" * 200_000 + b",1\n", "第 2 行"),
    ],
)
def test_hostile_csv_is_a_bilingual_error(tmp_path: Path, content: bytes, word: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    conn = CsvConnector(source(), None, path)
    with pytest.raises(SourceError) as caught:
        rows_of(conn)
    assert word in caught.value.zh and caught.value.en


def test_xlsx_cells_arrive_typed_and_ids_as_text(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "名册"
    sheet.append(["身份证号", "姓名", "起始日期", "月保障金额"])
    sheet.append([id_number(1), "张三", dt.datetime(2025, 1, 3), 812.5])
    sheet.append([None, None, None, None])
    sheet.append([id_number(2), "李四", 45000, 700])
    path = tmp_path / "a.xlsx"
    book.save(path)
    conn = XlsxConnector(source("xlsx"), Stream(config={"sheet": "名册"}), path)
    read = rows_of(conn)
    assert [line for line, _ in read] == [2, 4]
    assert read[0][1] == {
        "身份证号": id_number(1), "姓名": "张三", "起始日期": dt.datetime(2025, 1, 3),
        "月保障金额": 812.5,
    }  # fmt: skip
    with pytest.raises(SourceError) as caught:
        rows_of(XlsxConnector(source("xlsx"), Stream(config={"sheet": "别的"}), path))
    assert "别的" in caught.value.zh


@pytest.mark.parametrize("content", [b"PK\x03\x04broken", b"plain text", b"PK" + b"\x00" * 5000])
def test_a_broken_xlsx_is_a_bilingual_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    with pytest.raises(SourceError) as caught:
        rows_of(XlsxConnector(source("xlsx"), None, path))
    assert "Excel" in caught.value.zh and "XLSX" in caught.value.en


# --- a JSON interface -------------------------------------------------------------------
RESIDENTS = [
    {"id_card": id_number(i), "name": f"居民{i}", "updated_at": f"2026-11-0{1 + i // 3}T10:00:00",
     "extra": {"grid": f"G{i}"}}
    for i in range(7)
]  # fmt: skip


class Api(BaseHTTPRequestHandler):
    requests: list[dict[str, list[str]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        Api.requests.append(query)
        since = query.get("updated_since", [""])[0]
        items = [r for r in RESIDENTS if r["updated_at"] >= since]
        if url.path == "/paged":
            page, size = int(query["page"][0]), int(query["page_size"][0])
            body: Any = {"data": {"items": items[(page - 1) * size : page * size]}}
        elif url.path == "/linked":
            offset = int(query.get("offset", ["0"])[0])
            chunk = items[offset : offset + 3]
            following = f"/linked?offset={offset + 3}" if offset + 3 < len(items) else None
            if since and following:
                following += f"&updated_since={since}"
            body = {"data": {"items": chunk, "next": following}}
        elif url.path == "/deep":
            self._send(200, b"[" * 100_000 + b"]" * 100_000)
            return
        elif url.path == "/html":
            self._send(200, b"<html>login</html>")
            return
        elif url.path == "/loop":
            body = {"data": {"items": items[:1], "next": "/loop"}}
        else:
            self._send(500, b"oops")
            return
        self._send(200, json.dumps(body).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def http(url: str, lookback: int = 0, **config: Any) -> HttpJsonConnector:
    stream = Stream(cursor_field="updated_at", lookback=lookback)
    return HttpJsonConnector(source("http_json", url=url, items="data.items", **config), stream)


def test_page_paging_reads_every_page_until_a_short_one(api: str) -> None:
    Api.requests.clear()
    paging = {"kind": "page", "param": "page", "size_param": "page_size", "size": 3}
    read = rows_of(http(f"{api}/paged", paging=paging))
    assert [r["id_card"] for _, r in read] == [r["id_card"] for r in RESIDENTS]
    assert [line for line, _ in read] == list(range(1, 8))
    assert read[0][1]["extra.grid"] == "G0"  # nested objects flattened
    assert [q["page"] for q in Api.requests] == [["1"], ["2"], ["3"]]


def test_next_links_and_the_cursor_with_look_back(api: str) -> None:
    Api.requests.clear()
    conn = http(f"{api}/linked", lookback=86400, paging={"kind": "next", "next": "data.next"},
                cursor_param="updated_since")  # fmt: skip
    read = rows_of(conn, {"cursor": "2026-11-03T10:00:00"})
    # one day of look-back: from 2026-11-02T10:00:00 on
    assert Api.requests[0]["updated_since"] == ["2026-11-02T10:00:00"]
    assert [r["name"] for _, r in read] == [f"居民{i}" for i in range(3, 7)]
    assert len(Api.requests) == 2


def test_the_look_back_of_numbers_and_times() -> None:
    assert since_value(100, 10) == 90
    assert since_value("2026-11-03 10:00:00", 3600) == "2026-11-03 09:00:00"
    assert since_value("v7", 10) == "v7"
    assert since_value(None, 10) is None


@pytest.mark.parametrize(
    ("path", "word"),
    [("/deep", "嵌套"), ("/html", "JSON"), ("/error", "500"), ("/loop", "循环")],
)
def test_a_hostile_interface_is_a_bilingual_error(api: str, path: str, word: str) -> None:
    conn = http(f"{api}{path}", paging={"kind": "next", "next": "data.next"})
    with pytest.raises(SourceError) as caught:
        rows_of(conn)
    assert word in caught.value.zh and caught.value.en


def test_an_unreachable_interface_or_a_strange_scheme_is_a_bilingual_error() -> None:
    for url in ("http://127.0.0.1:9/none", "ftp://example.org/x", "gopher://x"):
        with pytest.raises(SourceError):
            rows_of(http(url))


def test_an_interface_saved_as_files_reads_by_file_address(tmp_path: Path) -> None:
    (tmp_path / "p1.json").write_text(
        json.dumps({"data": {"items": RESIDENTS[:2], "next": "p2.json"}})
    )
    (tmp_path / "p2.json").write_text(json.dumps({"data": {"items": RESIDENTS[2:3]}}))
    read = rows_of(
        http((tmp_path / "p1.json").as_uri(), paging={"kind": "next", "next": "data.next"})
    )
    assert len(read) == 3


@pytest.mark.parametrize("table", ["residents; DROP TABLE x", "a b", "", "1abc"])
def test_sql_names_are_checked(tmp_path: Path, table: str) -> None:
    db = tmp_path / "x.sqlite3"
    import sqlite3

    sqlite3.connect(db).close()
    conn = SqlConnector(source("sql", sqlite=str(db)), Stream(config={"table": table}))
    with pytest.raises(SourceError):
        rows_of(conn)


def test_an_interface_stream_imports_incrementally_and_an_empty_answer_is_no_drift(
    api: str, target: Any, make_stream: Any
) -> None:
    from jiayuan.datahub import engine

    mapping = [
        {"column": "id_card", "field": "id_number"},
        {"column": "name", "field": "name"},
        {"column": "updated_at", "ignore": True},
        {"column": "extra.grid", "ignore": True},
    ]
    config = {
        "url": f"{api}/linked", "items": "data.items", "cursor_param": "updated_since",
        "paging": {"kind": "next", "next": "data.next"},
    }  # fmt: skip
    stream = make_stream(kind="http_json", mapping=mapping, config=config,
                         cursor_field="updated_at", lookback=0)  # fmt: skip

    first = engine.sync(stream)[0]
    assert first.report_line() == "read 7, inserted 7, updated 0, unchanged 0, rejected 0"
    stream.refresh_from_db()
    assert stream.state["cursor"] == "2026-11-03T10:00:00"

    # the next read asks from the cursor on: the last row again (unchanged by digest)
    second = engine.sync(stream)[0]
    assert second.report_line() == "read 1, inserted 0, updated 0, unchanged 1, rejected 0"

    # an interface with nothing new answers an empty page: a quiet run, not schema drift
    stream.state = {"cursor": "2099-01-01T00:00:00"}
    stream.save()
    quiet = engine.sync(stream)[0]
    assert (quiet.status, quiet.read, quiet.drift) == ("succeeded", 0, {})
    stream.refresh_from_db()
    assert not stream.paused_reason
