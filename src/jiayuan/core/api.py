"""Core API: obtaining a bearer token, the inbox (``/notifications``), and the helpers
every app's API uses.

The helpers keep handlers thin and uniform: who is acting, a page of a scoped queryset,
an object the user may see (or 404), and the 403 for "may see but not change".
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from django.contrib.auth import authenticate
from django.db import models
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from .errors import BilingualError, NotFound, PermissionDenied
from .models import ApiToken, Notification
from .roles import Perm
from .schemas import ErrorOut, Page, PageParams
from .scoping import path_allowed

router = Router(tags=["auth"])

M = TypeVar("M", bound=models.Model)

#: Error statuses documented on every operation (the handlers in ``jiayuan.api``).
ERROR_RESPONSES: dict[int, Any] = {code: ErrorOut for code in (400, 401, 403, 404, 409, 422)}


def responses(ok: Any, status: int = 200) -> dict[int, Any]:
    """The ``response=`` mapping of an operation: its success schema plus the errors."""
    return {status: ok, **ERROR_RESPONSES}


def acting_user(request: HttpRequest) -> Any:
    """The authenticated user (session or bearer token) acting in this request."""
    return request.auth  # type: ignore[attr-defined]


def paginate(queryset: models.QuerySet[M], page: PageParams) -> dict[str, Any]:
    """``{"items": [...], "count": N}`` for one window of ``queryset``.

    The primary key ends the ordering, so that pages never overlap or skip rows where the
    model's own ordering has ties (PostgreSQL returns ties in any order).
    """
    ordering = list(queryset.query.order_by) or list(queryset.model._meta.ordering or ())
    if not {"pk", "-pk", "id", "-id"} & {str(term) for term in ordering}:
        queryset = queryset.order_by(*ordering, "pk")
    items = list(queryset[page.offset : page.offset + page.limit])
    if page.offset == 0 and len(items) < page.limit:
        count = len(items)  # the whole result fits in the first page: no COUNT needed
    else:
        count = queryset.count()
    return {"items": items, "count": count}


def get_visible(queryset: models.QuerySet[M], user: Any, **lookup: Any) -> M:
    """The one row of ``queryset`` matching ``lookup`` that ``user`` may see, else 404.

    Absent and out-of-scope rows answer the same, so existence never leaks.
    """
    visible = queryset.visible_to(user)  # type: ignore[attr-defined]
    obj = visible.filter(**lookup).first()
    if obj is None:
        raise NotFound()
    return obj  # type: ignore[no-any-return]


def require_change(user: Any, obj: models.Model) -> None:
    """403 when ``user`` sees ``obj`` but holds no change permission where it lives."""
    if not path_allowed(user, getattr(obj, "area_path", ""), Perm.CHANGE):
        raise PermissionDenied("没有修改该对象的权限", "you may view but not change this object")


class TokenIn(Schema):
    username: str
    password: str


class TokenOut(Schema):
    token: str
    token_type: str = "Bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_at: str


class BadCredentials(BilingualError):
    code = "unauthorized"
    status = 401


@router.post("/auth/token", auth=None, response=responses(TokenOut))
def issue_token(request: HttpRequest, body: TokenIn) -> dict[str, str]:
    """Exchange a username and password for a bearer token (valid 30 days)."""
    user = authenticate(request, username=body.username, password=body.password)
    if user is None or not user.is_active:
        raise BadCredentials("用户名或密码错误", "wrong username or password")
    raw, row = ApiToken.issue(user)
    expires = row.expires_at.isoformat() if row.expires_at else ""
    return {"token": raw, "token_type": "Bearer", "expires_at": expires}


# --- the inbox (消息) ---------------------------------------------------------------------
class NotificationOut(Schema):
    """A notice in the acting user's inbox (消息)."""

    id: int
    kind: str
    title: str
    body: str
    link: str = Field(description="打开的页面 / the page the notice opens")
    ref: str = Field(description="编号，如诉求编号 / a short reference, e.g. a case number")
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationFilters(Schema):
    unread: bool | None = Field(None, description="只看未读 / unread only")


@router.get("/notifications", response=responses(Page[NotificationOut]), tags=["notifications"])
def list_notifications(
    request: HttpRequest, filters: Query[NotificationFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """The acting user's inbox: unread first, newest first."""
    unread = models.ExpressionWrapper(
        models.Q(read_at__isnull=True), output_field=models.BooleanField()
    )
    qs = (
        Notification.objects.filter(user_id=acting_user(request).pk)
        .annotate(unread=unread)
        .order_by("-unread", "-created_at")
    )
    if filters.unread is not None:
        qs = qs.filter(read_at__isnull=filters.unread)
    return paginate(qs, page)


@router.post(
    "/notifications/{notification_id}/read",
    response=responses(NotificationOut),
    tags=["notifications"],
)
def read_notification(request: HttpRequest, notification_id: int) -> Notification:
    """Mark one of the user's notices read (another user's answers 404)."""
    row = Notification.objects.filter(pk=notification_id, user_id=acting_user(request).pk).first()
    if row is None:
        raise NotFound("消息不存在", "notification not found")
    if row.read_at is None:
        row.read_at = timezone.now()
        row.save(update_fields=["read_at"])
    return row
