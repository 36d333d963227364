"""The review queue's API (待核对记录): rows without a usable ID number that resemble a
resident, and the decisions on them (:mod:`jiayuan.datahub.resolution`).

A reviewer sees the pairs whose candidate lives in their area; deciding needs the
change permission there (403 for those who only see, 404 outside the area). The
incoming row is shown masked (ID numbers); the decisions are audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.roles import Perm
from jiayuan.core.schemas import Page, PageParams
from jiayuan.core.scoping import path_allowed

from . import resolution
from .models import ReviewPair, ReviewStatus

router = Router(tags=["数据汇聚"])


class ReviewFilters(Schema):
    status: ReviewStatus | None = Field(
        None, description="状态 / pending, merged, distinct, undone"
    )
    run: int | None = Field(None, description="导入批次 / import run id")


class CandidateOut(Schema):
    id: int
    name: str
    id_number: str = Field(description="身份证号（脱敏） / masked ID number")
    birth_date: dt.date | None
    gender: str
    area_path: str


class ReviewOut(Schema):
    """A pair: the incoming row (masked), the resident it resembles, the score."""

    id: int
    run: int
    line: int
    source: str
    status: ReviewStatus
    score: float
    incoming: dict[str, Any]
    person: CandidateOut
    decided_by: str | None
    decided_at: dt.datetime | None


class ReviewDetail(ReviewOut):
    details: dict[str, Any] = Field(description="逐项比对 / per-feature scores")
    may_decide: bool
    created_person: int | None = Field(None, description="核对为新居民时新增的居民")


def _out(pair: ReviewPair) -> dict[str, Any]:
    person = pair.person
    return {
        "id": pair.pk, "run": pair.run_id, "line": pair.line,
        "source": pair.run.stream.source.name, "status": pair.status, "score": pair.score,
        "incoming": pair.incoming,
        "person": {
            "id": person.pk, "name": person.name, "id_number": person.id_number_masked,
            "birth_date": person.birth_date, "gender": person.gender,
            "area_path": person.area_path,
        },
        "decided_by": pair.decided_by.username if pair.decided_by else None,
        "decided_at": pair.decided_at,
    }  # fmt: skip


def _detail(user: Any, pair: ReviewPair) -> dict[str, Any]:
    may = path_allowed(user, pair.area_path, Perm.CHANGE)
    return _out(pair) | {
        "details": pair.details,
        "may_decide": may and pair.status in (ReviewStatus.PENDING, ReviewStatus.MERGED),
        "created_person": (pair.undo or {}).get("created"),
    }


def queue(user: Any, status: str | None = None, run: int | None = None) -> QuerySet[ReviewPair]:
    """The pairs the user sees, best score first (pages and API alike)."""
    qs = resolution.visible_pairs(user).select_related("decided_by")
    if status:
        qs = qs.filter(status=status)
    if run is not None:
        qs = qs.filter(run_id=run)
    return qs.order_by("-score", "pk")


@router.get("/hub/reviews", response=responses(Page[ReviewOut]))
def list_reviews(
    request: HttpRequest, filters: Query[ReviewFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Pairs held for review in the user's area (``status=pending`` for the queue)."""
    result = paginate(queue(acting_user(request), filters.status, filters.run), page)
    result["items"] = [_out(p) for p in result["items"]]
    return result


@router.get("/hub/reviews/{pair_id}", response=responses(ReviewDetail))
def get_review(request: HttpRequest, pair_id: int) -> dict[str, Any]:
    """One pair with the per-feature comparison (name, birth date, address, gender)."""
    user = acting_user(request)
    return _detail(user, resolution.get_pair(user, pair_id))


def _decided(request: HttpRequest, pair_id: int) -> dict[str, Any]:
    user = acting_user(request)
    return _detail(user, resolution.get_pair(user, pair_id))


@router.post("/hub/reviews/{pair_id}/merge", response=responses(ReviewDetail))
def merge_review(request: HttpRequest, pair_id: int) -> dict[str, Any]:
    """Same person: the row's values are applied by rank; can be undone."""
    resolution.merge(acting_user(request), pair_id)
    return _decided(request, pair_id)


@router.post("/hub/reviews/{pair_id}/distinct", response=responses(ReviewDetail))
def distinct_review(request: HttpRequest, pair_id: int) -> dict[str, Any]:
    """Not the same person: the row becomes a new resident when its address places it."""
    resolution.distinct(acting_user(request), pair_id)
    return _decided(request, pair_id)


@router.post("/hub/reviews/{pair_id}/undo", response=responses(ReviewDetail))
def undo_review(request: HttpRequest, pair_id: int) -> dict[str, Any]:
    """Take a merge back: the resident's values and provenance as before it."""
    resolution.undo(acting_user(request), pair_id)
    return _decided(request, pair_id)
