"""The import API: who may import (a matrix), the run report, rejected rows as JSON and
as the 问题数据 workbook (masked, or revealed with the permission and audited), 4xx
bilingual errors for bad uploads, and query counts that do not grow with rows."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from jiayuan.core.models import AuditEntry
from jiayuan.datahub import uploads
from jiayuan.datahub.models import ImportRun

from .conftest import DictTarget, id_number, person_rows, write_csv

BASE = "/api/v1/hub"


def upload(client: Any, code: str, name: str, data: bytes, **form: str) -> Any:
    return client.post(
        f"{BASE}/sources/{code}/runs", {"file": SimpleUploadedFile(name, data), **form}
    )


def csv_bytes(tmp_path: Path, rows: list[list[str]]) -> bytes:
    return write_csv(tmp_path / "f.csv", rows).read_bytes()


@pytest.mark.parametrize(
    ("username", "status"),
    [("admin", 201), ("street", 201), ("community", 403), ("grid", 403), ("resident", 403),
     (None, 401)],
)  # fmt: skip
def test_who_may_import(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any, username: Any, status: int
) -> None:
    make_stream()
    response = upload(
        client_as(username), "test-huji", "a.csv", csv_bytes(tmp_path, person_rows(2))
    )
    assert response.status_code == status, response.content
    if status >= 400:
        assert "/" in response.json()["message"]  # Chinese / English
        assert not ImportRun.objects.exists() or status == 201
    for path in ("/sources", "/runs"):
        assert client_as(username).get(BASE + path).status_code == (
            200 if status == 201 else status
        )


def test_an_upload_gives_the_run_report_and_its_rejects(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    # given a file with one bad ID number
    make_stream()
    bad = id_number(9)[:17] + ("1" if id_number(9)[17] != "1" else "2")
    rows = [*person_rows(2), [bad, "错号", "男", "1980-01-01", ""]]
    admin = client_as("admin")

    # when it is uploaded
    response = upload(admin, "test-huji", "户籍.csv", csv_bytes(tmp_path, rows), as_of="2026-11-30")

    # then the run report comes back
    assert response.status_code == 201, response.content
    run = response.json()
    assert run["report"] == "read 3, inserted 2, updated 0, unchanged 0, rejected 1"
    assert (run["source"], run["stream"], run["status"], run["file_name"]) == (
        "test-huji", "persons", "succeeded", "户籍.csv",
    )  # fmt: skip
    assert run["as_of"] == "2026-11-30" and run["status_label"] == "已完成"
    assert admin.get(f"{BASE}/runs/{run['id']}").json()["inserted"] == 2

    rejects = admin.get(f"{BASE}/runs/{run['id']}/rejects").json()
    assert rejects["count"] == 1
    assert rejects["items"][0] == {
        "line": 4, "field": "id_number", "column": "公民身份号码", "code": "invalid_id_number",
        "reason": "身份证号码校验位错误",
        "reason_en": "the check character of the ID number is wrong",
        "raw_value": bad[:6] + "********" + bad[-4:],
    }  # fmt: skip
    # the same file again is a no-op run
    again = upload(admin, "test-huji", "户籍.csv", csv_bytes(tmp_path, rows)).json()
    assert again["report"] == "read 3, inserted 0, updated 0, unchanged 3, rejected 0"
    listed = admin.get(f"{BASE}/sources").json()
    (source,) = [s for s in listed if s["code"] == "test-huji"]
    assert source["streams"][0]["last_run"]["id"] == again["id"]


def test_the_rejects_workbook_is_masked_text_unless_revealed_with_audit(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    make_stream()
    good = id_number(3)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    admin = client_as("admin")
    run = upload(admin, "test-huji", "a.csv", csv_bytes(tmp_path, [[bad, "错号", "男", "", ""]]))
    run_id = run.json()["id"]

    masked = admin.get(f"{BASE}/runs/{run_id}/rejects.xlsx")
    assert masked.status_code == 200
    assert masked["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(masked.content)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:6] == ["行号", "字段", "列名", "问题代码", "原因", "原始值"]
    assert rows[0][7:] == ["公民身份号码", "姓名", "性别", "出生日期", "现住址"]
    assert rows[1][0] == "2" and rows[1][1] == "id_number"
    assert rows[1][5] == rows[1][7] == bad[:6] + "********" + bad[-4:]
    assert sheet.cell(row=2, column=8).number_format == "@"
    assert bad not in masked.content.decode("latin-1")

    before = AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL).count()
    clear = admin.get(f"{BASE}/runs/{run_id}/rejects.xlsx", {"reveal": "true"})
    rows = [
        [c.value for c in row]
        for row in load_workbook(io.BytesIO(clear.content)).active.iter_rows()
    ]
    assert rows[1][5] == rows[1][7] == bad  # exact: text, not a float
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL).count() == before + 1


def test_revealing_needs_the_permission(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    # given a grid-worker role held at a street: may import, may not reveal
    from django.contrib.auth import get_user_model

    from jiayuan.org.models import Area, Membership

    make_stream()
    street = Area.objects.filter(kind="street").order_by("path").first()
    user = get_user_model().objects.create_user("hub-operator", password="x")
    Membership.objects.create(user=user, area=street, role="grid_worker")
    client = client_as("hub-operator")
    run_id = upload(client, "test-huji", "a.csv", csv_bytes(tmp_path, person_rows(1))).json()["id"]
    assert client.get(f"{BASE}/runs/{run_id}/rejects.xlsx").status_code == 200
    assert client.get(f"{BASE}/runs/{run_id}/rejects.xlsx", {"reveal": "true"}).status_code == 403


@pytest.mark.parametrize(
    ("code", "name", "data", "status", "error"),
    [
        ("no-such-source", "a.csv", b"x", 404, "not_found"),
        ("test-huji", "a.pdf", b"%PDF-1.4", 422, "validation_error"),
        ("test-huji", "a.csv", b"", 422, "validation_error"),
        ("test-huji", "a.csv", b"\x00\x01\x02binary\xff" * 50, 422, "bad_source"),
        ("test-xlsx", "a.xlsx", b"PK\x03\x04broken", 422, "bad_source"),
        ("test-xlsx", "a.xlsx", b"not even a zip", 422, "bad_source"),
    ],
)
def test_bad_uploads_are_4xx_with_bilingual_messages(
    target: DictTarget, make_stream: Any, client_as: Any,
    code: str, name: str, data: bytes, status: int, error: str,
) -> None:  # fmt: skip
    make_stream()
    make_stream(code="test-xlsx", kind="xlsx")
    response = upload(client_as("admin"), code, name, data)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == error and " / " in body["message"], body


def test_an_oversized_upload_is_413(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any, monkeypatch: Any
) -> None:
    make_stream()
    monkeypatch.setattr(uploads, "MAX_UPLOAD", 100)
    response = upload(client_as("admin"), "test-huji", "a.csv", csv_bytes(tmp_path, person_rows(5)))
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not ImportRun.objects.exists()


def test_unknown_runs_are_404(client_as: Any) -> None:
    response = client_as("admin").get(f"{BASE}/runs/999999")
    assert response.status_code == 404


def _count(client: Any, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_hub_lists_cost_the_same_for_few_rows_and_many(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    # The hub routes are declared in tests/api/test_query_counts.py's NOT_GUARDED: its
    # growth helper grows the residents' world, this test grows sources, runs, rejects.
    admin = client_as("admin")

    def grow(n: int, tag: str) -> int:
        for i in range(n):
            make_stream(code=f"grow-{tag}-{i}")
            rows = [[f"bad{j}", "x", "", "", ""] for j in range(n)] + person_rows(1, start=i)
            upload(admin, f"grow-{tag}-{i}", "a.csv", csv_bytes(tmp_path, rows))
        return ImportRun.objects.order_by("-pk").values_list("pk", flat=True)[0]

    def urls(run: int) -> list[str]:
        return [f"{BASE}/sources", f"{BASE}/runs?limit=100", f"{BASE}/runs/{run}/rejects?limit=100",
                f"{BASE}/runs/{run}", f"{BASE}/runs/{run}/rejects.xlsx"]  # fmt: skip

    before = [_count(admin, url) for url in urls(grow(2, "a"))]
    last = grow(12, "b")
    after = [_count(admin, url) for url in urls(last)]
    assert len(admin.get(f"{BASE}/runs/{last}/rejects?limit=100").json()["items"]) == 12
    assert len(admin.get(f"{BASE}/sources").json()) >= 14
    assert after == before


def test_a_large_upload_is_imported_by_a_worker(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any, monkeypatch: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    # given uploads over 100 bytes go to the worker (run here by Huey's immediate mode)
    from huey.contrib.djhuey import HUEY

    make_stream()
    monkeypatch.setattr(uploads, "INLINE_BYTES", 100)
    monkeypatch.setattr(HUEY, "immediate", True)
    admin = client_as("admin")
    data = csv_bytes(tmp_path, person_rows(30))

    # when a file is uploaded, the answer comes before the import
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = upload(admin, "test-huji", "big.csv", data)
    assert response.status_code == 202
    run = response.json()
    assert (run["status"], run["read"], run["file_name"]) == ("running", 0, "big.csv")
    for callback in callbacks:
        callback()

    # then the worker imports it into the same run
    assert len(callbacks) == 1
    done = admin.get(f"{BASE}/runs/{run['id']}").json()
    assert done["status"] == "succeeded"
    assert done["report"] == "read 30, inserted 30, updated 0, unchanged 0, rejected 0"
    assert ImportRun.objects.count() == 1


def test_a_large_broken_file_is_refused_at_once(
    target: DictTarget, make_stream: Any, client_as: Any, monkeypatch: Any
) -> None:
    make_stream(kind="xlsx")
    monkeypatch.setattr(uploads, "INLINE_BYTES", 10)
    response = upload(client_as("admin"), "test-huji", "a.xlsx", b"PK\x03\x04" + b"x" * 500)
    assert response.status_code == 422
    assert not ImportRun.objects.exists()
