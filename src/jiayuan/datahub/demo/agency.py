"""The demo county's agency files, row by row, with the defects real agency data has.

Each file is a list of :class:`Line` (the values under the agency's column names) and
the defects planted in it, each a known number of times (:data:`DEFECTS`), so the demo's
first imports show real rejected rows, review pairs, conflicts and a schema drift, and
the tests can count them. Everything is drawn from the seed number: the same database
and seed give the same files.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from jiayuan.core import idnumber, pii
from jiayuan.core.divisions import WENSHANG
from jiayuan.people.choices import Gender, HukouType, Relation
from jiayuan.people.models import Person

from .snapshot import Resident, Snapshot, hukou_address

# the day the agencies' files speak for (the demo world's reference date)
AS_OF = dt.date(2026, 1, 1)

GONGAN = "gongan-huji"
MINZHENG = "minzheng-jiuzhu"
CANLIAN = "canlian-canji"
WANGGE = "wangge-caiji"

GONGAN_COLUMNS = (
    "公民身份号码", "姓名", "性别", "民族", "出生日期", "户号", "与户主关系", "户籍地址", "现住址",
    "户口性质", "注销原因", "注销日期",
)  # fmt: skip
MINZHENG_COLUMNS = (
    "身份证号", "姓名", "救助类别", "保障人数", "月保障金额", "起始日期", "终止日期", "所属社区",
)  # fmt: skip
WANGGE_COLUMNS = ("id_card", "name", "gender", "birthday", "address", "updated_at", "collector")
WANGGE_PAGE = 50  # records per page of the interface
CANLIAN_COLUMNS = ("残疾人证号", "姓名", "残疾类别", "残疾等级", "发证日期", "有效期至")
# The 残联 template changed between two monthly files: 发证日期 became 发证时间.
CANLIAN_RENAMED = ("发证日期", "发证时间")

# How many times each defect is planted, per file (the docs and the tests read these).
DEFECTS: dict[str, dict[str, int]] = {
    GONGAN: {
        "bad_checksum": 4,  # the ID number's check character is wrong
        "id15": 3,  # a first-generation 15-digit number: valid, upgraded to 18
        "duplicate": 4,  # a row repeated verbatim further down the file
        "impossible_date": 2,  # 出生日期 on 30 February
        "new_resident": 5,  # a newborn not yet in Jiayuan
        "cancelled": 3,  # 注销: died since the last export
    },
    MINZHENG: {
        "bad_checksum": 2,
        "unknown_category": 3,  # 救助类别 outside 低保/特困/低保边缘/临时救助
        "impossible_date": 2,  # 起始日期 typed as text on a day that does not exist
        "duplicate": 2,
        "address_conflict": 3,  # 所属社区 differs from where 公安 has the person
    },
    CANLIAN: {
        "bad_checksum": 2,  # the 18-digit ID inside the certificate is wrong
        "category_mismatch": 2,  # the certificate's category digit ≠ 残疾类别
        "bad_level": 1,  # the certificate's level digit is 5 (levels are 1–4)
        "impossible_date": 1,  # 有效期至 on 29 February of a common year
        "duplicate": 2,
    },
    WANGGE: {
        "no_id_typo": 4,  # no ID number, a homophone in a resident's name: a review pair
        "no_id_no_birthday": 2,  # neither ID number nor birthday: nothing to compare on
        "address_conflict": 3,  # another room than 公安's 现住址 for the same person
        "duplicate": 2,  # a record sent again on a later page
    },
}
# the second 残联 file: its rows all carry the renamed column
CANLIAN_LATER_ROWS = 5
UNKNOWN_CATEGORIES = ("五保", "医疗救助", "9")
TEMPORARY_RELIEF = 5  # 临时救助 rows (three of them carry the unknown categories)
# 低保边缘 households listed: the benefit target sends them back (no policy of the
# catalogue is theirs), a few show it without burying the real defects
MARGINAL_HOUSEHOLDS = 3

# 与户主关系 as 公安 writes it, by the person's gender (户主, 配偶, 子 / 女, 父亲 / 母亲)
RELATION_LABELS: dict[str, tuple[str, str]] = {
    Relation.HEAD: ("户主", "户主"), Relation.SPOUSE: ("配偶", "配偶"),
    Relation.CHILD: ("子", "女"), Relation.PARENT: ("父亲", "母亲"),
    Relation.TENANT: ("其他", "其他"), Relation.OTHER: ("其他", "其他"),
}  # fmt: skip
HUKOU_LABELS: dict[str, str] = {HukouType.URBAN: "非农业家庭户口", HukouType.RURAL: "农业家庭户口"}
GENDER_LABELS: dict[str, str] = {Gender.MALE: "男", Gender.FEMALE: "女"}
# GB/T 26341-2010: the certificate's 19th digit
DISABILITY_CODES = {"视力": 1, "听力": 2, "言语": 3, "肢体": 4, "智力": 5, "精神": 6, "多重": 7}
LEVEL_LABELS = {1: "一级", 2: "二级", 3: "三级", 4: "四级"}
# a homophone typed for the right character (同音字), as a clerk mishears a name
TYPOS = {
    "英": "瑛", "华": "桦", "军": "君", "伟": "玮", "明": "铭", "丽": "莉", "红": "虹",
    "静": "婧", "芳": "方", "玉": "钰", "兰": "岚", "峰": "锋", "涛": "滔", "秀": "绣",
    "梅": "玫", "燕": "艳", "平": "萍", "刚": "钢", "国": "果", "建": "健", "志": "智",
    "海": "还", "文": "雯", "云": "芸", "凤": "风", "晓": "小", "德": "得", "庆": "青",
}  # fmt: skip
# given names of 2025's babies (the demo app's word lists sit above this app)
BABY_NAMES = (
    ("宇轩", "沐宸", "浩宇", "梓睿", "一诺", "子墨", "奕辰", "睿泽"),
    ("若汐", "一诺", "梓涵", "语桐", "欣怡", "沐晴", "诗琪", "可馨"),
)
VILLAGES = ("城关镇东关村", "南站镇孙庄村", "次丘镇后寨村", "郭楼镇前郭村", "白石镇白石村")


@dataclass(eq=False)
class Line:
    """One row of an agency file: values by column name, and the defect planted in it."""

    values: dict[str, Any]
    defect: str = ""


@dataclass
class AgencyFile:
    """One file as an agency sends it."""

    source: str  # the source's code
    name: str  # the file's name
    columns: tuple[str, ...]
    lines: list[Line]
    sheet: str = ""  # XLSX only
    path: Path | None = None  # where it was written

    @property
    def pages(self) -> bool:
        """An interface's pages (JSON), not one file with a header."""
        return self.source == WANGGE

    def defect_lines(self) -> dict[str, list[int]]:
        """Each defect's line numbers as the import reports them: in a file the header
        is line 1; in an interface's pages a record's line is its position (from 1)."""
        first = 1 if self.pages else 2
        out: dict[str, list[int]] = {}
        for i, line in enumerate(self.lines):
            if line.defect:
                out.setdefault(line.defect, []).append(i + first)
        return out


