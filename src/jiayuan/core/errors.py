"""Errors that carry a message in Chinese and in English.

Every error a user can cause is one of these: the API turns it into
``{"code", "message", "detail"}`` with a 4xx status, pages show the Chinese text, the
CLI prints both with the row and field.
"""

from __future__ import annotations

from typing import Any


class BilingualError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, zh: str, en: str, *, detail: Any = None, field: str | None = None):
        self.zh = zh
        self.en = en
        self.detail = detail
        self.field = field
        super().__init__(f"{zh} / {en}")

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"


class ValidationFailed(BilingualError):
    code = "validation_error"
    status = 422


class NotFound(BilingualError):
    """Absent, or outside the acting user's scope: the two are indistinguishable."""

    code = "not_found"
    status = 404

    def __init__(self, zh: str = "对象不存在", en: str = "not found", **kw: Any):
        super().__init__(zh, en, **kw)


#: The largest row id: a larger one names no row (and SQLite cannot compare it).
MAX_ROW_ID = 2**63 - 1


def row_id(value: Any) -> int:
    """``value`` (from a path, a query string or a form) as a row id, or 404: not a
    number, below 1, or beyond 64 bits."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound() from None
    if not 1 <= number <= MAX_ROW_ID:
        raise NotFound()
    return number


class PermissionDenied(BilingualError):
    code = "permission_denied"
    status = 403

    def __init__(self, zh: str = "没有权限执行此操作", en: str = "permission denied", **kw: Any):
        super().__init__(zh, en, **kw)


class Conflict(BilingualError):
    code = "conflict"
    status = 409
