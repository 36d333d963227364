"""Page plumbing shared by every app's views: the page decorator, scoped lookups and
the error pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .errors import BilingualError, NotFound
from .errors import PermissionDenied as DomainPermissionDenied

M = TypeVar("M", bound=Model)
View = Callable[..., HttpResponse]


def scoped_get_or_404(queryset: QuerySet[M], **lookup: Any) -> M:
    """The one object matching ``lookup`` in an already scoped queryset, else 404.

    Absent and out-of-scope look the same, so the existence of a row never leaks.
    """
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404("对象不存在")
    return obj


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def page(view: View) -> View:
    """Login required; a 404 or a domain error renders our own Chinese page.

    Django would show its technical 404 page with DEBUG on; scoped 404s must look the
    same in every mode, so they are rendered here rather than left to ``handler404``.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (Http404, NotFound):
            return not_found(request)
        except DomainPermissionDenied as exc:
            return forbidden(request, exc)
        except BilingualError as exc:
            return error_page(request, exc)

    return login_required(wrapped)


def not_found(request: HttpRequest, exception: Any = None) -> HttpResponse:
    template = "partials/error.html" if is_htmx(request) else "404.html"
    context = {"title": "页面不存在", "message": "您访问的页面不存在，或不在您的管辖范围内。"}
    return render(request, template, context, status=404)


def forbidden(request: HttpRequest, exc: BilingualError | None = None) -> HttpResponse:
    template = "partials/error.html" if is_htmx(request) else "403.html"
    message = exc.zh if exc is not None else "您没有权限执行此操作。"
    return render(request, template, {"title": "没有权限", "message": message}, status=403)


def error_page(request: HttpRequest, exc: BilingualError) -> HttpResponse:
    template = "partials/error.html" if is_htmx(request) else "error.html"
    return render(request, template, {"title": "操作未完成", "message": exc.zh}, status=exc.status)