@dataclass
class AgencyData:
    files: list[AgencyFile] = field(default_factory=list)

    def of(self, source: str) -> list[AgencyFile]:
        return [f for f in self.files if f.source == source]


def build_agency_data(snap: Snapshot, seed: int, *, gongan_rows: int = 1200) -> AgencyData:
    """The four agencies' files for ``snap``, drawn from ``seed``."""
    rng = random.Random(f"jiayuan-hub-demo:{seed}")  # noqa: S311 - demo data
    gongan = _gongan(snap, rng, gongan_rows)
    in_gongan = {line.values["公民身份号码"] for line in gongan.lines}
    minzheng = _minzheng(snap, rng, in_gongan)
    canlian, later = _canlian(snap, rng)
    wangge = _wangge(snap, rng, gongan)
    return AgencyData([gongan, minzheng, canlian, later, wangge])


# --- 公安户籍 ------------------------------------------------------------------------------
def _gongan_values(r: Resident, rng: random.Random) -> dict[str, Any]:
    return {
        "公民身份号码": r.id_number,
        "姓名": r.name,
        "性别": GENDER_LABELS.get(r.gender, ""),
        "民族": r.ethnicity,
        "出生日期": f"{r.birth_date:%Y%m%d}",
        "户号": r.household,
        "与户主关系": _relation_label(r),
        "户籍地址": hukou_address(r, rng.choice(VILLAGES)),
        "现住址": r.address,
        "户口性质": HUKOU_LABELS.get(r.hukou_type, ""),
        "注销原因": "死亡" if r.death_date else "",
        "注销日期": f"{r.death_date:%Y%m%d}" if r.death_date else "",
    }


