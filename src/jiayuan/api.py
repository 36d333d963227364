"""The JSON API (django-ninja): one NinjaAPI at /api/v1/, routers from each app."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError
from django.db.models import ProtectedError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, django_auth

from jiayuan.core.errors import BilingualError
from jiayuan.core.models import ApiToken

TOKEN_USE_RESOLUTION = dt.timedelta(minutes=1)


class BearerToken(HttpBearer):
    """``Authorization: Bearer <token>`` from ``POST /api/v1/auth/token``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        row = (
            ApiToken.objects.select_related("user")
            .filter(digest=ApiToken.hash(token), user__is_active=True)
            .first()
        )
        now = timezone.now()
        if row is None or (row.expires_at and row.expires_at < now):
            return None
        # "Last used" is for an administrator reading the token list; to the minute is
        # enough, and a write on every call would cost each request one more query.
        if row.last_used_at is None or now - row.last_used_at >= TOKEN_USE_RESOLUTION:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user
        return row.user


api = NinjaAPI(
    title="Jiayuan 家园 API",
    version="1",
    urls_namespace="api",
    auth=[BearerToken(), django_auth],
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(
    request: HttpRequest, status: int, code: str, message: str, detail: Any = None
) -> HttpResponse:
    return api.create_response(
        request, {"code": code, "message": message, "detail": detail}, status=status
    )


@api.exception_handler(BilingualError)
def on_domain_error(request: HttpRequest, exc: BilingualError) -> HttpResponse:
    detail = exc.detail if exc.detail is not None else ({"field": exc.field} if exc.field else None)
    return _error(request, exc.status, exc.code, exc.message, detail)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return _error(
        request, 422, "validation_error", "请求数据无效 / invalid request data", exc.errors
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthorized", "请先登录 / authentication required")


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "对象不存在 / not found")


@api.exception_handler(ProtectedError)
def on_protected(request: HttpRequest, exc: ProtectedError) -> HttpResponse:
    return _error(
        request, 409, "conflict", "仍有其他记录引用该对象 / other records still refer to it"
    )


@api.exception_handler(IntegrityError)
def on_integrity_error(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    # The handlers check uniqueness first; this is the race two requests can still lose.
    return _error(request, 409, "conflict", "数据冲突，请刷新后重试 / conflicting change, retry")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):  # not JSON
        return _error(request, 400, "bad_request", "请求内容不是有效的JSON / invalid JSON body")
    return _error(request, exc.status_code, "error", str(exc))


def _register() -> None:
    from jiayuan.core.api import router as core_router
    from jiayuan.org.api import router as org_router
    from jiayuan.people.api import router as people_router

    api.add_router("/", core_router)
    api.add_router("/", org_router)
    api.add_router("/", people_router)
    api.add_router("/", "jiayuan.cases.api.router")
    api.add_router("/", "jiayuan.policies.api.router")
    api.add_router("/", "jiayuan.iot.api.router")
    api.add_router("/", "jiayuan.iot.ingest_api.router")
    api.add_router("/", "jiayuan.datahub.api_hub.router")
    api.add_router("/", "jiayuan.datahub.api_review.router")
    api.add_router("/", "jiayuan.datahub.reports.api.router")
    api.add_router("/", "jiayuan.community.api.wishes.router")
    api.add_router("/", "jiayuan.community.api.deliberation.router")
    api.add_router("/", "jiayuan.community.api.volunteers.router")
    api.add_router("/", "jiayuan.community.api.places.router")
    api.add_router("/", "jiayuan.community.api.markets.router")
    api.add_router("/", "jiayuan.partners.api.registry.router")
    api.add_router("/", "jiayuan.partners.api.projects.router")
    api.add_router("/", "jiayuan.partners.api.supervision.router")
    api.add_router("/", "jiayuan.assistant.api.ask.router")
    api.add_router("/", "jiayuan.assistant.api.kb.router")
    api.add_router("/", "jiayuan.assistant.api.broadcasts.router")
    api.add_router("/", "jiayuan.command.api.router")
    api.add_router("/", "jiayuan.command.screen_api.router")
    api.add_router("/", "jiayuan.command.live_api.router")


_register()
