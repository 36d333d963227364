"""Mapping: a source's columns to a target's fields, with transforms, parsed by kind.

A stream's mapping is a list of entries (``Stream.mapping``, written in sources.yaml or
on the admin pages)::

    {"column": "出生日期", "field": "birth_date", "transforms": ["trim"],
     "formats": ["%Y.%m.%d"], "map": {...}, "aliases": [...], "optional": false}
    {"column": "备注", "ignore": true}

Each value goes through its transforms (``trim``, ``nospace``, ``halfwidth``, ``upper``,
``lower``), then the dictionary map (``"*"`` is the value of anything unlisted), then
is parsed by the target field's :class:`~jiayuan.core.imports.Kind`: ID numbers by
:func:`jiayuan.core.idnumber.parse` (15 digits upgraded, lowercase x raised), dates in
the usual Chinese spellings (YYYYMMDD, YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日)
and Excel serial days, numbers with thousands separators and 元/人.

Every bad value is a :class:`~jiayuan.core.imports.Problem` (line, field, code, Chinese
reason, the value as read — an ID number masked). A problem with a required field
refuses the row; a problem with an optional field leaves that field out of the row
(the target keeps what it had) and is still reported, so nothing is dropped silently.

Schema drift — a mapped column missing from the file, or a column the mapping does not
know — is found by :meth:`Mapping.drift` before any row is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Sequence
from collections.abc import Mapping as MappingT
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils import timezone

from jiayuan.core import idnumber, pii
from jiayuan.core.errors import ValidationFailed
from jiayuan.core.imports import Kind, Problem, Row, TargetField

from .connectors import EXTRA, text_of

MAX_TEXT = 500
EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (with its 1900 leap-year bug folded in)
_FULLWIDTH = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_SPACES = re.compile(r"\s+")
_TRIM = " \t\r\n\u3000\u00a0\ufeff"
_DATE_PATTERNS = (
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)
_NUMBER_NOISE = re.compile(r"[,，\s元人¥￥]")
_PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")
TRANSFORMS = ("trim", "nospace", "halfwidth", "upper", "lower")


class MappingError(ValidationFailed):
    """The stream's mapping itself is wrong (a field the target lacks …)."""

    code = "bad_mapping"


@dataclass(frozen=True)
class Entry:
    column: str
    field: TargetField | None  # None: a column the stream knows and ignores
    transforms: tuple[str, ...] = ()
    table: MappingT[str, Any] | None = None
    formats: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    optional: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.column, *self.aliases)