def _gongan(snap: Snapshot, rng: random.Random, size: int) -> AgencyFile:
    """公安's export of the first community: its residents ordered by household, with
    newborns, deaths, 15-digit numbers, bad check characters, impossible birth dates and
    duplicates."""
    first = snap.communities[0][0]
    people = snap.in_community(first)
    chosen = sorted(rng.sample(people, min(size, len(people))), key=_household_order)
    lines = [Line(_gongan_values(r, rng)) for r in chosen]
    want = DEFECTS[GONGAN]
    clean = _Picker(rng, lines)

    for line in clean.take(want["bad_checksum"], lambda v: v["注销原因"] == ""):
        line.values["公民身份号码"] = _wrong_check(line.values["公民身份号码"])
        line.defect = "bad_checksum"
    for line in clean.take(want["id15"], lambda v: v["出生日期"].startswith("19")):
        value = line.values["公民身份号码"]
        line.values["公民身份号码"] = value[:6] + value[8:17]
        line.defect = "id15"
    for line in clean.take(want["impossible_date"], lambda v: v["注销原因"] == ""):
        line.values["出生日期"] = line.values["出生日期"][:4] + "0230"
        line.defect = "impossible_date"
    by_id = {r.id_number: r for r in chosen}
    for line in clean.take(
        want["cancelled"], lambda v: v["注销原因"] == "" and _age(by_id[v["公民身份号码"]]) >= 75
    ):
        line.values["注销原因"] = "死亡"
        line.values["注销日期"] = f"{AS_OF - dt.timedelta(days=rng.randint(3, 40)):%Y%m%d}"
        line.defect = "cancelled"

    # newborns join a young family's household, right after its members
    line_of = {r.pk: line for r, line in zip(chosen, lines, strict=True)}
    for line, head in _newborns(snap, rng, chosen, want["new_resident"]):
        lines.insert(lines.index(line_of[head.pk]) + 1, line)
    # duplicates: a clean row exported again further down
    for line in clean.take(want["duplicate"], lambda v: True):
        at = rng.randint(lines.index(line) + 1, len(lines))
        lines.insert(at, Line(dict(line.values), "duplicate"))
    name = f"gongan_huji_{AS_OF:%Y%m%d}.csv"
    return AgencyFile(GONGAN, name, GONGAN_COLUMNS, lines)


def _relation_label(r: Resident) -> str:
    male, female = RELATION_LABELS.get(r.relation, ("其他", "其他"))
    return female if r.gender == Gender.FEMALE else male


def _household_order(r: Resident) -> tuple[str, int, int]:
    order: list[str] = list(RELATION_LABELS)
    rel = order.index(r.relation) if r.relation in order else len(order)
    return (r.household, rel, r.pk)


def _newborns(
    snap: Snapshot, rng: random.Random, chosen: list[Resident], n: int
) -> list[tuple[Line, Resident]]:
    """``n`` babies born in 2025 to households whose head is 22–45, with new valid ID
    numbers that no resident holds yet."""
    heads = [
        r
        for r in chosen
        if r.relation == Relation.HEAD and r.alive and 22 <= _age(r) <= 45 and r.household
    ]
    if len(heads) < n:
        raise LookupError(f"only {len(heads)} young households for {n} newborns")
    heads = rng.sample(heads, n)
    taken = {r.id_number for r in snap.residents}
    out = []
    for head in heads:
        gender = rng.choice((Gender.MALE, Gender.FEMALE))
        birth = dt.date(2025, rng.randint(1, 11), rng.randint(1, 28))
        number = _fresh_id(rng, birth, gender, taken)
        given = rng.choice(BABY_NAMES[0 if gender == Gender.MALE else 1])
        baby = Resident(
            pk=0, name=head.name[0] + given, id_number=number, birth_date=birth, gender=gender,
            ethnicity=head.ethnicity, hukou_code=WENSHANG, hukou_type=head.hukou_type,
            death_date=None, relation=Relation.CHILD, household=head.household,
            household_pk=head.household_pk, unit_path=head.unit_path, community=head.community,
            community_path=head.community_path, address=head.address,
        )  # fmt: skip
        values = _gongan_values(baby, rng)
        values["户籍地址"] = head.address
        out.append((Line(values, "new_resident"), head))
    return out


