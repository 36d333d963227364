"""The data hub's browser acceptance in Chromium against a real ``jiayuan serve`` on the
tiny county: a street leader uploads a 公安户籍 CSV in GBK (a resident's corrected
民族, a new resident, a bad check character, a typo'd name without an ID number), reads
the run report's counters, opens the rejected row (line, field, Chinese reason, masked
value), resolves the review pair (merge, then undo) from the queue, sees the 数据来源
card on the resident's page, then builds a report in 一套表 from a standard form and
exports it: the .xlsx re-read with openpyxl is the screen's table cell for cell.
Screenshots of every page go to var/screenshots/."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jiayuan.core import idnumber, pii
from jiayuan.datahub.demo.agency import TYPOS
from jiayuan.datahub.demo.snapshot import current_address
from jiayuan.datahub.reports.export import TITLE_ROWS

from .conftest import ROOT, Site, login

pytestmark = pytest.mark.browser

SOURCE = "gongan-huji"
COLUMNS = (
    "公民身份号码", "姓名", "性别", "民族", "出生日期", "户号", "与户主关系", "户籍地址", "现住址",
    "户口性质", "注销原因", "注销日期",
)  # fmt: skip
GENDER = {"male": "男", "female": "女"}
CLEAR_ID = re.compile(r"(?<![\d*])\d{17}[\dX](?![\d*])")
COUNTERS = {"读取": "read", "新增": "inserted", "更新": "updated", "未变": "unchanged",
            "拒收": "rejected", "待核对": "review"}  # fmt: skip


@dataclass(frozen=True)
class Resident:
    pk: int
    name: str
    id_number: str  # clear, decrypted in the test process (same PII key as the site)
    birth_date: dt.date
    gender: str
    ethnicity: str
    household: str
    address: str  # 现住址 as 公安 prints it


def sync_sources(site: Site) -> None:
    """The tiny world is seeded without imports, so it has no sources yet: load the
    shipped sources.yaml into the site's database, as an administrator does once."""
    env = {
        **os.environ,
        "JIAYUAN_DATABASE_URL": f"sqlite:///{site.db}",
        "JIAYUAN_VAR_DIR": str(site.db.parent),
        "JIAYUAN_HOME": str(ROOT),
    }
    jiayuan = str(Path(sys.executable).with_name("jiayuan"))
    done = subprocess.run(
        [jiayuan, "hub", "sync-sources"], env=env, cwd=ROOT, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def residents(site: Site, community: str) -> list[Resident]:
    """The living, housed residents of ``community`` with an ID number and a household."""
    names = dict(site.query("SELECT path, name FROM org_area"))
    (county,) = site.query("SELECT name FROM org_area WHERE kind = 'county'")[0]
    rows = site.query(
        "SELECT p.id, p.name, p.id_number_enc, p.birth_date, p.gender, p.ethnicity, h.number,"
        " p.area_path, d.number FROM people_person p"
        " JOIN org_dwelling d ON d.id = p.dwelling_id"
        " JOIN people_household h ON h.id = p.household_id"
        " WHERE p.area_path LIKE ? AND p.death_date IS NULL AND p.id_number_enc != ''"
        " ORDER BY p.id",
        community + "%",
    )
    return [
        Resident(
            pk=pk,
            name=name,
            id_number=pii.decrypt(enc),
            birth_date=dt.date.fromisoformat(born),
            gender=gender,
            ethnicity=ethnicity,
            household=household,
            address=current_address(county, names, unit, room),
        )
        for pk, name, enc, born, gender, ethnicity, household, unit, room in rows
    ]


def typo_of(name: str) -> str | None:
    """The name with one given-name character replaced by a homophone (同音字)."""
    for i, char in enumerate(name[1:], start=1):
        if char in TYPOS:
            return name[:i] + TYPOS[char] + name[i + 1 :]
    return None


def values(r: Resident, **over: str) -> dict[str, str]:
    row = {
        "公民身份号码": r.id_number, "姓名": r.name, "性别": GENDER[r.gender], "民族": r.ethnicity,
        "出生日期": f"{r.birth_date:%Y%m%d}", "户号": r.household, "与户主关系": "",
        "户籍地址": r.address, "现住址": r.address, "户口性质": "", "注销原因": "", "注销日期": "",
    }  # fmt: skip
    row.update(over)
    return row


def gbk_csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([row[c] for c in COLUMNS] for row in rows)
    return buffer.getvalue().encode("gbk")


def counters(page: Any) -> dict[str, int]:
    cards = page.get_by_test_id("run-counters").locator(".jy-stat")
    out = {}
    for i in range(cards.count()):
        label = cards.nth(i).locator(".jy-stat-label").inner_text().strip()
        out[COUNTERS[label]] = int(cards.nth(i).locator(".jy-stat-value").inner_text())
    return out


def no_clear_ids(page: Any, *numbers: str) -> None:
    html = page.content()
    assert not any(n in html for n in numbers), "a clear ID number on " + page.url
    assert not CLEAR_ID.search(html), page.url


def screen_table(page: Any) -> tuple[list[list[str]], list[list[str]]]:
    """The report's header rows and body rows as the screen shows them."""
    table = page.get_by_test_id("report-table")
    header = [
        [c.strip() for c in tr.locator("th").all_inner_texts()]
        for tr in table.locator("thead tr").all()
    ]
    body = [
        [c.strip() for c in tr.locator("th, td").all_inner_texts()]
        for tr in table.locator("tbody tr").all()
    ]
    return header, body


def choose(page: Any, testid: str, value: str, pushed: str) -> None:
    """Pick ``value`` in one of the builder's selects and wait until htmx has swapped the
    builder and pushed the new address (the next select must be the new one)."""
    page.get_by_test_id(testid).select_option(value)
    page.wait_for_url(re.compile(r"/reports/build/\?.*" + pushed))
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling')")
    assert page.get_by_test_id(testid).input_value() == value


def test_upload_report_rejects_review_and_one_table_export(
    site: Site, desktop: Any, screenshots: Path, tmp_path: Path
) -> None:
    page = desktop
    sync_sources(site)
    community_path, community = site.query(
        "SELECT path, name FROM org_area WHERE kind = 'community' ORDER BY path"
    )[0]
    people = residents(site, community_path)
    # A resident whose 民族 公安 corrects; another whose name a clerk typed with a homophone.
    updated = next(r for r in people if r.ethnicity == "汉族")
    typo = next((r, t) for r in people if r is not updated and (t := typo_of(r.name)))
    twin, typo_name = typo
    same_name = [r for r in people if r.name == typo_name]
    assert not same_name, "the typo is another resident's real name"
    # A new resident born 1990 in the first resident's dwelling (a new valid ID number).
    newcomer_id = idnumber.build("370830", dt.date(1990, 5, 17), 41, "female")
    existing = {r.id_number for r in people}
    assert newcomer_id not in existing
    bad_body = idnumber.build("370830", dt.date(1976, 9, 3), 58, "male")
    bad_id = bad_body[:-1] + ("0" if bad_body[-1] != "0" else "1")  # wrong check character
    rows = [
        values(updated, 民族="回族"),  # line 2: updated
        values(  # line 3: inserted
            updated,
            公民身份号码=newcomer_id,
            姓名="沈语桐",
            性别="女",
            出生日期="19900517",
            户号="H7000001",
            与户主关系="户主",
            民族="汉族",
        ),
        values(  # line 4: refused: bad check character, and nobody alike in the community
            updated,
            公民身份号码=bad_id,
            姓名="欧阳鑫淼",
            性别="男",
            出生日期="19760903",
            户号="H7000002",
        ),
        values(twin, 公民身份号码="", 姓名=typo_name),  # line 5: a review pair beside twin
    ]
    upload = tmp_path / "gongan_huji_h7.csv"
    upload.write_bytes(gbk_csv(rows))

    # --- a street leader opens 数据汇聚 from the navigation and uploads the file
    login(page, site, "street")
    page.get_by_test_id("nav-hub").locator(".dropdown-toggle").click()
    page.get_by_role("link", name="数据源与导入").click()
    page.wait_for_url(site.url + "/hub/")
    form = page.get_by_test_id(f"upload-{SOURCE}")
    form.locator("input[type=file]").set_input_files(str(upload))
    form.locator("input[name=as_of]").fill("2026-11-01")
    page.screenshot(path=str(screenshots / "hub-sources.png"), full_page=True)
    with page.expect_navigation(url=re.compile(r"/hub/runs/\d+/$")):
        form.locator("button[type=submit]").click()

    # --- the run report: read 4, inserted 1, updated 1, rejected 1, one pair to review
    run_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    assert page.get_by_test_id("run-status").inner_text().strip() == "已完成"
    got = counters(page)
    assert got == {"read": 4, "inserted": 1, "updated": 1, "unchanged": 0, "rejected": 1,
                   "review": 1}, got  # fmt: skip
    report = page.get_by_test_id("run-report").inner_text()
    assert "read 4, inserted 1, updated 1, unchanged 0, rejected 1" in report
    assert "导入完成" in page.locator(".alert-success").inner_text()
    no_clear_ids(page, bad_id, newcomer_id, updated.id_number)
    page.screenshot(path=str(screenshots / "hub-run-report.png"), full_page=True)

    # --- the rejected row: line 4, the ID number's field, the Chinese reason, masked value
    page.get_by_test_id("rejects-link").click()
    page.wait_for_url(f"{site.url}/hub/runs/{run_id}/rejects/")
    lines = page.locator("[data-testid=reject-rows] tbody tr[data-line]")
    assert {int(x) for x in lines.evaluate_all("rs => rs.map(r => r.dataset.line)")} == {4}
    bad_rows = page.locator('[data-testid=reject-rows] tr[data-line="4"]')
    texts = bad_rows.all_inner_texts()
    checksum = next(t for t in texts if "invalid_id_number" in t)
    assert "公民身份号码" in checksum and "id_number" in checksum
    assert "校验" in checksum, checksum  # the reason, in Chinese
    assert pii.mask_id_number(bad_id) in checksum
    assert any("no_match" in t and "相似" in t for t in texts), texts
    no_clear_ids(page, bad_id)
    page.screenshot(path=str(screenshots / "hub-rejects.png"), full_page=True)

    # --- the review queue: the pair, merged, then undone
    page.get_by_test_id("nav-hub").locator(".dropdown-toggle").click()
    page.get_by_role("link", name="待核对记录").click()
    page.wait_for_url(site.url + "/hub/reviews/")
    entry = page.locator("[data-testid=review-list] tr[data-pair]", has_text=typo_name)
    assert entry.count() == 1
    assert twin.name in entry.inner_text() and f"#{run_id} 第 5 行" in entry.inner_text()
    page.screenshot(path=str(screenshots / "hub-review-queue.png"), full_page=True)
    pair_id = int(entry.get_attribute("data-pair"))
    entry.get_by_role("link", name="核对").click()
    page.wait_for_url(f"{site.url}/hub/reviews/{pair_id}/")
    status = page.get_by_test_id("pair-status")
    assert status.get_attribute("data-status") == "pending"
    features = page.get_by_test_id("pair-features").inner_text()
    assert typo_name in features and twin.name in features and "（无）" in features
    assert f"{typo_name} 是否为 {twin.name}" in page.locator("h2.page-title").inner_text()
    no_clear_ids(page, twin.id_number)
    page.screenshot(path=str(screenshots / "hub-review-pair.png"), full_page=True)

    page.get_by_test_id("merge").click()
    page.wait_for_url(f"{site.url}/hub/reviews/{pair_id}/")
    assert status.get_attribute("data-status") == "merged"
    assert status.inner_text().strip() == "已合并"
    assert "已合并到居民档案" in page.locator(".alert-success").inner_text()
    page.screenshot(path=str(screenshots / "hub-review-merged.png"), full_page=True)
    (merged,) = site.query("SELECT name FROM people_person WHERE id = ?", twin.pk)[0]
    assert merged == typo_name  # 公安 (rank 40) outranks the seed's record

    page.get_by_test_id("undo").click()
    page.wait_for_url(f"{site.url}/hub/reviews/{pair_id}/")
    assert status.get_attribute("data-status") == "undone"
    assert "已撤销合并" in page.locator(".alert-success").inner_text()
    assert not page.get_by_test_id("merge").count() and not page.get_by_test_id("undo").count()
    (restored,) = site.query("SELECT name FROM people_person WHERE id = ?", twin.pk)[0]
    assert restored == twin.name
    page.screenshot(path=str(screenshots / "hub-review-undone.png"), full_page=True)

    # --- the corrected resident's page: 民族 held from 公安户籍, the change in its history
    page.goto(f"{site.url}/persons/{updated.pk}/")
    panel = page.get_by_test_id("source-panel")
    ethnicity = panel.locator("tr[data-field=ethnicity]")
    assert ethnicity.locator("[data-held]").inner_text().strip() == "回族"
    assert "公安户籍" in ethnicity.inner_text()
    history = panel.locator("[data-history] li").all_inner_texts()
    assert any(re.search(r"民族：汉族\s*→\s*回族.*公安户籍", h) for h in history), history
    no_clear_ids(page, updated.id_number)
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "hub-person-sources.png"), full_page=True)

    # --- 一套表: a standard form, its columns changed (htmx), exported
    page.get_by_test_id("nav-reports").click()
    page.get_by_test_id("nav-report-templates").click()
    page.wait_for_url(site.url + "/reports/")
    answered = int(page.get_by_test_id("standard-answered").locator("strong").inner_text())
    assert answered >= 6
    page.screenshot(path=str(screenshots / "reports-templates.png"), full_page=True)
    page.locator('[data-template="renkou-nianling"] a', has_text="人口年龄结构统计表").click()
    page.wait_for_url(site.url + "/reports/t/renkou-nianling/")
    title = page.get_by_test_id("report-title")
    assert title.inner_text().strip() == "人口年龄结构统计表"
    header, _ = screen_table(page)
    assert len(header) == 2 and "男" in header[0], header  # gender over the age bands

    # rows: street then community; columns: gender only (the age bands dropped)
    choose(page, "report-row-1", "street", r"rows=street&rows=&")
    choose(page, "report-row-2", "community", r"rows=street&rows=community&")
    choose(page, "report-column-2", "", r"columns=gender&columns=&")
    header, body = screen_table(page)
    assert header[0][:2] == ["街道", "社区"] and "男" in header[-1] and "女" in header[-1], header
    assert body[-1][0] == "合计" and any(r[1] == "小计" or "小计" in r for r in body), body
    # the numbers are the street's living residents by hand-written SQL (the newcomer
    # counted: 沈语桐 is one of 翔宇社区's women)
    counts = dict(
        ((c, g), n)
        for c, g, n in site.query(
            "SELECT a.name, p.gender, COUNT(*) FROM people_person p"
            " JOIN org_area a ON p.area_path LIKE a.path || '%' AND a.kind = 'community'"
            " WHERE p.death_date IS NULL OR p.death_date > ? GROUP BY a.name, p.gender",
            dt.date.today().isoformat(),
        )
    )
    data = {r[1]: r[2:] for r in body if r[1] not in ("", "小计")}
    assert data[community] != [] and set(data) == {c for c, _ in counts}, data
    for name, cells in data.items():
        men, women = counts.get((name, "male"), 0), counts.get((name, "female"), 0)
        assert cells == [f"{men:,}", f"{women:,}", f"{men + women:,}"], (name, cells)
    assert body[-1][2:] == [
        f"{sum(n for (_, g), n in counts.items() if g == k):,}" for k in ("male", "female")
    ] + [f"{sum(counts.values()):,}"]
    assert title.inner_text().strip() == "人口年龄结构统计表"
    page.screenshot(path=str(screenshots / "reports-builder.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_test_id("report-export").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.suffix == ".xlsx"
    sheet = openpyxl.load_workbook(saved).active
    assert sheet.cell(1, 1).value == title.inner_text().strip()
    width = sheet.max_column
    top = TITLE_ROWS + 1
    file_header = [
        [c for c in (sheet.cell(top + r, j).value for j in range(1, width + 1)) if c is not None]
        for r in range(len(header))
    ]
    assert file_header == header
    first_body = top + len(header)
    file_body = [
        [sheet.cell(first_body + i, j).value for j in range(1, width + 1)] for i in range(len(body))
    ]
    assert sheet.max_row == first_body + len(body) - 1
    for shown, cells in zip(body, file_body, strict=True):
        as_text = [
            f"{v:,}" if isinstance(v, int | float) else ("" if v is None else v) for v in cells
        ]
        assert as_text == shown, (shown, cells)
