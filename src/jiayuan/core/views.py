"""Page plumbing shared by every app's views: the page decorator, scoped lookups and
the error pages; and the inbox (消息) pages every staff member has."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from .errors import BilingualError, NotFound
from .errors import PermissionDenied as DomainPermissionDenied
from .models import Notification

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


# --- the inbox (消息) ---------------------------------------------------------------------
INBOX_PER_PAGE = 20


@page
def inbox(request: HttpRequest) -> HttpResponse:
    """消息: the user's in-app notices, newest first."""
    user: Any = request.user
    rows = Notification.objects.filter(user=user)
    unread = request.GET.get("unread") == "1"
    if unread:
        rows = rows.filter(read_at__isnull=True)
    page_obj = Paginator(rows.order_by("-created_at", "-pk"), INBOX_PER_PAGE).get_page(
        request.GET.get("page")
    )
    counts = Notification.objects.filter(user=user).aggregate(
        total=Count("pk"), unread=Count("pk", filter=Q(read_at__isnull=True))
    )
    context = {"notifications": page_obj, "unread_only": unread, "counts": counts}
    return render(request, "core/inbox.html", context)


@page
def inbox_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a notice: mark it read and go to the page it links to.

    The linked page checks scope itself: a case moved out of the user's scope since the
    notice was written answers 404 there, as any out-of-scope page does.
    """
    user: Any = request.user
    note = Notification.objects.filter(user=user, pk=pk).first()
    if note is None:
        raise Http404("no such notification")
    if note.read_at is None:
        Notification.objects.filter(pk=note.pk).update(read_at=timezone.now())
    if note.link.startswith("/") and not note.link.startswith("//"):
        return redirect(note.link)
    return redirect("inbox")


@require_POST
@page
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    """Mark every unread notice of the user read."""
    user: Any = request.user
    Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())
    return redirect("inbox")