def _fresh_id(rng: random.Random, birth: dt.date, gender: str, taken: set[str]) -> str:
    while True:
        number = idnumber.build(WENSHANG, birth, rng.randint(0, 99), gender)
        if number in taken:
            continue
        # nobody anywhere in the county holds it (the snapshot covers one community)
        if not Person.objects.filter(id_number_index=pii.blind_index(number, purpose="id")):
            taken.add(number)
            return number


def _typo_people(
    rng: random.Random, people: list[Resident], chosen: list[Resident], n: int
) -> list[Resident]:
    """Living adults of the community with a character a clerk could mishear; people
    outside the export first, so the review pair is the only trace of them."""
    ids = {r.id_number for r in chosen}

    def fits(r: Resident) -> bool:
        return r.alive and _age(r) >= 18 and any(c in TYPOS for c in r.name[1:])

    outside = [r for r in people if fits(r) and r.id_number not in ids]
    inside = [r for r in people if fits(r) and r.id_number in ids]
    picked = rng.sample(outside, min(n, len(outside)))
    picked += rng.sample(inside, n - len(picked))
    return picked


def _typo(name: str) -> str:
    """The name with its last misheard character replaced (the surname is kept)."""
    for i in range(len(name) - 1, 0, -1):
        if name[i] in TYPOS:
            return name[:i] + TYPOS[name[i]] + name[i + 1 :]
    raise ValueError(name)


