"""The demo's agency files: written in the documented layouts from the seeded county,
each planted defect present exactly as often as :data:`DEFECTS` says (counted here by
reading the files back, not by trusting the generator's bookkeeping)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jiayuan.core import idnumber, pii
from jiayuan.datahub import engine, provenance, sources
from jiayuan.datahub.demo import DEFECTS, AgencyData, AgencyFile, write_agency_files
from jiayuan.datahub.demo.agency import (
    CANLIAN,
    CANLIAN_COLUMNS,
    GONGAN,
    GONGAN_COLUMNS,
    MINZHENG,
    MINZHENG_COLUMNS,
    WANGGE,
    WANGGE_COLUMNS,
)
from jiayuan.datahub.demo.snapshot import read_snapshot
from jiayuan.datahub.demo.stage import import_all
from jiayuan.datahub.models import (
    FieldChange,
    ImportRun,
    RejectedRow,
    ReviewPair,
    ReviewStatus,
    RunStatus,
    Source,
    SourceValues,
)
from jiayuan.people.models import Person, PersonTag
from jiayuan.policies.models import ReceivedBenefit


@pytest.fixture(scope="module")
def agency(
    tmp_path_factory: pytest.TempPathFactory, django_db_setup: None, django_db_blocker: Any
) -> AgencyData:
    # django_db_setup: read the seeded test database, not whatever VAR_DIR's holds
    with django_db_blocker.unblock():
        return write_agency_files(tmp_path_factory.mktemp("agency"), seed=7)


def _file(data: AgencyData, source: str, index: int = 0) -> Path:
    path = data.of(source)[index].path
    assert path is not None
    return path


def _csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("gbk"), newline="")))


def _xlsx_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    header = [str(c) for c in rows[0]]
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]]


def _json_rows(first: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page: Path | None = first
    while page is not None:
        body = json.loads(page.read_text(encoding="utf-8"))
        rows.extend(body["data"]["items"])
        following = body["data"]["next"]
        page = first.parent / following if following else None
    return rows


def _persons(numbers: list[str]) -> dict[str, Person]:
    """Residents by the ID numbers given (one query through the blind index)."""
    index = {pii.blind_index(n, purpose="id"): n for n in numbers}
    found = Person.objects.filter(id_number_index__in=list(index)).select_related("household")
    return {index[p.id_number_index]: p for p in found}


def _check_error(value: str) -> bool:
    """An 18-character number refused for its check character alone."""
    return (
        len(value) == 18
        and idnumber.check_char(value[:17]) != value[17]
        and idnumber.parse(value[:17] + idnumber.check_char(value[:17])) is not None
    )


def _duplicates(rows: list[dict[str, Any]]) -> int:
    return sum(n - 1 for n in Counter(json.dumps(r, default=str) for r in rows).values())


# --- layouts --------------------------------------------------------------------------------
@pytest.mark.django_db
def test_gongan_is_a_gbk_csv_with_the_documented_columns(agency: AgencyData) -> None:
    raw = _file(agency, GONGAN).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # GBK, as 公安's export: not UTF-8
    text = raw.decode("gbk")
    assert text.splitlines()[0] == ",".join(GONGAN_COLUMNS)
    assert "\r\n" in text
    rows = _csv_rows(_file(agency, GONGAN))
    assert len(rows) == len(agency.of(GONGAN)[0].lines) > 100
    assert {r["性别"] for r in rows} == {"男", "女"}
    assert {r["户口性质"] for r in rows} <= {"非农业家庭户口", "农业家庭户口"}


@pytest.mark.django_db
def test_workbooks_keep_id_numbers_as_text_and_dates_as_dates(agency: AgencyData) -> None:
    header, rows = _xlsx_rows(_file(agency, MINZHENG))
    assert tuple(header) == MINZHENG_COLUMNS
    assert all(isinstance(r["身份证号"], str) for r in rows)
    assert sum(isinstance(r["起始日期"], dt.datetime) for r in rows) == len(rows) - 2
    assert {r["救助类别"] for r in rows} >= {"低保", "临时救助"}
    header, rows = _xlsx_rows(_file(agency, CANLIAN))
    assert tuple(header) == CANLIAN_COLUMNS
    assert all(isinstance(r["残疾人证号"], str) and len(r["残疾人证号"]) == 20 for r in rows)


@pytest.mark.django_db
def test_the_interface_pages_link_to_each_other(agency: AgencyData) -> None:
    first = _file(agency, WANGGE)
    pages = sorted(first.parent.glob("page-*.json"))
    assert len(pages) >= 2
    rows = _json_rows(first)
    assert len(rows) == len(agency.of(WANGGE)[0].lines)
    assert all(tuple(r) == WANGGE_COLUMNS for r in rows)
    stamps = [r["updated_at"] for r in rows]
    assert stamps[0] <= stamps[-1]


@pytest.mark.django_db
def test_same_seed_same_bytes_other_seed_other_files(agency: AgencyData, tmp_path: Path) -> None:
    again = write_agency_files(tmp_path / "again", seed=7)
    other = write_agency_files(tmp_path / "other", seed=8)
    for a, b, c in zip(agency.files, again.files, other.files, strict=True):
        assert a.path is not None and b.path is not None and c.path is not None
        assert a.path.read_bytes() == b.path.read_bytes()
    assert _file(agency, GONGAN).read_bytes() != _file(other, GONGAN).read_bytes()


# --- defects, counted from the files ----------------------------------------------------------
@pytest.mark.django_db
def test_gongan_defects(agency: AgencyData) -> None:
    rows = _csv_rows(_file(agency, GONGAN))
    want = DEFECTS[GONGAN]
    numbers = [r["公民身份号码"] for r in rows]
    assert sum(_check_error(n) for n in numbers) == want["bad_checksum"]
    short = [n for n in numbers if len(n) == 15]
    assert len(short) == want["id15"]
    # a 15-digit number upgrades to a resident's number
    assert len(_persons([idnumber.normalize(n) for n in short])) == want["id15"]
    assert _duplicates(rows) == want["duplicate"]
    bad_dates = [r for r in rows if r["出生日期"].endswith("0230")]
    assert len(bad_dates) == want["impossible_date"]
    valid = [n for n in numbers if len(n) == 18 and not _check_error(n)]
    known = _persons(valid)
    assert len(set(valid) - set(known)) == want["new_resident"]
    newly_dead = [
        r
        for r in rows
        if r["注销原因"] == "死亡"
        and r["公民身份号码"] in known
        and known[r["公民身份号码"]].death_date is None
    ]
    assert len(newly_dead) == want["cancelled"]
    # every other row agrees with the resident it names
    for r in rows:
        person = known.get(r["公民身份号码"])
        if person is not None and r not in bad_dates:
            assert r["姓名"] == person.name
            assert r["出生日期"] == f"{person.birth_date:%Y%m%d}"
            assert person.household is not None and r["户号"] == person.household.number


@pytest.mark.django_db
def test_minzheng_defects(agency: AgencyData) -> None:
    _header, rows = _xlsx_rows(_file(agency, MINZHENG))
    want = DEFECTS[MINZHENG]
    assert sum(_check_error(r["身份证号"]) for r in rows) == want["bad_checksum"]
    categories = Counter(r["救助类别"] for r in rows)
    assert (
        sum(n for c, n in categories.items() if c not in ("低保", "特困", "低保边缘", "临时救助"))
        == (want["unknown_category"])
    )
    assert sum(isinstance(r["起始日期"], str) for r in rows) == want["impossible_date"]
    assert _duplicates(rows) == want["duplicate"]
    snap = read_snapshot()
    community = {r.id_number: r.community for r in snap.residents}
    unique = {r["身份证号"]: r for r in rows if r["身份证号"] in community}
    assert sum(r["所属社区"] != community[n] for n, r in unique.items()) == want["address_conflict"]


@pytest.mark.django_db
def test_canlian_defects_and_the_renamed_column(agency: AgencyData) -> None:
    _header, rows = _xlsx_rows(_file(agency, CANLIAN))
    want = DEFECTS[CANLIAN]
    certs = [r["残疾人证号"] for r in rows]
    assert sum(_check_error(c[:18]) for c in certs) == want["bad_checksum"]
    codes = {
        "视力": "1",
        "听力": "2",
        "言语": "3",
        "肢体": "4",
        "智力": "5",
        "精神": "6",
        "多重": "7",
    }
    assert (
        sum(r["残疾人证号"][18] != codes[r["残疾类别"]] for r in rows) == want["category_mismatch"]
    )
    assert sum(c[19] not in "1234" for c in certs) == want["bad_level"]
    assert sum(isinstance(r["有效期至"], str) for r in rows) == want["impossible_date"]
    assert _duplicates(rows) == want["duplicate"]
    header, later = _xlsx_rows(_file(agency, CANLIAN, 1))
    assert "发证日期" not in header and "发证时间" in header
    assert len(later) == 5


@pytest.mark.django_db
def test_wangge_defects(agency: AgencyData) -> None:
    rows = _json_rows(_file(agency, WANGGE))
    want = DEFECTS[WANGGE]
    snap = read_snapshot()
    by_id = {r.id_number: r for r in snap.residents}
    no_id = [r for r in rows if not r["id_card"]]
    typos = [r for r in no_id if r["birthday"]]
    assert len(typos) == want["no_id_typo"]
    for row in typos:
        # a resident born that day at that address, whose name differs by one character
        (twin,) = [
            p
            for p in snap.residents
            if p.birth_date.isoformat() == row["birthday"]
            and p.address.endswith(row["address"])
            and len(p.name) == len(row["name"])
            and sum(a != b for a, b in zip(p.name, row["name"], strict=True)) == 1
        ]
        assert twin.name != row["name"]
    assert len(no_id) - len(typos) == want["no_id_no_birthday"]
    moved = {
        r["id_card"]
        for r in rows
        if r["id_card"] and not by_id[r["id_card"]].address.endswith(r["address"])
    }
    assert len(moved) == want["address_conflict"]
    gongan = {r["公民身份号码"] for r in _csv_rows(_file(agency, GONGAN))}
    assert moved <= gongan  # 公安 says where they live: the conflict has two sides
    assert _duplicates(rows) == want["duplicate"]


# --- the demo's first imports ---------------------------------------------------------------
def _imported(agency: AgencyData) -> list[ImportRun]:
    sources.sync()
    return import_all(agency)


def _codes(run: ImportRun) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for code, line in RejectedRow.objects.filter(run=run).values_list("code", "line"):
        out.setdefault(code, []).append(line)
    return {code: sorted(lines) for code, lines in out.items()}


@pytest.mark.django_db
def test_first_imports_reject_each_defect_on_its_line_with_its_reason(
    agency: AgencyData,
) -> None:
    # when
    gongan, minzheng, canlian, _later, wangge = _imported(agency)
    # then: every planted defect is reported on its own line, and nothing else is
    lines = agency.of(GONGAN)[0].defect_lines()
    assert _codes(gongan) == {
        "invalid_id_number": lines["bad_checksum"],
        "invalid_date": lines["impossible_date"],
    }
    m = agency.of(MINZHENG)[0]
    lines = m.defect_lines()
    # 低保边缘 and 临时救助 are no policy of the catalogue: the benefit target sends them back
    not_policies = sorted(
        i + 2
        for i, line in enumerate(m.lines)
        if line.values["救助类别"] in ("低保边缘", "临时救助")
        and line.defect in ("", "impossible_date", "address_conflict")
    )
    assert not_policies
    assert _codes(minzheng) == {
        "invalid_id_number": lines["bad_checksum"],
        "invalid_date": lines["impossible_date"],
        "unknown_code": lines["unknown_category"],
        "no_policy": not_policies,
    }
    lines = agency.of(CANLIAN)[0].defect_lines()
    assert _codes(canlian) == {
        "invalid_certificate": lines["bad_checksum"],
        "category_mismatch": lines["category_mismatch"],
        "invalid_level": lines["bad_level"],
        "invalid_date": lines["impossible_date"],
    }
    lines = agency.of(WANGGE)[0].defect_lines()
    assert _codes(wangge) == {"id_required": lines["no_id_no_birthday"]}
    # duplicates are read again, and counted unchanged
    assert gongan.unchanged >= DEFECTS[GONGAN]["duplicate"]
    assert [r.status for r in (gongan, minzheng, canlian, wangge)] == [RunStatus.SUCCEEDED] * 4


@pytest.mark.django_db
def test_the_renamed_column_pauses_the_stream_until_the_mapping_knows_it(
    agency: AgencyData,
) -> None:
    # given
    later = _imported(agency)[3]
    # then
    assert later.status == RunStatus.PAUSED
    assert later.read == 0
    assert later.drift == {"missing": ["发证日期"], "new": ["发证时间"], "renamed": {}}
    stream = later.stream
    stream.refresh_from_db()
    assert "发证时间" in stream.paused_reason
    # when the clerk names the new header an alias and resumes the stream
    for entry in stream.mapping:
        if entry["column"] == "发证日期":
            entry["aliases"] = ["发证时间"]
    stream.save(update_fields=["mapping"])
    engine.resume_stream(stream)
    path = agency.of(CANLIAN)[1].path
    assert path is not None
    again = engine.run(stream, path, trigger="demo")
    # then the later file lands
    assert again.status == RunStatus.SUCCEEDED
    assert again.read == 5 and again.rejected == 0


@pytest.mark.django_db
def test_first_imports_insert_newborns_record_deaths_and_hold_pairs_for_review(
    agency: AgencyData,
) -> None:
    before = Person.objects.count()
    # when
    gongan, _minzheng, _canlian, _later, wangge = _imported(agency)
    # then: the newborns are the only new residents (15-digit numbers found their holder)
    g = agency.of(GONGAN)[0]
    assert gongan.inserted == DEFECTS[GONGAN]["new_resident"]
    assert Person.objects.count() == before + DEFECTS[GONGAN]["new_resident"]
    babies = [line.values for line in g.lines if line.defect == "new_resident"]
    found = _persons([b["公民身份号码"] for b in babies])
    for baby in babies:
        person = found[baby["公民身份号码"]]
        assert person.name == baby["姓名"]
        assert person.household is not None and person.household.number == baby["户号"]
    dead = [line.values for line in g.lines if line.defect == "cancelled"]
    for row in dead:
        person = _persons([row["公民身份号码"]])[row["公民身份号码"]]
        assert f"{person.death_date:%Y%m%d}" == row["注销日期"]
    # a wrong check character and a misheard name are held for a person's decision, each
    # beside the resident it names; nothing is merged
    pairs = {(p.run_id, p.line): p for p in ReviewPair.objects.filter(run__in=[gongan, wangge])}
    assert {p.status for p in pairs.values()} == {ReviewStatus.PENDING}
    bad = {line: row for line, row in zip(_lines(g), g.lines, strict=True)}
    for line in g.defect_lines()["bad_checksum"]:
        number = bad[line].values["公民身份号码"]
        held = pairs[(gongan.pk, line)].person
        assert held.reveal_id_number()[:17] == number[:17]
    w = agency.of(WANGGE)[0]
    typos = {line: row for line, row in zip(_lines(w), w.lines, strict=True)}
    for line in w.defect_lines()["no_id_typo"]:
        held = pairs[(wangge.pk, line)].person
        assert held.name != typos[line].values["name"]
        assert held.birth_date is not None
        assert held.birth_date.isoformat() == typos[line].values["birthday"]
    assert len(pairs) == DEFECTS[GONGAN]["bad_checksum"] + DEFECTS[WANGGE]["no_id_typo"]


@pytest.mark.django_db
def test_conflicting_addresses_resolve_by_rank_and_the_loser_stays_visible(
    agency: AgencyData,
) -> None:
    w = agency.of(WANGGE)[0]
    conflicts = [line.values for line in w.lines if line.defect == "address_conflict"]
    persons = _persons([c["id_card"] for c in conflicts])
    places = {pk: path for pk, path in Person.objects.values_list("pk", "area_path")}
    # when
    _imported(agency)
    # then: exactly the planted persons have two addresses, 公安's is held
    said: dict[tuple[int, str], set[str]] = {}
    for row in SourceValues.objects.filter(entity="person"):
        for name, (value, *_rest) in provenance.unpacked(row.data):
            said.setdefault((row.object_id, name), set()).add(value)
    split = [key for key, seen in said.items() if len(seen) > 1]
    assert sorted(split) == sorted((p.pk, "address") for p in persons.values())
    codes = dict(Source.objects.values_list("pk", "code"))
    for row in conflicts:
        person = persons[row["id_card"]]
        values = {
            codes[fv.source_id]: fv
            for fv in provenance.values_of("person", person.pk)
            if fv.field == "address"
        }
        assert values[WANGGE].value == row["address"]
        assert values[WANGGE].current is False
        assert values[GONGAN].current is True
        assert values[GONGAN].rank > values[WANGGE].rank
        person.refresh_from_db()
        assert person.area_path == places[person.pk]  # not moved by the lower rank


@pytest.mark.django_db
def test_a_second_import_of_the_same_files_changes_nothing(agency: AgencyData) -> None:
    # given
    first = _imported(agency)
    tables = (Person, SourceValues, FieldChange, ReviewPair, ReceivedBenefit, PersonTag)
    counts = {model: model.objects.count() for model in tables}
    rejected = RejectedRow.objects.count()
    # when
    second = import_all(agency)
    # then: the paused stream refuses its files; the rest read everything as unchanged
    assert [r.stream.source.code for r in second] == [GONGAN, MINZHENG, WANGGE]
    assert {model: model.objects.count() for model in tables} == counts
    for run in second:
        assert (run.inserted, run.updated, run.review) == (0, 0, 0)
    by_code = {r.stream.source.code: r for r in first}
    for run in second[:2]:  # the same file: one run reporting every row unchanged
        assert run.read == run.unchanged == by_code[run.stream.source.code].read
        assert run.drift == {"same_file_as": by_code[run.stream.source.code].pk}
    # the interface is read again: only the two rows it refused are refused again
    wangge = second[2]
    assert wangge.rejected == DEFECTS[WANGGE]["no_id_no_birthday"]
    assert wangge.unchanged == wangge.read - wangge.rejected
    assert RejectedRow.objects.count() == rejected + wangge.rejected


def _lines(f: AgencyFile) -> list[int]:
    first = 1 if f.pages else 2
    return list(range(first, first + len(f.lines)))
