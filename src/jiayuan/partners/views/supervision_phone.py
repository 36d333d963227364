"""The resident's phone pages of partner projects, under /m/partners/: the projects in
operation serving my community, and the satisfaction mailbox (满意度信箱) of one project —
five big buttons with words, large text, once a day."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from jiayuan.community.residents import person_of
from jiayuan.core.errors import BilingualError, NotFound
from jiayuan.core.views import page

from .. import feedback as fb
from ..models import Feedback
from .supervision import as_id

RATINGS = [(n, fb.RATING_WORDS[n]) for n in range(5, 0, -1)]
STARS = {n: "★" * n + "☆" * (5 - n) for n in range(1, 6)}


@page
def phone_projects(request: HttpRequest) -> HttpResponse:
    """合伙项目 (phone): the projects serving my community, and whether I rated them today."""
    user: Any = request.user
    person = person_of(user)
    projects = list(fb.projects_for_resident(user)[:100])
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    rated = set(
        Feedback.objects.filter(
            person=person, project__in=projects, submitted_at__gte=start
        ).values_list("project_id", flat=True)
        if person is not None and projects
        else []
    )
    for p in projects:
        p.rated_today = p.pk in rated  # type: ignore[attr-defined]
    mine = list(fb.own_feedback(user).order_by("-submitted_at", "-pk")[:20])
    for row in mine:
        row.stars = STARS.get(row.rating, "")  # type: ignore[attr-defined]
        row.words = fb.RATING_WORDS.get(row.rating, "")  # type: ignore[attr-defined]
    context = {"person": person, "projects": projects, "mine": mine}
    return render(request, "partners/phone/projects.html", context)


@page
def phone_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    """满意度信箱: rate one project (1–5, words optional)."""
    user: Any = request.user
    project_id = as_id(pk)
    project = fb.projects_for_resident(user).filter(pk=project_id).first() if project_id else None
    if project is None:
        raise NotFound()
    error, status = "", 200
    if request.method == "POST":
        rating = as_id(request.POST.get("rating"))
        try:
            fb.submit(
                user,
                project.pk,
                rating=rating if rating is not None else 0,
                text=request.POST.get("text", ""),
            )
        except NotFound:
            raise
        except BilingualError as exc:
            error = exc.zh
            status = exc.status
        else:
            messages.success(request, "谢谢您的评价！社区和监督团会认真看每一条意见。")
            return redirect("partners:phone_projects")
    context = {
        "project": project,
        "ratings": RATINGS,
        "error": error,
        "text": request.POST.get("text", "") if request.method == "POST" else "",
        "max_text": fb.TEXT_MAX,
    }
    return render(request, "partners/phone/feedback.html", context, status=status)
