"""The one error a rule can raise: :class:`RuleError`, in Chinese and English.

Every problem with a rule (a typo, an unknown field, comparing a string with a number,
an unsafe construct) is found when the rule is compiled, i.e. when it is saved, and is
reported with its position so an editor can underline it. Nothing raises at match time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jiayuan.core.errors import BilingualError


@dataclass(frozen=True)
class Span:
    """Where a piece of a rule sits in its source: character offsets and 1-based line/column."""

    start: int
    end: int
    line: int
    column: int

    @classmethod
    def at(cls, source: str, start: int, end: int | None = None) -> Span:
        line = source.count("\n", 0, start) + 1
        column = start - (source.rfind("\n", 0, start) + 1) + 1
        return cls(start, start if end is None else end, line, column)

    def where_zh(self) -> str:
        return f"第{self.line}行第{self.column}列"

    def where_en(self) -> str:
        return f"line {self.line}, column {self.column}"


class RuleError(BilingualError):
    """A rule that cannot be accepted: bad syntax, unknown name, type error or unsafe form.

    ``detail`` is JSON for editors: ``{"line", "column", "start", "end", "expected"?}``.
    """

    code = "invalid_rule"
    status = 422

    def __init__(
        self,
        zh: str,
        en: str,
        *,
        span: Span | None = None,
        expected: list[str] | None = None,
    ) -> None:
        detail: dict[str, Any] = {}
        if span is not None:
            zh = f"{span.where_zh()}：{zh}"
            en = f"{span.where_en()}: {en}"
            detail = {
                "line": span.line,
                "column": span.column,
                "start": span.start,
                "end": span.end,
            }
        if expected:
            detail["expected"] = expected
        super().__init__(zh, en, detail=detail or None, field="rule")
        self.span = span
        self.expected = expected or []
