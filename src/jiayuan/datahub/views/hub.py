"""Pages of the import side (数据汇聚): the sources with their last runs and an upload
form, the runs, a run's report (counters, schema drift, error) and its rejected rows.

Views are thin: the rule of who may import and the upload live in :mod:`..uploads`,
the import in :mod:`..engine`. Everything is for county and street staff (403 else).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jiayuan.core.errors import ValidationFailed
from jiayuan.core.views import page

from .. import uploads
from ..models import ImportRun, RejectedRow, RunStatus, Source, SourceKind, Stream
from ..sources import get_source

PER_PAGE = 50
STATUS_CSS = {
    RunStatus.RUNNING: "bg-azure-lt",
    RunStatus.SUCCEEDED: "bg-green-lt",
    RunStatus.FAILED: "bg-red-lt",
    RunStatus.PAUSED: "bg-orange-lt",
    RunStatus.QUARANTINED: "bg-yellow-lt",
}
UPLOADABLE = set(uploads.SUFFIXES)


def _decorate(runs: Any) -> Any:
    for run in runs:
        run.status_css = STATUS_CSS.get(RunStatus(run.status), "bg-secondary-lt")
    return runs


@page
def sources(request: HttpRequest) -> HttpResponse:
    """数据源: each source, its streams with their last run, and an upload form."""
    uploads.require_import(request.user)
    last = ImportRun.objects.filter(stream=OuterRef("stream_id")).order_by("-pk").values("pk")[:1]
    runs = ImportRun.objects.filter(pk=Subquery(last))
    streams = Stream.objects.order_by("name").prefetch_related(
        Prefetch("runs", queryset=runs, to_attr="last_runs")
    )
    rows = list(Source.objects.prefetch_related(Prefetch("streams", queryset=streams)))
    for source in rows:
        source.uploadable = source.kind in UPLOADABLE  # type: ignore[attr-defined]
        source.accept = ",".join(uploads.SUFFIXES.get(SourceKind(source.kind), ()))  # type: ignore[attr-defined]
        for stream in source.streams.all():
            _decorate(stream.last_runs)  # type: ignore[attr-defined]
    return render(request, "datahub/hub/sources.html", {"sources": rows})


@require_POST
@page
def upload(request: HttpRequest, code: str) -> HttpResponse:
    """Import the uploaded file, then show its run report."""
    user = request.user
    uploads.require_import(user)
    source = get_source(code)
    file = request.FILES.get("file")
    if file is None:
        messages.error(request, "请选择要导入的文件")
        return redirect("datahub:hub")
    as_of = None
    if request.POST.get("as_of"):
        try:
            as_of = dt.date.fromisoformat(request.POST["as_of"])
        except ValueError:
            raise ValidationFailed("数据日期应为 YYYY-MM-DD", "as_of must be YYYY-MM-DD") from None
    run = uploads.import_upload(
        source, request.POST.get("stream") or None, file.chunks(), file.name or "upload",
        file.size, actor=user, trigger="web", as_of=as_of,
    )  # fmt: skip
    messages.success(request, f"导入完成：{run.report_line()}")
    return redirect("datahub:run", pk=run.pk)


@page
def runs(request: HttpRequest) -> HttpResponse:
    """导入批次, newest first."""
    uploads.require_import(request.user)
    qs = ImportRun.objects.select_related("stream__source", "actor").order_by("-started_at", "-id")
    source = request.GET.get("source", "")
    if source:
        qs = qs.filter(stream__source__code=source)
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    _decorate(page_obj.object_list)
    return render(request, "datahub/hub/runs.html", {"runs": page_obj, "source": source})


@page
def run(request: HttpRequest, pk: int) -> HttpResponse:
    """导入报告: the counters, the schema drift, the error, the first rejected rows."""
    the_run = uploads.visible_run(request.user, pk)
    _decorate([the_run])
    rejects = list(RejectedRow.objects.filter(run=the_run).order_by("line", "id")[:20])
    codes = (
        RejectedRow.objects.filter(run=the_run)
        .values_list("code", "reason")
        .order_by("code")
        .distinct()[:20]
    )
    context = {"run": the_run, "rejects": rejects, "codes": list(codes)}
    return render(request, "datahub/hub/run.html", context)


@page
def rejects(request: HttpRequest, pk: int) -> HttpResponse:
    """问题数据: every rejected row or field with its line, column, reason and value."""
    the_run = uploads.visible_run(request.user, pk)
    qs = RejectedRow.objects.filter(run=the_run).order_by("line", "id")
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    context = {"run": the_run, "rejects": page_obj, "can_reveal": uploads.may_reveal(request.user)}
    return render(request, "datahub/hub/rejects.html", context)


@page
def rejects_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The 问题数据 workbook (the API's, for the page's download link)."""
    the_run = uploads.visible_run(request.user, pk)
    reveal = request.GET.get("reveal") == "1"
    body = uploads.rejects_workbook(the_run, actor=request.user, reveal=reveal)
    response = HttpResponse(
        body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="run-{the_run.pk}-rejects.xlsx"'
    return response
