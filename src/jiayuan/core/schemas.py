"""API schemas every app shares: the page envelope, paging parameters, the error body."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from ninja import Field, Schema

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class Page(Schema, Generic[T]):
    """One page of a list: ``{"items": [...], "count": N}``, N counting every match."""

    items: list[T]
    count: int


class PageParams(Schema):
    """``limit`` (1–500, default 50) and ``offset`` query parameters."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="每页条数 / page size")
    offset: int = Field(0, ge=0, description="起始位置 / rows to skip")


class ErrorOut(Schema):
    """The body of every error: a stable ``code``, a Chinese / English ``message``."""

    code: str
    message: str
    detail: Any = None


class LatLng(Schema):
    lat: float
    lng: float
