"""The import side of the data hub's API: sources, runs, rejected rows.

    GET  /hub/sources                      the sources, their streams and last runs
    POST /hub/sources/{code}/runs          import an uploaded file (multipart ``file``)
    GET  /hub/runs                         the runs, newest first
    GET  /hub/runs/{run_id}                one run's report
    GET  /hub/runs/{run_id}/rejects        its rejected rows (line, field, code, reason)
    GET  /hub/runs/{run_id}/rejects.xlsx   the same as a 问题数据 workbook

Only county and street staff with the change permission may use them (see
:mod:`.uploads`); everyone else gets a 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import OuterRef, Prefetch, Subquery
from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import ValidationFailed
from jiayuan.core.schemas import Page, PageParams

from . import uploads
from .models import ImportRun, RejectedRow, RunStatus, Source, Stream
from .sources import get_source

router = Router(tags=["数据汇聚"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class RunOut(Schema):
    id: int
    source: str = Field(alias="stream.source.code")
    stream: str = Field(alias="stream.name")
    status: str
    status_label: str = Field(alias="get_status_display")
    trigger: str
    file_name: str
    as_of: dt.date | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    review: int
    position: int
    drift: dict[str, Any]
    error: str
    report: str = Field(alias="report_line")


class StreamOut(Schema):
    name: str
    label: str
    target: str
    contract: str
    paused_reason: str
    cursor: Any = None
    last_run: RunOut | None = None

    @staticmethod
    def resolve_cursor(obj: Stream) -> Any:
        return (obj.state or {}).get("cursor")

    @staticmethod
    def resolve_last_run(obj: Stream) -> ImportRun | None:
        runs = getattr(obj, "last_runs", None)
        return runs[0] if runs else None


class SourceOut(Schema):
    code: str
    name: str
    agency: str
    kind: str
    rank: int
    schedule: str
    active: bool
    streams: list[StreamOut]

    @staticmethod
    def resolve_streams(obj: Source) -> list[Stream]:
        return list(obj.streams.all())


class RejectOut(Schema):
    line: int
    field: str
    column: str
    code: str
    reason: str
    reason_en: str
    raw_value: str


class RunFilters(Schema):
    source: str | None = Field(None, description="数据源代码 / source code")
    status: RunStatus | None = None


def _runs() -> Any:
    return ImportRun.objects.select_related("stream__source")


@router.get("/hub/sources", response=responses(list[SourceOut]))
def list_sources(request: HttpRequest) -> list[Source]:
    """数据源: every source with its streams and each stream's last run."""
    uploads.require_import(acting_user(request))
    last = ImportRun.objects.filter(stream=OuterRef("stream_id")).order_by("-pk").values("pk")[:1]
    runs = _runs().filter(pk=Subquery(last))
    streams = Stream.objects.order_by("name").prefetch_related(
        Prefetch("runs", queryset=runs, to_attr="last_runs")
    )
    return list(Source.objects.prefetch_related(Prefetch("streams", queryset=streams)))


@router.post("/hub/sources/{code}/runs", response={202: RunOut, **responses(RunOut, 201)})
def start_run(
    request: HttpRequest,
    code: str,
    file: File[UploadedFile],
    stream: Form[str] = "",
    as_of: Form[str] = "",
) -> Status[ImportRun]:
    """Import an uploaded file (multipart ``file``; ``stream`` when the source has
    several; ``as_of`` the date the data speaks for, default today). A file up to 4 MB
    is imported in the request (201, the run report); a larger one by a worker (202, the
    run still ``running``: read ``GET /hub/runs/{id}`` until it is done)."""
    user = acting_user(request)
    uploads.require_import(user)
    source = get_source(code)
    day = None
    if as_of:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError:
            raise ValidationFailed(
                "数据日期应为 YYYY-MM-DD", "as_of must be YYYY-MM-DD", field="as_of"
            ) from None
    run = uploads.import_upload(
        source, stream, file.chunks(), file.name or "upload", file.size,
        actor=user, trigger="api", as_of=day,
    )  # fmt: skip
    run = _runs().get(pk=run.pk)
    return Status(202 if run.status == RunStatus.RUNNING else 201, run)


@router.get("/hub/runs", response=responses(Page[RunOut]))
def list_runs(
    request: HttpRequest, filters: Query[RunFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """导入批次, newest first."""
    uploads.require_import(acting_user(request))
    qs = _runs().order_by("-started_at", "-id")
    if filters.source:
        qs = qs.filter(stream__source__code=filters.source)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return paginate(qs, page)


@router.get("/hub/runs/{run_id}", response=responses(RunOut))
def get_run(request: HttpRequest, run_id: int) -> ImportRun:
    return uploads.visible_run(acting_user(request), run_id)


@router.get("/hub/runs/{run_id}/rejects", response=responses(Page[RejectOut]))
def list_rejects(request: HttpRequest, run_id: int, page: Query[PageParams]) -> dict[str, Any]:
    """The run's 问题数据: line (header = 1), field, column, code, Chinese and English
    reason, and the value as read (ID numbers masked)."""
    run = uploads.visible_run(acting_user(request), run_id)
    return paginate(RejectedRow.objects.filter(run=run).order_by("line", "id"), page)


@router.get("/hub/runs/{run_id}/rejects.xlsx", response=responses(None))
def rejects_xlsx(request: HttpRequest, run_id: int, reveal: bool = False) -> HttpResponse:
    """The 问题数据 workbook to send back to the agency: every cell text, ID numbers
    masked; ``reveal=true`` gives them in clear to users allowed to (audited)."""
    user = acting_user(request)
    run = uploads.visible_run(user, run_id)
    body = uploads.rejects_workbook(run, actor=user, reveal=reveal)
    response = HttpResponse(body, content_type=XLSX)
    name = f"run-{run.pk}-rejects.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