# --- 网格采集 ------------------------------------------------------------------------------
def _wangge(snap: Snapshot, rng: random.Random, gongan: AgencyFile) -> AgencyFile:
    """What grid workers collected door to door in the first community, as the grid
    centre's interface pages it (oldest change first): names written by ear without an
    ID number, a room that disagrees with 公安, records sent twice."""
    first = snap.communities[0][0]
    people = [r for r in snap.in_community(first) if r.alive]
    in_gongan = {line.values["公民身份号码"]: line for line in gongan.lines if not line.defect}
    size = min(max(60, len(people) // 20), 300, len(people))
    visited = rng.sample(people, size)
    want = DEFECTS[WANGGE]
    # the typo'd and the conflicting residents are visited too
    typo = _typo_people(rng, people, visited, want["no_id_typo"])
    known = [r for r in people if r.id_number in in_gongan and r not in typo]
    moved = rng.sample(known, want["address_conflict"])
    lines: list[Line] = []
    for r in visited:
        if r in typo or r in moved:
            continue
        lines.append(Line(_wangge_values(r, rng)))
    clean = _Picker(rng, lines)
    for line in clean.take(want["no_id_no_birthday"], lambda v: True):
        line.values["id_card"] = ""
        line.values["birthday"] = ""
        line.defect = "no_id_no_birthday"
    for r in typo:
        values = _wangge_values(r, rng)
        values["id_card"] = ""
        values["name"] = _typo(r.name)
        lines.append(Line(values, "no_id_typo"))
    rooms = sorted({r.address for r in people})
    for r in moved:
        values = _wangge_values(r, rng)
        values["address"] = _neighbour(rooms, r.address)
        lines.append(Line(values, "address_conflict"))
    lines.sort(key=lambda line: line.values["updated_at"])
    for line in clean.take(want["duplicate"], lambda v: True):
        # sent again on the next page (the interface's pages overlap)
        at = min(lines.index(line) + WANGGE_PAGE, len(lines))
        lines.insert(at, Line(dict(line.values), "duplicate"))
    return AgencyFile(WANGGE, "page", WANGGE_COLUMNS, lines)


def _wangge_values(r: Resident, rng: random.Random) -> dict[str, Any]:
    day = AS_OF - dt.timedelta(days=rng.randint(1, 90))
    at = dt.datetime.combine(day, dt.time(8, 30)) + dt.timedelta(minutes=rng.randint(0, 540))
    grid = r.unit_path.split("/")[4] if r.unit_path.count("/") > 5 else "01"
    return {
        "id_card": r.id_number,
        "name": r.name,
        "gender": GENDER_LABELS.get(r.gender, ""),
        "birthday": r.birth_date.isoformat(),
        "address": r.address,
        "updated_at": at.isoformat(timespec="seconds") + "+08:00",
        "collector": f"第{int(grid)}网格网格员",
    }


def _neighbour(rooms: list[str], address: str) -> str:
    """Another dwelling's address near ``address`` (the next one in the community)."""
    i = rooms.index(address)
    return rooms[i + 1] if i + 1 < len(rooms) else rooms[i - 1]


# --- 民政救助 -----------------------------------------------------------------------------
def _minzheng(snap: Snapshot, rng: random.Random, in_gongan: set[str]) -> AgencyFile:
    """民政's roster: every member of an assisted household (低保, 特困, 低保边缘) with
    the household's 保障人数 and amount, and a few 临时救助 one-off payments; with bad
    numbers, unknown categories, impossible dates, duplicates and a community that
    disagrees with 公安."""
    by_household: dict[int, list[Resident]] = {}
    for r in snap.residents:
        if r.household_pk is not None:
            by_household.setdefault(r.household_pk, []).append(r)
    lines: list[Line] = []
    marginal = 0
    for household in sorted(snap.assistance):
        members = sorted(
            (r for r in by_household.get(household, []) if r.alive), key=_household_order
        )
        if not members:
            continue
        codes = {code: since for code, since in snap.assistance[household]}
        if "特困" in codes:
            category, amount, since = "特困", Decimal("1150.00"), codes["特困"]
            members = members[:1]
        elif "低保" in codes:
            category, since = "低保", codes["低保"]
            amount = Decimal(len(members) * rng.randrange(280, 630, 10))
        else:
            marginal += 1
            if marginal > MARGINAL_HOUSEHOLDS:
                continue
            category, amount, since = "低保边缘", Decimal(0), codes["低收入"]
        for r in members:
            lines.append(Line(_minzheng_values(r, category, len(members), amount, since, None)))
    # 临时救助: one-off payments to households met by hardship this year
    heads = [r for r in snap.residents if r.alive and _age(r) >= 18 and r.relation == Relation.HEAD]
    for r in rng.sample(heads, min(TEMPORARY_RELIEF, len(heads))):
        day = AS_OF - dt.timedelta(days=rng.randint(20, 330))
        amount = Decimal(rng.randrange(500, 3001, 100))
        lines.append(Line(_minzheng_values(r, "临时救助", 1, amount, day, day)))
    lines.sort(key=lambda line: (line.values["所属社区"], line.values["身份证号"]))

    want = DEFECTS[MINZHENG]
    clean = _Picker(rng, lines)
    for line, code in zip(
        clean.take(want["unknown_category"], lambda v: v["救助类别"] == "临时救助"),
        UNKNOWN_CATEGORIES,
        strict=True,
    ):
        line.values["救助类别"] = code
        line.defect = "unknown_category"
    for line in clean.take(want["bad_checksum"], lambda v: True):
        line.values["身份证号"] = _wrong_check(line.values["身份证号"])
        line.defect = "bad_checksum"
    for line in clean.take(want["impossible_date"], lambda v: v["终止日期"] is None):
        since = line.values["起始日期"]
        line.values["起始日期"] = f"{since.year}-02-30"
        line.defect = "impossible_date"
    others = [name for _, name in snap.communities]
    for line in clean.take(
        want["address_conflict"],
        lambda v: v["身份证号"] in in_gongan and len(others) > 1,
    ):
        mine = line.values["所属社区"]
        line.values["所属社区"] = next(n for n in others if n != mine)
        line.defect = "address_conflict"
    for line in clean.take(want["duplicate"], lambda v: True):
        at = rng.randint(lines.index(line) + 1, len(lines))
        lines.insert(at, Line(dict(line.values), "duplicate"))
    name = f"minzheng_jiuzhu_{AS_OF:%Y%m}.xlsx"
    return AgencyFile(MINZHENG, name, MINZHENG_COLUMNS, lines, sheet="救助对象")


def _minzheng_values(
    r: Resident,
    category: str,
    persons: int,
    amount: Decimal,
    since: dt.date | None,
    until: dt.date | None,
) -> dict[str, Any]:
    return {
        "身份证号": r.id_number,
        "姓名": r.name,
        "救助类别": category,
        "保障人数": persons,
        "月保障金额": amount,
        "起始日期": since or dt.date(2020, 1, 1),
        "终止日期": until,
        "所属社区": r.community,
    }


# --- 残联残疾人证 --------------------------------------------------------------------------
def _canlian(snap: Snapshot, rng: random.Random) -> tuple[AgencyFile, AgencyFile]:
    """残联's certificates (20 digits: the ID number, category 1–7, level 1–4), in two
    monthly files; the later one comes in a changed template (a renamed column)."""
    by_pk = {r.pk: r for r in snap.residents}
    rows: list[tuple[dt.date, Line]] = []
    for pk, (category, grade, since) in sorted(snap.disabilities.items()):
        r = by_pk.get(pk)
        if r is None or not r.alive:
            continue
        issued = since or AS_OF - dt.timedelta(days=rng.randint(30, 3000))
        issued = max(issued, r.birth_date)
        level = min(max(int(grade), 1), 4)
        code = DISABILITY_CODES.get(category, 4)
        rows.append(
            (
                issued,
                Line(
                    {
                        "残疾人证号": f"{r.id_number}{code}{level}",
                        "姓名": r.name,
                        "残疾类别": category if category in DISABILITY_CODES else "肢体",
                        "残疾等级": LEVEL_LABELS[level],
                        "发证日期": issued,
                        "有效期至": _years_after(issued, 10),
                    }
                ),
            )
        )
    rows.sort(key=lambda pair: (pair[0], pair[1].values["残疾人证号"]))
    lines = [line for _, line in rows[:-CANLIAN_LATER_ROWS]]
    later_lines = [line for _, line in rows[-CANLIAN_LATER_ROWS:]]

    want = DEFECTS[CANLIAN]
    clean = _Picker(rng, lines)
    for line in clean.take(want["bad_checksum"], lambda v: True):
        cert = line.values["残疾人证号"]
        line.values["残疾人证号"] = _wrong_check(cert[:18]) + cert[18:]
        line.defect = "bad_checksum"
    for line in clean.take(want["category_mismatch"], lambda v: True):
        cert = line.values["残疾人证号"]
        digit = int(cert[18]) % 7 + 1  # another category
        line.values["残疾人证号"] = f"{cert[:18]}{digit}{cert[19]}"
        line.defect = "category_mismatch"
    for line in clean.take(want["bad_level"], lambda v: True):
        line.values["残疾人证号"] = line.values["残疾人证号"][:19] + "5"
        line.defect = "bad_level"
    for line in clean.take(want["impossible_date"], lambda v: True):
        year = 2031 if line.values["有效期至"].year != 2031 else 2033
        line.values["有效期至"] = f"{year}-02-29"
        line.defect = "impossible_date"
    for line in clean.take(want["duplicate"], lambda v: True):
        at = rng.randint(lines.index(line) + 1, len(lines))
        lines.insert(at, Line(dict(line.values), "duplicate"))

    old, new = CANLIAN_RENAMED
    renamed = tuple(new if c == old else c for c in CANLIAN_COLUMNS)
    for line in later_lines:
        line.values[new] = line.values.pop(old)
        line.defect = "renamed_column"
    first = AgencyFile(CANLIAN, "canlian_canji_202512.xlsx", CANLIAN_COLUMNS, lines, "持证残疾人")
    second = AgencyFile(CANLIAN, "canlian_canji_202601.xlsx", renamed, later_lines, "持证残疾人")
    return first, second


# --- helpers ------------------------------------------------------------------------------
class _Picker:
    """Draws defect-free lines, each at most once, so every line has one defect."""

    def __init__(self, rng: random.Random, lines: list[Line]) -> None:
        self.rng = rng
        self.lines = lines
        self.used: set[int] = set()

    def take(self, n: int, fits: Any) -> list[Line]:
        pool = [
            line
            for line in self.lines
            if not line.defect and id(line) not in self.used and fits(line.values)
        ]
        if len(pool) < n:
            raise LookupError(f"only {len(pool)} rows fit a defect wanted {n} times")
        picked = self.rng.sample(pool, n)
        self.used.update(id(line) for line in picked)
        return picked


def _wrong_check(value: str) -> str:
    right = idnumber.check_char(value[:17])
    wrong = "0" if right != "0" else "1"
    return value[:17] + wrong


def _age(r: Resident) -> int:
    b = r.birth_date
    return AS_OF.year - b.year - ((AS_OF.month, AS_OF.day) < (b.month, b.day))


def _years_after(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
