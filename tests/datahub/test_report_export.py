"""The Excel export is the screen table, cell for cell: re-read with openpyxl and compared
with the API's JSON; and it opens cleanly in LibreOffice (converted to PDF, one page
wide, the title on the page)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.datahub.reports import export, query

pytestmark = pytest.mark.django_db
BASE = "/api/v1"
TOP = export.TITLE_ROWS  # rows above the header in the sheet


def client(username: str) -> Client:
    c = Client()
    c.force_login(get_user_model().objects.get(username=username))
    return c


def screen_and_file(code: str, username: str = "community") -> tuple[dict[str, Any], Any]:
    c = client(username)
    template = c.get(f"{BASE}/reports/templates/{code}").json()
    spec = {**template["spec"], "title": template["name"]}
    screen = c.post(f"{BASE}/reports/query", json.dumps(spec), content_type="application/json")
    assert screen.status_code == 200, screen.content
    response = c.get(f"{BASE}/reports/templates/{code}/export.xlsx")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    data = b"".join(response.streaming_content)
    return screen.json(), openpyxl.load_workbook(io.BytesIO(data)).active


@pytest.mark.parametrize("code", ["renkou-nianling", "teshu-renqun", "shequ-jiben"])
def test_the_file_matches_the_screen_cell_for_cell(code: str) -> None:
    # given the screen table (API JSON) and the exported file of the same template
    table, sheet = screen_and_file(code)

    # then the title, every header cell and its merge, and every body cell agree
    assert sheet.cell(1, 1).value == table["title"]
    merges = {str(r) for r in sheet.merged_cells.ranges}
    for header_row in table["header"]:
        for c in header_row:
            row, col = TOP + c["row"] + 1, c["col"] + 1
            assert sheet.cell(row, col).value == c["text"]
            if c["rowspan"] > 1 or c["colspan"] > 1:
                last = sheet.cell(row + c["rowspan"] - 1, col + c["colspan"] - 1).coordinate
                assert f"{sheet.cell(row, col).coordinate}:{last}" in merges
    body = TOP + len(table["header"]) + 1
    for i, line in enumerate(table["rows"]):
        got = [sheet.cell(body + i, j + 1).value for j in range(table["width"])]
        assert [v if v is not None else "" for v in got] == line["cells"], i
    assert sheet.max_row == body + len(table["rows"]) - 1
    assert sheet.max_column == table["width"]
    assert table["rows"][-1]["cells"][0] == "合计"


def test_labels_are_text_numbers_are_formatted_and_the_page_is_set_up() -> None:
    # given a table whose labels look like numbers (an ID number, a code)
    table = query.Table(
        title="测试表",
        subtitle="人数",
        header=[[{"text": "身份证号", "row": 0, "col": 0, "rowspan": 2, "colspan": 1},
                 {"text": "金额", "row": 0, "col": 1, "rowspan": 1, "colspan": 2}],
                [{"text": "人数", "row": 1, "col": 1, "rowspan": 1, "colspan": 1},
                 {"text": "金额", "row": 1, "col": 2, "rowspan": 1, "colspan": 1}]],
        rows=[{"kind": "data", "cells": ["370830198001011234", 1234, 5678.5]},
              {"kind": "total", "cells": ["合计", 1234, 5678.5]}],
        width=3,
        label_columns=1,
        decimals=[0, 0, 2],
    )  # fmt: skip
    out = io.BytesIO()

    # when
    export.write(table, out)

    # then
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    id_cell = sheet.cell(TOP + 3, 1)
    assert id_cell.value == "370830198001011234" and id_cell.data_type == "s"
    assert sheet.cell(TOP + 3, 2).number_format == "#,##0"
    assert sheet.cell(TOP + 3, 3).number_format == "#,##0.00"
    assert sheet.cell(TOP + 3, 3).value == 5678.5
    assert {str(r) for r in sheet.merged_cells.ranges} >= {"A3:A4", "B3:C3"}
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9  # A4
    assert sheet.sheet_properties.pageSetUpPr.fitToPage
    assert int(sheet.page_setup.fitToWidth or 1) == 1 and int(sheet.page_setup.fitToHeight) == 0
    assert sheet.print_title_rows == "$3:$4"


@pytest.mark.browser
def test_the_file_opens_in_libreoffice_one_page_wide(tmp_path: Path) -> None:
    # given a wide report (gender × age band, 17 columns) for the whole county, made
    # tall by repeating its rows so it needs several pages
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is installed by `make browser-deps` (libreoffice-calc-nogui)"
    admin = get_user_model().objects.get(username="admin")
    spec = {"dataset": "persons", "rows": ["community", "grid"],
            "columns": ["gender", "age_band"], "title": "人口年龄结构统计表"}  # fmt: skip
    table = query.run(spec, admin)
    table.rows = table.rows * 12
    xlsx = tmp_path / "report.xlsx"
    export.write(table, str(xlsx))

    # when LibreOffice converts it to PDF
    subprocess.run(
        [soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    pdf = tmp_path / "report.pdf"
    assert pdf.exists()

    # then every page is A4 landscape and holds the whole width: the repeated header
    # with its first and last columns, and the title on the first page
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(next(ln for ln in info.stdout.splitlines() if ln.startswith("Pages:")).split()[1])
    assert "841.89 x 595.3" in info.stdout  # A4 landscape, in points
    assert pages >= 2
    for page in range(1, pages + 1):
        text = subprocess.run(
            ["pdftotext", "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert "社区" in text and "80岁及以上" in text and "合计" in text, page
        if page == 1:
            assert "人口年龄结构统计表" in text
    # one page wide: as many pages as the rows need, not twice as many for the width
    assert pages <= len(table.rows) // 20 + 1
