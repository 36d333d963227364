"""The import pages: the 数据汇聚 menu for county and street staff only, the source
list with its upload form, a run's report with drift, the rejected rows with their
line, field and reason, the workbook link, text shown as text, fixed query counts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiayuan.datahub import sources
from jiayuan.datahub.models import ImportRun

from .conftest import DictTarget, id_number, person_rows, write_csv


def post_file(client: Any, code: str, name: str, data: bytes) -> Any:
    return client.post(f"/hub/sources/{code}/upload/", {"file": SimpleUploadedFile(name, data)})


@pytest.mark.parametrize(
    ("username", "shown"),
    [("admin", True), ("street", True), ("community", False), ("grid", False)],
)
def test_the_menu_entry_is_for_county_and_street_staff(
    client_as: Any, username: str, shown: bool
) -> None:
    client = client_as(username)
    home = client.get("/").content.decode()
    assert ('data-testid="nav-hub"' in home) is shown
    assert client.get("/hub/").status_code == (200 if shown else 403)
    assert client.get("/hub/runs/").status_code == (200 if shown else 403)


def test_the_source_list_shows_the_shipped_sources_with_upload_forms(client_as: Any) -> None:
    sources.sync()
    page = client_as("admin").get("/hub/").content.decode()
    for code in ("gongan-huji", "minzheng-jiuzhu", "canlian-canji", "wangge-caiji"):
        assert f'data-source="{code}"' in page
    assert 'data-testid="upload-gongan-huji"' in page and 'accept=".csv,.txt"' in page
    assert 'data-testid="upload-wangge-caiji"' not in page  # read on its schedule


def test_upload_report_and_rejects(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    # given a file with a bad ID number and a name that is markup
    make_stream()
    bad = id_number(4)[:17] + ("1" if id_number(4)[17] != "1" else "2")
    rows = [*person_rows(2), [bad, "<script>alert(1)</script>", "男", "", ""]]
    client = client_as("admin")

    # when it is uploaded through the page
    response = post_file(
        client, "test-huji", "户籍<i>.csv", write_csv(tmp_path / "a.csv", rows).read_bytes()
    )

    # then the run report shows the counters and the first rejected row
    run = ImportRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/hub/runs/{run.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "read 3, inserted 2, updated 0, unchanged 0, rejected 1" in page
    assert "身份证号码校验位错误" in page and bad not in page
    assert "户籍&lt;i&gt;.csv" in page and "户籍<i>" not in page
    rejects = client.get(f"/hub/runs/{run.pk}/rejects/").content.decode()
    assert re.search(
        r'data-line="4".*?公民身份号码.*?id_number.*?身份证号码校验位错误', rejects, re.S
    )
    assert f"/hub/runs/{run.pk}/rejects.xlsx" in rejects
    download = client.get(f"/hub/runs/{run.pk}/rejects.xlsx")
    assert download.status_code == 200 and download.content.startswith(b"PK")
    # and the source list names the run as the stream's last
    assert f'href="/hub/runs/{run.pk}/"' in client.get("/hub/").content.decode()


def test_a_paused_run_shows_its_drift(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    make_stream()
    header = ["身份证", "姓名", "性别", "出生日期", "现住址"]
    data = write_csv(tmp_path / "a.csv", person_rows(2), header=header).read_bytes()
    client = client_as("admin")
    post_file(client, "test-huji", "a.csv", data)
    run = ImportRun.objects.get()
    page = client.get(f"/hub/runs/{run.pk}/").content.decode()
    assert 'data-testid="run-drift"' in page and "数据流已暂停" in page
    assert "公民身份号码" in page and "身份证" in page
    assert "已暂停" in client.get("/hub/").content.decode()


def test_an_upload_without_permission_is_refused(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    make_stream()
    data = write_csv(tmp_path / "a.csv", person_rows(1)).read_bytes()
    assert post_file(client_as("community"), "test-huji", "a.csv", data).status_code == 403
    assert not ImportRun.objects.exists()


def test_a_bad_file_shows_the_reason_not_a_crash(
    target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    make_stream(kind="xlsx")
    response = post_file(client_as("admin"), "test-huji", "a.xlsx", b"PK\x03\x04junk")
    assert response.status_code == 422
    assert "Excel" in response.content.decode()


def test_the_pages_cost_the_same_for_few_runs_and_many(
    tmp_path: Path, target: DictTarget, make_stream: Any, client_as: Any
) -> None:
    client = client_as("admin")

    def grow(n: int, tag: str) -> int:
        for i in range(n):
            make_stream(code=f"page-{tag}-{i}")
            rows = [[f"bad{j}", "x", "", "", ""] for j in range(n)] + person_rows(1, start=i)
            post_file(
                client, f"page-{tag}-{i}", "a.csv", write_csv(tmp_path / "a.csv", rows).read_bytes()
            )
        return ImportRun.objects.order_by("-pk").values_list("pk", flat=True)[0]

    def counts(run: int) -> list[int]:
        out = []
        for url in ("/hub/", "/hub/runs/", f"/hub/runs/{run}/", f"/hub/runs/{run}/rejects/"):
            client.get(url)
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    before = counts(grow(2, "a"))
    last = grow(12, "b")
    assert ImportRun.objects.get(pk=last).rejected == 12
    assert counts(last) == before
