"""Import targets: what a row from an agency's data can become.

The data hub (``datahub``) reads agencies' files and interfaces, maps their columns to
a target's fields and hands the typed rows over in batches; the target writes them.
A target belongs to the app that owns its rows: ``datahub`` registers persons,
households and tags (it sits above ``people``), ``policies`` registers the benefits a
person receives. The registry lives here, in core, so that neither side imports the
other and the arrows of DESIGN.md keep pointing down.

A target registers once, in its app's ``AppConfig.ready()``::

    imports.register(BenefitTarget())

The engine calls ``target.write(context, rows)`` inside the transaction that also
commits the stream's state, so a batch and the cursor that covers it land together or
not at all. ``write`` must return one :class:`Outcome` per row, in order, and a
:class:`Problem` for every row it refuses (the row's outcome is then ``REJECTED``).
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .actions import may_change
from .errors import NotFound


class Kind(enum.StrEnum):
    """How a field's raw text is read (the data hub's mapping parses by kind)."""

    TEXT = "text"
    INT = "int"
    DECIMAL = "decimal"
    DATE = "date"
    ID_NUMBER = "id_number"  # GB 11643, 15 digits upgraded, checksum checked
    PHONE = "phone"
    CHOICE = "choice"  # one of ``TargetField.choices`` (after the dictionary map)


@dataclass(frozen=True)
class TargetField:
    name: str
    label: str  # Chinese, as shown in mappings and rejected-row reports
    kind: Kind = Kind.TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    pii: bool = False  # stored encrypted, shown masked (ID numbers, phones)


@dataclass(frozen=True)
class Row:
    """One source row after mapping: typed values under the target's field names."""

    line: int  # the row's line in the file (header = 1) or its position in the stream
    values: Mapping[str, Any]
    raw: Mapping[str, str]  # the source's columns as read, by column name
    digest: str  # hash of the raw row (exactly-once bookkeeping)


@dataclass(frozen=True)
class Problem:
    """Why a row (or one of its fields) was refused; sent back to the agency."""

    line: int
    field: str  # the target field, or "" for the row as a whole
    code: str  # machine-readable: "invalid_id_number", "required", "unknown_area" …
    reason: str  # Chinese, for the agency
    reason_en: str
    raw: str = ""  # the offending value as read (masked by the caller if personal)


def problem(line: int, field: str, code: str, zh: str, en: str, raw: Any = "") -> Problem:
    """A refusal of ``line`` (the raw value cut to what the report column holds)."""
    return Problem(
        line=line, field=field, code=code, reason=zh, reason_en=en, raw=str(raw or "")[:300]
    )


def refuse_holder(line: int, field: str, holder: Any, name: str, actor: Any) -> Problem | None:
    """Why a row about an existing resident (found by ID number) may not be written: the
    row names someone else, or the resident lives where ``actor`` may not change rows
    (the one rule, :func:`jiayuan.core.actions.may_change`). ``None`` when it may."""
    if name and name != holder.name:
        return problem(
            line, "name", "name_mismatch", f"姓名“{name}”与居民登记的姓名不一致",
            "the name disagrees with the resident's record", name,
        )  # fmt: skip
    if not may_change(actor, holder):
        return problem(
            line, field, "out_of_scope", "该居民不在您可以修改的区域内",
            "the person lives outside the areas you may change",
        )  # fmt: skip
    return None


def text(value: Any) -> str:
    """A mapped value as trimmed text ("" for nothing)."""
    return "" if value is None else str(value).strip()


def as_date(value: Any) -> dt.date | None:
    """A date from the mapping (typed already), or an ISO text; anything else is None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


class Outcome(enum.StrEnum):
    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    REVIEW = "review"  # held for a person's decision (entity resolution)


@dataclass
class Written:
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What a target knows about the import that hands it rows."""

    run_id: int
    source_code: str
    source_name: str  # the agency's source, e.g. "公安户籍"
    rank: int  # the source's authority (higher wins); per-field ranks below
    field_ranks: Mapping[str, int]
    as_of: dt.date  # the date the agency's data speaks for
    actor: Any = None  # the user who started the import, or None for a schedule

    def rank_of(self, name: str) -> int:
        return self.field_ranks.get(name, self.rank)


class Target(Protocol):
    code: str
    label: str
    fields: tuple[TargetField, ...]

    def write(self, context: Context, rows: Sequence[Row]) -> Written: ...


_lock = threading.Lock()
_targets: dict[str, Target] = {}


def register(target: Target) -> None:
    with _lock:
        _targets[target.code] = target


def get(code: str) -> Target:
    try:
        return _targets[code]
    except KeyError:
        raise NotFound(f"导入目标 {code} 不存在", f"there is no import target {code!r}") from None


def all_targets() -> list[Target]:
    return sorted(_targets.values(), key=lambda t: t.code)