@dataclass(frozen=True)
class Drift:
    missing: list[str] = field(default_factory=list)  # mapped columns not in the file
    new: list[str] = field(default_factory=list)  # columns of the file the mapping lacks
    renamed: dict[str, str] = field(default_factory=dict)  # alias found → mapped column

    def __bool__(self) -> bool:
        return bool(self.missing or self.new)

    def as_dict(self) -> dict[str, Any]:
        return {"missing": self.missing, "new": self.new, "renamed": self.renamed}

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"缺少列：{'、'.join(self.missing)}")
        if self.new:
            parts.append(f"新增列：{'、'.join(self.new)}")
        return "；".join(parts)

    def describe_en(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing columns: {', '.join(self.missing)}")
        if self.new:
            parts.append(f"new columns: {', '.join(self.new)}")
        return "; ".join(parts)


def digest(raw: MappingT[str, Any], columns: Sequence[str]) -> str:
    """The row's fingerprint for exactly-once bookkeeping: its values in column order."""
    text = "\x1f".join([v if type(v) is str else text_of(v) for v in map(raw.get, columns)])
    if EXTRA in raw:
        text += "\x1e" + "\x1f".join(raw[EXTRA])
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


class Mapping:
    """A compiled mapping for one target; see the module's docstring."""

    def __init__(self, spec: Iterable[MappingT[str, Any]], fields: Sequence[TargetField]) -> None:
        by_name = {f.name: f for f in fields}
        self.fields = by_name
        self.entries: list[Entry] = []
        seen: set[str] = set()
        for item in spec:
            column = str(item.get("column", "")).strip()
            if not column:
                raise MappingError(
                    "映射的每一项都要有 column", "every mapping entry needs a column"
                )
            if item.get("ignore"):
                self.entries.append(Entry(column, None, aliases=tuple(item.get("aliases") or ())))
                continue
            name = item.get("field", "")
            target_field = by_name.get(name)
            if target_field is None:
                raise MappingError(
                    f"列「{column}」映射到的字段 {name} 不存在（可用：{'、'.join(by_name)}）",
                    f"column {column!r} maps to unknown field {name!r}",
                )
            if name in seen:
                raise MappingError(f"字段 {name} 被映射了两次", f"field {name!r} is mapped twice")
            seen.add(name)
            transforms = tuple(item.get("transforms") or ())
            unknown = [t for t in transforms if t not in TRANSFORMS]
            if unknown:
                raise MappingError(
                    f"列「{column}」的转换 {unknown} 不存在（可用：{'、'.join(TRANSFORMS)}）",
                    f"column {column!r}: unknown transforms {unknown}",
                )
            table = item.get("map")
            self.entries.append(
                Entry(
                    column=column,
                    field=target_field,
                    transforms=transforms,
                    table={str(k): v for k, v in table.items()} if table else None,
                    formats=tuple(item.get("formats") or ()),
                    aliases=tuple(item.get("aliases") or ()),
                    optional=bool(item.get("optional", False)),
                )
            )
        self.required = [f for f in fields if f.required]
        unmapped = [f.name for f in self.required if f.name not in seen]
        if unmapped:
            raise MappingError(
                f"必填字段未映射：{'、'.join(unmapped)}", f"required fields unmapped: {unmapped}"
            )
        self._bound: list[tuple[Entry, TargetField, str, bool]] = []
        self.today = timezone.localdate()

    # --- the columns of a file ---------------------------------------------------------
    def drift(self, header: Sequence[str]) -> Drift:
        present = set(header)
        known: set[str] = set()
        missing, renamed = [], {}
        for entry in self.entries:
            known.update(entry.names)
            found = next((n for n in entry.names if n in present), None)
            if found is None:
                if not entry.optional and entry.field is not None:
                    missing.append(entry.column)
            elif found != entry.column:
                renamed[found] = entry.column
        new = [c for c in header if c not in known]
        return Drift(missing=missing, new=new, renamed=renamed)

    def bind(self, header: Sequence[str]) -> None:
        """Pick, for each entry, the header it reads (its column or an alias)."""
        present = set(header)
        self._bound = []
        for entry in self.entries:
            if entry.field is None:
                continue
            found = next((n for n in entry.names if n in present), entry.column)
            self._bound.append((entry, entry.field, found, _plain_text(entry, entry.field)))

    # --- one row -----------------------------------------------------------------------
    def row(
        self, line: int, raw: MappingT[str, Any], row_digest: str
    ) -> tuple[Row | None, list[Problem]]:
        """The typed row, or ``None`` when it is refused; and every problem found."""
        values: dict[str, Any] = {}
        problems: list[Problem] = []
        refused = False
        if EXTRA in raw:
            problems.append(
                Problem(
                    line,
                    "",
                    "extra_cells",
                    "该行的单元格比表头多（可能有未加引号的逗号）",
                    "the row has more cells than the header (an unquoted comma?)",
                    "，".join(raw[EXTRA])[:300],
                )
            )
            refused = True
        for entry, target, column, plain in self._bound:
            if plain:  # the common case, inline: text that is only trimmed
                value = raw.get(column)
                if type(value) is str:
                    text = value.strip(_TRIM) if entry.transforms else value
                    if (text or not target.required) and len(text) <= MAX_TEXT:
                        values[target.name] = text
                        continue
            try:
                value = parse(raw.get(column), entry, target, self.today)
            except _Bad as bad:
                shown = text_of(raw.get(column))
                if target.kind == Kind.ID_NUMBER or target.pii:
                    shown = (
                        pii.mask_id_number(shown)
                        if target.kind == Kind.ID_NUMBER
                        else pii.mask_phone(shown)
                    )
                problems.append(Problem(line, target.name, bad.code, bad.zh, bad.en, shown[:300]))
                if target.required:
                    refused = True
                continue
            if value is None or value == "":
                if target.required:
                    problems.append(
                        Problem(
                            line,
                            target.name,
                            "required",
                            f"「{target.label}」不能为空",
                            f"{target.name} is required",
                        )
                    )
                    refused = True
                    continue
            values[target.name] = value
        if refused:
            return None, problems
        shown_raw = {k: text_of(v) for k, v in raw.items() if k != EXTRA}
        return Row(line=line, values=values, raw=shown_raw, digest=row_digest), problems


def _plain_text(entry: Entry, target: TargetField) -> bool:
    """A text field read as it is, or only trimmed: :meth:`Mapping.row` inlines it."""
    return target.kind == Kind.TEXT and entry.table is None and entry.transforms in ((), ("trim",))


class _Bad(Exception):
    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code, self.zh, self.en = code, zh, en


def transform(text: str, transforms: Sequence[str]) -> str:
    if transforms == ("trim",):
        return text.strip(_TRIM)
    for name in transforms:
        if name == "trim":
            text = text.strip(_TRIM)
        elif name == "nospace":
            text = _SPACES.sub("", text.replace("\u3000", ""))
        elif name == "halfwidth":
            text = text.translate(_FULLWIDTH)
        elif name == "upper":
            text = text.upper()
        elif name == "lower":
            text = text.lower()
    return text


def parse(value: Any, entry: Entry, target: TargetField, today: dt.date | None = None) -> Any:
    """``value`` as read → the field's typed value (``None`` when empty)."""
    kind = target.kind
    if kind == Kind.ID_NUMBER and isinstance(value, float | int) and not isinstance(value, bool):
        if abs(value) >= 1e15:
            raise _Bad(
                "id_number_as_number",
                "身份证号以数字格式保存，后几位已丢失，请将该列设为文本格式后重新导出",
                "the ID number was stored as a number and lost its last digits: export as text",
            )
    if kind == Kind.DATE and isinstance(value, dt.date | dt.datetime) and not entry.table:
        return value.date() if isinstance(value, dt.datetime) else value
    if value is None:
        text = ""
    else:
        text = transform(value if type(value) is str else text_of(value), entry.transforms)
    if entry.table is not None and text != "":
        if text in entry.table:
            mapped = entry.table[text]
        elif "*" in entry.table:
            mapped = entry.table["*"]
        else:
            raise _Bad(
                "unknown_code",
                f"「{target.label}」的值「{text[:40]}」不在对照表中",
                f"{target.name}: {text[:40]!r} is not in the dictionary",
            )
        text = text_of(mapped)
    if text == "":
        return "" if kind in (Kind.TEXT, Kind.CHOICE) else None
    if len(text) > MAX_TEXT:
        raise _Bad(
            "too_long",
            f"「{target.label}」超过 {MAX_TEXT} 个字符",
            f"{target.name} is longer than {MAX_TEXT} characters",
        )
    if kind == Kind.TEXT:
        return text
    if kind == Kind.CHOICE:
        if target.choices and text not in target.choices:
            raise _Bad(
                "invalid_choice",
                f"「{target.label}」应为 {'、'.join(target.choices)} 之一",
                f"{target.name} must be one of {', '.join(target.choices)}",
            )
        return text
    if kind == Kind.ID_NUMBER:
        try:
            return idnumber.parse(text, today=today).value
        except idnumber.InvalidIDNumber as exc:
            raise _Bad("invalid_id_number", exc.zh, exc.en) from None
    if kind == Kind.DATE:
        return parse_date(text, entry.formats, target)
    if kind == Kind.INT:
        number = _number(text, target)
        if number != number.to_integral_value():
            raise _Bad("invalid_int", f"「{target.label}」应为整数", f"{target.name} is not whole")
        return int(number)
    if kind == Kind.DECIMAL:
        return _number(text, target)
    if kind == Kind.PHONE:
        digits = text.replace(" ", "").replace("+86", "")
        if not _PHONE.match(digits):
            raise _Bad("invalid_phone", f"「{target.label}」不是有效的电话号码",
                       f"{target.name} is not a phone number")  # fmt: skip
        return digits
    return text  # pragma: no cover - every Kind is handled above


def _number(text: str, target: TargetField) -> Decimal:
    try:
        number = Decimal(_NUMBER_NOISE.sub("", text))
    except InvalidOperation:
        raise _Bad(
            "invalid_number", f"「{target.label}」不是数字", f"{target.name} is not a number"
        ) from None
    if not number.is_finite() or abs(number) >= Decimal("1e12"):
        raise _Bad(
            "invalid_number", f"「{target.label}」数值无效", f"{target.name} is out of range"
        )
    return number


@lru_cache(maxsize=65536)
def _plain_date(text: str) -> dt.date | None:
    """YYYYMMDD and YYYY-MM-DD, the spellings of nearly every row, without a regex
    (birth dates repeat: the answers are kept)."""
    try:
        if len(text) == 8 and text.isdigit():
            day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        elif len(text) == 10 and text[4] == "-" and text[7] == "-":
            day = dt.date(int(text[:4]), int(text[5:7]), int(text[8:]))
        else:
            return None
    except ValueError:
        return None
    return day if 1880 <= day.year <= 2200 else None


def parse_date(text: str, formats: Sequence[str], target: TargetField) -> dt.date:
    if not formats:
        day = _plain_date(text)
        if day is not None:
            return day
    for fmt in formats:
        try:
            return dt.datetime.strptime(text, fmt).date()  # noqa: DTZ007 - a date, no zone
        except ValueError:
            continue
    if (text.isdigit() and len(text) <= 5) or re.fullmatch(r"\d{1,5}\.0+", text):
        serial = int(float(text))
        if 1 <= serial <= 2958465:  # Excel's 9999-12-31
            return EXCEL_EPOCH + dt.timedelta(days=serial)
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            try:
                day = dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                break
            if day.year < 1880 or day.year > 2200:
                break
            return day
    raise _Bad(
        "invalid_date",
        f"「{target.label}」的日期「{text[:40]}」无法识别或不存在",
        f"{target.name}: {text[:40]!r} is not a (real) date",
    )
