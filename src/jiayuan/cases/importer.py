"""Bulk import of 12345 hotline orders (12345热线工单导入) from CSV or XLSX.

Each row becomes a case through :func:`services.intake` (channel ``hotline``,
``source_ref`` = the order number), so imported orders are numbered, located, checked
for duplicates and dispatched exactly like any other case. Columns are matched to
fields by a mapping; the defaults cover the usual Chinese headers of a 12345 export.

Nothing is lost silently: every data row ends up in exactly one of *imported*,
*skipped* (its order number is already in the system, or earlier in the same file) or
*failed* — and each failure names its row (the spreadsheet row number, header = 1),
the field and the column, in Chinese and English. Good rows are imported even when
others fail; each row is its own savepoint. Re-importing a file imports nothing twice.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core.errors import BilingualError, NotFound, ValidationFailed

from . import routing, services
from .choices import Channel, Priority
from .models import Case, Category

#: The fields a column can feed, with their Chinese names.
FIELDS: dict[str, str] = {
    "source_ref": "工单编号",
    "received_at": "来电时间",
    "reporter_name": "来电人",
    "reporter_phone": "联系电话",
    "category": "诉求类别",
    "description": "诉求内容",
    "address": "地址",
    "lng": "经度",
    "lat": "纬度",
    "title": "标题",
    "priority": "紧急程度",
}
#: Headers recognised without a mapping (a 12345 export's own words and common variants).
DEFAULT_MAPPING: dict[str, str] = {
    **{label: name for name, label in FIELDS.items()},
    "工单号": "source_ref",
    "受理编号": "source_ref",
    "来电日期": "received_at",
    "受理时间": "received_at",
    "诉求人": "reporter_name",
    "来电号码": "reporter_phone",
    "联系方式": "reporter_phone",
    "诉求分类": "category",
    "问题分类": "category",
    "诉求描述": "description",
    "问题描述": "description",
    "事发地址": "address",
    "详细地址": "address",
    "诉求标题": "title",
    **{name: name for name in FIELDS},
}
REQUIRED = ("source_ref", "category", "description", "lat", "lng")
PRIORITIES = {
    **{str(p.label): p.value for p in Priority},
    **{p.value: p.value for p in Priority},
    "": Priority.NORMAL,
}
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y%m%d%H%M%S",
)
# The county lies far inside these; a pair that only fits swapped was swapped.
CHINA_LAT, CHINA_LNG = (3.0, 54.0), (73.0, 136.0)


@dataclass(frozen=True)
class RowError:
    """One problem with one row: where, which field, and what, in both languages."""

    line: int
    field: str
    column: str
    message: str
    message_en: str

    def __str__(self) -> str:
        return (
            f"第 {self.line} 行「{self.column}」：{self.message} / "
            f"line {self.line}, {self.field}: {self.message_en}"
        )


@dataclass
class ImportReport:
    """What an import did: one outcome per data row."""

    total: int = 0
    imported: list[str] = field(default_factory=list)  # case numbers
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, order number)
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    @property
    def failed_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    @property
    def counts(self) -> dict[str, int]:
        return {
            "total": self.total,
            "imported": len(self.imported),
            "skipped": len(self.skipped),
            "failed": len(self.failed_lines),
        }

    def summary(self) -> str:
        c = self.counts
        verb = "可导入" if self.dry_run else "导入"
        verb_en = "would import" if self.dry_run else "imported"
        return (
            f"共 {c['total']} 行：{verb} {c['imported']}，跳过已存在 {c['skipped']}，"
            f"失败 {c['failed']} / {c['total']} rows: {verb_en} {c['imported']}, "
            f"skipped duplicates {c['skipped']}, failed {c['failed']}"
        )


# --- mapping ---------------------------------------------------------------------------------
def parse_mapping(text: str | None) -> dict[str, str]:
    """``"工单号=source_ref,反映内容=description"`` → ``{header: field}``."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        column, sep, name = part.partition("=")
        column, name = column.strip(), name.strip()
        if not sep or not column or name not in FIELDS:
            raise ValidationFailed(
                f"列映射「{part.strip()}」无效，应为 列名=字段，字段为 {'、'.join(FIELDS)}",
                f"bad mapping {part.strip()!r}: use column=field with field one of "
                f"{', '.join(FIELDS)}",
                field="mapping",
            )
        mapping[column] = name
    return mapping


def _columns(headers: list[str], mapping: dict[str, str]) -> dict[str, str]:
    """``{field: header}`` for the headers present, explicit mapping first."""
    found: dict[str, str] = {}
    for source in (mapping, DEFAULT_MAPPING):
        for header in headers:
            name = source.get(header)
            if name and name not in found:
                found[name] = header
    missing = [name for name in REQUIRED if name not in found]
    if missing:
        labels = "、".join(FIELDS[m] for m in missing)
        raise ValidationFailed(
            f"文件缺少必需的列：{labels}（可用 --mapping 指定列名）",
            f"the file has no column for {', '.join(missing)} (use --mapping)",
            field="mapping",
        )
    return found


