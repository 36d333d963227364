"""Bulk import of 12345 hotline orders (acceptance 7): good rows in, every bad row
reported by line and field, nothing imported twice, CSV and XLSX alike."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from jiayuan.cases.choices import Channel, Status
from jiayuan.cases.importer import import_hotline, parse_mapping
from jiayuan.cases.models import Case
from jiayuan.core.errors import ValidationFailed
from jiayuan.org.models import Area

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
HEADERS = [
    "工单编号",
    "来电时间",
    "来电人",
    "联系电话",
    "诉求类别",
    "诉求内容",
    "地址",
    "经度",
    "纬度",
]


def rows_for(grid: Area, other: Area) -> list[list[Any]]:
    lng, lat = grid.centroid_lng, grid.centroid_lat
    return [
        # line 2: good, by category code
        ["GD20261101001", "2026-11-02 09:15:00", "张先生", "13912345678", "0201",
         "小区门口垃圾桶满了没人清", "幸福路1号", lng, lat],
        # line 3: unknown category
        ["GD20261101002", "2026-11-02 09:20:00", "李女士", "13912345679", "外星人入侵",
         "楼顶有奇怪的光", "幸福路2号", lng, lat + 0.001],
        # line 4: good, by category path, landline, no address
        ["GD20261101003", "2026/11/02 10:05", "王大爷", "0537-7212345", "物业服务/电梯故障",
         "3号楼电梯停在5楼不动", "", lng + 0.001, lat],
        # line 5: missing content
        ["GD20261101004", "2026-11-02 10:30:00", "赵女士", "13912345670", "0202", "",
         "幸福路3号", lng, lat - 0.001],
        # line 6: bad phone
        ["GD20261101005", "2026-11-02 11:00:00", "钱先生", "12345", "0401",
         "楼上装修噪音太大", "幸福路4号", lng - 0.001, lat],
        # line 7: outside the county (Beijing)
        ["GD20261101006", "2026-11-02 11:30:00", "孙女士", "13912345671", "0201",
         "垃圾没人清运", "北京市东城区", 116.397, 39.909],
        # line 8: good, in another grid, by category name
        ["GD20261101007", "2026-11-02 14:00:00", "周先生", "13912345672", "噪音扰民",
         "夜里广场舞音响太吵", "", other.centroid_lng, other.centroid_lat],
        # line 9: two problems at once: no order number and an unreadable time
        ["", "昨天下午", "吴女士", "", "0201", "垃圾没人清运", "", lng, lat + 0.002],
    ]  # fmt: skip


def write_csv(
    path: Path, rows: list[list[Any]], headers: list[str] = HEADERS, enc: str = "utf-8-sig"
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(enc))
    return path


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


@pytest.fixture
def orders(own_grid: Area, other_grid: Area) -> list[list[Any]]:
    return rows_for(own_grid, other_grid)


def by_line(report: Any) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for error in report.errors:
        found.setdefault(error.line, set()).add(error.field)
    return found


BAD = {3: {"category"}, 5: {"description"}, 6: {"reporter_phone"}, 7: {"location"},
       9: {"source_ref", "received_at"}}  # fmt: skip


def test_csv_with_bad_rows_imports_the_good_rows_and_reports_each_bad_row(
    tmp_path: Path, orders: list[list[Any]], own_grid: Area, other_grid: Area
) -> None:
    # when
    report = import_hotline(write_csv(tmp_path / "orders.csv", orders))
    # then every bad row is named with its line and field
    assert by_line(report) == BAD
    assert report.counts == {"total": 8, "imported": 3, "skipped": 0, "failed": 5}
    messages = {e.line: str(e) for e in report.errors if e.field != "received_at"}
    assert messages[3].startswith(
        "第 3 行「诉求类别」：未知的诉求类别「外星人入侵」 / line 3, category"
    )
    assert "「诉求内容」：诉求内容为空" in messages[5]
    assert (
        "「联系电话」：电话号码格式不正确" in messages[6]
        and "line 6, reporter_phone" in messages[6]
    )
    assert "「经度/纬度」" in messages[7] and "outside every grid" in messages[7]
    # and the good rows are cases like any other: numbered, located, dispatched
    imported = {c.source_ref: c for c in Case.objects.filter(channel=Channel.HOTLINE)}
    assert set(imported) >= {"GD20261101001", "GD20261101003", "GD20261101007"}
    first = imported["GD20261101001"]
    assert first.received_at == dt.datetime(2026, 11, 2, 9, 15, tzinfo=TZ)
    assert (first.grid, first.category.code, first.status) == (own_grid, "0201", Status.DISPATCHED)
    assert (
        first.reporter_phone_masked == "139****5678"
        and "13912345678" not in first.reporter_phone_enc
    )
    assert imported["GD20261101003"].category.name == "电梯故障"
    assert imported["GD20261101007"].grid == other_grid
    assert imported["GD20261101007"].category.code == "0401"
    assert sorted(report.imported) == sorted(
        c.number
        for c in imported.values()
        if c.source_ref in {"GD20261101001", "GD20261101003", "GD20261101007"}
    )


def test_reimporting_skips_orders_already_in_and_loses_nothing(
    tmp_path: Path, orders: list[list[Any]]
) -> None:
    path = write_csv(tmp_path / "orders.csv", orders)
    import_hotline(path)
    before = Case.objects.count()
    # when the same file (now with line 3 fixed) comes again
    orders[1][4] = "0201"
    report = import_hotline(write_csv(tmp_path / "again.csv", orders))
    # then the three known orders are skipped, the fixed one imported, the rest reported
    assert report.counts == {"total": 8, "imported": 1, "skipped": 3, "failed": 4}
    assert [line for line, _ref in report.skipped] == [2, 4, 8]
    assert Case.objects.count() == before + 1
    counts = report.counts
    assert counts["imported"] + counts["skipped"] + counts["failed"] == counts["total"]


def test_the_same_order_twice_in_one_file_is_imported_once(
    tmp_path: Path, orders: list[list[Any]]
) -> None:
    report = import_hotline(write_csv(tmp_path / "twice.csv", [orders[0], orders[0]]))
    assert report.counts == {"total": 2, "imported": 1, "skipped": 1, "failed": 0}
    assert report.skipped == [(3, "GD20261101001")]


def test_xlsx_with_excel_dates_and_numbers(
    tmp_path: Path, orders: list[list[Any]], own_grid: Area
) -> None:
    # given an XLSX where the time is a real Excel date and phone and order numbers are numbers
    orders[0][0] = 2026110100123
    orders[0][1] = dt.datetime(2026, 11, 2, 9, 15)
    orders[0][3] = 13912345678
    # when
    report = import_hotline(write_xlsx(tmp_path / "orders.xlsx", orders))
    # then
    assert by_line(report) == BAD
    assert report.counts["imported"] == 3
    case = Case.objects.get(channel=Channel.HOTLINE, source_ref="2026110100123")
    assert case.received_at == dt.datetime(2026, 11, 2, 9, 15, tzinfo=TZ)
    assert case.reporter_phone_masked == "139****5678"


def test_gbk_csv_from_an_old_export_is_read(tmp_path: Path, orders: list[list[Any]]) -> None:
    report = import_hotline(write_csv(tmp_path / "gbk.csv", orders[:1], enc="gbk"))
    assert report.counts == {"total": 1, "imported": 1, "skipped": 0, "failed": 0}


def test_swapped_coordinates_are_reported_not_fixed(
    tmp_path: Path, orders: list[list[Any]]
) -> None:
    orders[0][7], orders[0][8] = orders[0][8], orders[0][7]
    report = import_hotline(write_csv(tmp_path / "swapped.csv", orders[:1]))
    assert [(e.line, e.field, e.message) for e in report.errors] == [
        (2, "location", "经度、纬度似乎填反了")
    ]


def test_column_mapping_and_a_missing_column(tmp_path: Path, orders: list[list[Any]]) -> None:
    headers = ["单号", "来电时间", "来电人", "联系电话", "类别", "反映内容", "地址", "经度", "纬度"]
    path = write_csv(tmp_path / "custom.csv", orders[:1], headers=headers)
    with pytest.raises(ValidationFailed, match="诉求内容"):
        import_hotline(path)
    mapping = parse_mapping("单号=source_ref, 类别=category,反映内容=description")
    report = import_hotline(path, mapping=mapping)
    assert report.counts["imported"] == 1
    with pytest.raises(ValidationFailed, match="column=field"):
        parse_mapping("单号=order_id")


def test_command_reports_lines_and_fails_when_rows_failed(
    tmp_path: Path, orders: list[list[Any]]
) -> None:
    path = write_csv(tmp_path / "orders.csv", orders)
    out = io.StringIO()
    with pytest.raises(CommandError, match="5 行未导入"):
        call_command("import_hotline", str(path), stdout=out)
    text = out.getvalue()
    assert "第 3 行「诉求类别」" in text and "line 7, location" in text
    assert "共 8 行：导入 3，跳过已存在 0，失败 5" in text


def test_dry_run_validates_everything_and_writes_nothing(
    tmp_path: Path, orders: list[list[Any]]
) -> None:
    before = Case.objects.count()
    path = write_csv(tmp_path / "ok.csv", [orders[0], orders[2], orders[6]])
    out = io.StringIO()
    call_command("import_hotline", str(path), "--dry-run", stdout=out)
    assert "可导入 3" in out.getvalue() and "dry run" in out.getvalue()
    assert Case.objects.count() == before


def test_a_staff_member_imports_only_orders_in_their_area(
    tmp_path: Path, orders: list[list[Any]], users: dict[str, Any]
) -> None:
    path = write_csv(tmp_path / "mine.csv", [orders[0], orders[6]])
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_hotline", str(path), "--user", "grid", stdout=out)
    assert "line 3, location" in out.getvalue()  # the other grid's order
    assert Case.objects.filter(source_ref="GD20261101001").exists()
    assert not Case.objects.filter(source_ref="GD20261101007").exists()