# --- reading ---------------------------------------------------------------------------------
def read_table(source: str | Path | IO[bytes], name: str = "") -> tuple[list[str], Iterator[Any]]:
    """The header row and an iterator of ``(line, {header: value})`` of a CSV (UTF-8 with
    or without BOM, or GB18030) or XLSX file. ``line`` is the spreadsheet row number."""
    name = name or str(getattr(source, "name", source))
    raw = Path(source).read_bytes() if isinstance(source, str | Path) else source.read()
    if name.lower().endswith((".xlsx", ".xlsm")):
        return _read_xlsx(raw)
    if name.lower().endswith(".csv") or not raw.startswith(b"PK"):
        return _read_csv(raw)
    return _read_xlsx(raw)


def _clean(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _read_csv(raw: bytes) -> tuple[list[str], Iterator[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ValidationFailed("无法识别文件编码", "unknown file encoding", field="file")
    reader = csv.reader(io.StringIO(text, newline=""))
    headers = [_clean(h) for h in next(reader, [])]

    def rows() -> Iterator[Any]:
        for line, values in enumerate(reader, start=2):
            yield line, dict(zip(headers, (_clean(v) for v in values), strict=False))

    return headers, rows()


def _read_xlsx(raw: bytes) -> tuple[list[str], Iterator[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise ValidationFailed(
            "无法读取 Excel 文件", f"cannot read the Excel file: {exc}", field="file"
        ) from exc
    sheet = book.worksheets[0]
    it = sheet.iter_rows(values_only=True)
    headers = [str(_clean(h)) if h is not None else "" for h in next(it, ())]

    def rows() -> Iterator[Any]:
        for line, values in enumerate(it, start=2):
            yield line, dict(zip(headers, (_clean(v) for v in values), strict=False))
        book.close()

    return headers, rows()


# --- one row ---------------------------------------------------------------------------------
class _Row:
    """Parses one row, collecting every problem rather than stopping at the first."""

    def __init__(self, line: int, values: dict[str, Any], columns: dict[str, str]) -> None:
        self.line = line
        self.values = values
        self.columns = columns
        self.errors: list[RowError] = []

    def raw(self, name: str) -> Any:
        header = self.columns.get(name)
        value = self.values.get(header) if header else None
        return "" if value is None else value

    def text(self, name: str) -> str:
        value = self.raw(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # Excel turns order and phone numbers into numbers
        return str(value).strip()

    def fail(self, name: str, message: str, message_en: str) -> None:
        column = self.columns.get(name) or FIELDS.get(name, "整行")
        if name == "location":
            column = "/".join(self.columns.get(n, FIELDS[n]) for n in ("lng", "lat"))
        self.errors.append(RowError(self.line, name, column, message, message_en))

    def blank(self) -> bool:
        return all(v in (None, "") for v in self.values.values())

    def number(self, name: str) -> float | None:
        value = self.raw(name)
        if value in ("", None):
            self.fail(name, f"{FIELDS[name]}为空", f"{name} is empty")
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            self.fail(name, f"{FIELDS[name]}不是数字", f"{name} is not a number")
            return None


def _received_at(row: _Row, now: dt.datetime) -> dt.datetime | None:
    if "received_at" not in row.columns:
        return now
    value = row.raw("received_at")
    if value in ("", None):
        row.fail("received_at", "来电时间为空", "received_at is empty")
        return None
    moment: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(9))
    else:
        for fmt in TIME_FORMATS:
            try:
                moment = dt.datetime.strptime(str(value).strip(), fmt)  # noqa: DTZ007
                break
            except ValueError:
                continue
    if moment is None:
        row.fail(
            "received_at",
            "来电时间格式无法识别（应如 2026-11-28 09:15）",
            "received_at is not a date and time like 2026-11-28 09:15",
        )
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > now + dt.timedelta(minutes=5):
        row.fail("received_at", "来电时间晚于当前时间", "received_at is in the future")
        return None
    return moment


class _Categories:
    """Resolves a category cell: a code (``0102``), a name (``电梯故障``) or a path
    (``物业服务/电梯故障``, ``物业服务-电梯故障``, ``物业服务>电梯故障``)."""

    def __init__(self) -> None:
        self.items = list(Category.objects.select_related("parent"))
        self.by_code = {c.code: c for c in self.items}
        self.by_name: dict[str, list[Category]] = {}
        for c in self.items:
            self.by_name.setdefault(c.name, []).append(c)

    def find(self, text: str) -> Category | None:
        text = text.strip()
        if text in self.by_code:
            return self.by_code[text]
        for sep in ("/", ">", "-", "－", "—", "｜", "|"):
            if sep in text:
                parent, _sep, child = (p.strip() for p in text.rpartition(sep))
                for c in self.by_name.get(child, []):
                    if c.parent is not None and c.parent.name == parent.split(sep)[-1].strip():
                        return c
        found = self.by_name.get(text, [])
        return found[0] if len(found) == 1 else None


def _parse(
    row: _Row, categories: _Categories, now: dt.datetime
) -> tuple[str, dict[str, Any]] | None:
    """The order number and the keyword arguments of ``intake`` for a good row."""
    ref = row.text("source_ref")
    if not ref:
        row.fail("source_ref", "工单编号为空", "source_ref is empty")
    elif len(ref) > 40:
        row.fail("source_ref", "工单编号过长（最多 40 个字符）", "source_ref is over 40 characters")
    category_text = row.text("category")
    category = categories.find(category_text) if category_text else None
    if not category_text:
        row.fail("category", "诉求类别为空", "category is empty")
    elif category is None:
        row.fail(
            "category",
            f"未知的诉求类别「{category_text[:20]}」",
            f"unknown category {category_text[:20]!r}",
        )
    description = row.text("description")
    if not description:
        row.fail("description", "诉求内容为空", "description is empty")
    phone = row.text("reporter_phone")
    if phone:
        from jiayuan.people.services import validate_phone

        try:
            phone = validate_phone(phone)
        except BilingualError as exc:
            row.fail("reporter_phone", exc.zh, exc.en)
    priority = PRIORITIES.get(row.text("priority"))
    if priority is None:
        row.fail("priority", "紧急程度应为 一般/紧急/特急", "priority must be 一般, 紧急 or 特急")
    received_at = _received_at(row, now)
    lat, lng = row.number("lat"), row.number("lng")
    grid = None
    if lat is not None and lng is not None:
        if not (CHINA_LAT[0] <= lat <= CHINA_LAT[1] and CHINA_LNG[0] <= lng <= CHINA_LNG[1]):
            swapped = CHINA_LAT[0] <= lng <= CHINA_LAT[1] and CHINA_LNG[0] <= lat <= CHINA_LNG[1]
            row.fail(
                "location",
                "经度、纬度似乎填反了" if swapped else "经纬度不在中国境内",
                "longitude and latitude look swapped" if swapped else "the point is not in China",
            )
        else:
            try:
                grid = routing.locate_grid(lat=lat, lng=lng)
            except BilingualError as exc:
                row.fail("location", exc.zh, exc.en)
    if row.errors:
        return None
    assert category is not None  # noqa: S101 - no errors means all were parsed
    return ref, {
        "channel": Channel.HOTLINE,
        "category": category,
        "description": description,
        "title": row.text("title"),
        "lat": lat,
        "lng": lng,
        "grid": grid,
        "address": row.text("address")[:200],
        "reporter_name": row.text("reporter_name")[:50],
        "reporter_phone": phone,
        "priority": priority,
        "source_ref": ref,
        "received_at": received_at,
    }


# --- the import ------------------------------------------------------------------------------
def import_hotline(
    source: str | Path | IO[bytes],
    *,
    name: str = "",
    mapping: dict[str, str] | None = None,
    actor: Any = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import the hotline orders of a CSV or XLSX file; see the module docstring.

    ``actor`` None imports as the system (the command line); a staff member may only
    import orders located in their area. With ``dry_run`` every row is validated and
    even filed, inside a transaction that is then rolled back."""
    headers, rows = read_table(source, name)
    columns = _columns(headers, mapping or {})
    report = ImportReport(dry_run=dry_run)
    categories = _Categories()
    now = timezone.now()
    pending: list[tuple[_Row, str, dict[str, Any]]] = []
    for line, values in rows:
        row = _Row(line, values, columns)
        if row.blank():
            continue
        report.total += 1
        parsed = _parse(row, categories, now)
        if parsed is None:
            report.errors.extend(row.errors)
        else:
            pending.append((row, *parsed))
    existing = _existing_refs([ref for _row, ref, _kw in pending])
    with transaction.atomic():
        for row, ref, kwargs in pending:
            if ref in existing:
                report.skipped.append((row.line, ref))
                continue
            try:
                with transaction.atomic():
                    case = services.intake(actor=actor, **kwargs)
            except BilingualError as exc:
                # intake refuses a location outside the actor's area as "not found"
                where = exc.field or ("location" if isinstance(exc, NotFound) else "row")
                row.fail(where, exc.zh, exc.en)
                report.errors.extend(row.errors)
                continue
            existing.add(ref)  # a second row with the same order number is a duplicate
            report.imported.append(case.number)
        if dry_run:
            transaction.set_rollback(True)
    report.errors.sort(key=lambda e: e.line)
    return report


def _existing_refs(refs: list[str], chunk: int = 500) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(refs), chunk):
        found.update(
            Case.objects.filter(
                channel=Channel.HOTLINE, source_ref__in=refs[start : start + chunk]
            ).values_list("source_ref", flat=True)
        )
    return found
