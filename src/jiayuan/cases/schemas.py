"""API schemas of the request loop: cases (诉求), their timelines, actions and photos, the
category tree, departments and the in-app inbox.

Reporter contact leaves the server masked only; the tracking link (the resident's own
secret) is shown at intake and to the case's supervisors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict

from jiayuan.core.calendar import MINUTES_PER_WORKDAY

from .choices import Channel, Level, Light, Priority, Satisfaction, Status
from .models import Case, CaseEvent, CasePhoto, Department, ReturnVisit

NUMBER_PATTERN = r"^WS\d{8}-\d{4,}$"


# --- cases -----------------------------------------------------------------------------
class CaseFilters(Schema):
    status: list[Status] | None = Field(None, description="状态，可多选 / one or more statuses")
    category: str | None = Field(
        None, max_length=12, description="分类代码(含下级) / category code, sub-categories included"
    )
    channel: Channel | None = None
    level: Level | None = None
    light: Light | None = Field(None, description="在办诉求的红黄绿灯 / light of open cases")
    overdue: bool | None = Field(
        None, description="只看超时(挂起期间不计) / only overdue cases, a paused clock stopped"
    )
    grid: int | None = Field(None, description="所在网格 / id of the located grid")
    area: int | None = Field(None, description="所在区域(含下级) / located in this area or below")
    mine: bool | None = Field(None, description="只看我办理的 / only cases I handle")
    q: str | None = Field(
        None, max_length=50, description="编号、标题、内容或完整手机号 / number, text or phone"
    )
    received_after: dt.datetime | None = None
    received_before: dt.datetime | None = None
    ordering: str | None = Field(
        None,
        pattern=r"^-?(received_at|stage_due_at|due_at|number)$",
        description="排序 / received_at, stage_due_at, due_at or number, '-' for descending",
    )


class CaseOut(Schema):
    """A case in a list: where it stands, who holds it, and how its clock runs."""

    id: int
    number: str
    title: str
    channel: Channel
    channel_label: str
    status: Status
    status_label: str
    category: str
    category_name: str
    level: Level
    level_label: str
    grid: int
    grid_name: str
    owner_area: int
    priority: Priority
    light: Light | None = Field(description="在办诉求的红黄绿灯；已结束为空 / null once finished")
    stage_due_at: dt.datetime | None
    due_at: dt.datetime | None
    received_at: dt.datetime
    handler: str | None = Field(description="办理人或部门 / handling user or department")
    handler_user: int | None
    handler_department: int | None
    reporter: str = Field(description="反映人（匿名时为“匿名”） / reporter's name")
    reporter_phone: str = Field(description="脱敏电话 / masked phone")
    red_proxy: bool
    proxy_name: str = Field(description="红色代办的代办人 / who filed it for the resident")
    escalated_help: bool
    version: int

    @staticmethod
    def resolve_channel_label(obj: Case) -> str:
        return str(obj.get_channel_display())

    @staticmethod
    def resolve_status_label(obj: Case) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_category(obj: Case) -> str:
        return obj.category.code

    @staticmethod
    def resolve_category_name(obj: Case) -> str:
        return obj.category.name

    @staticmethod
    def resolve_level_label(obj: Case) -> str:
        return str(obj.get_level_display())

    @staticmethod
    def resolve_grid(obj: Case) -> int:
        return obj.grid_id

    @staticmethod
    def resolve_grid_name(obj: Case) -> str:
        return obj.grid.name

    @staticmethod
    def resolve_owner_area(obj: Case) -> int:
        return obj.owner_area_id

    @staticmethod
    def resolve_light(obj: Case) -> str | None:
        if not obj.is_open:
            return None
        cached = getattr(obj, "_light", None)
        return cached if cached is not None else obj.light()

    @staticmethod
    def resolve_handler(obj: Case) -> str | None:
        if obj.handler_user_id is not None and obj.handler_user is not None:
            user = obj.handler_user
            return user.get_full_name() or user.get_username()
        if obj.handler_department_id is not None and obj.handler_department is not None:
            return obj.handler_department.name
        return None

    @staticmethod
    def resolve_handler_user(obj: Case) -> int | None:
        return obj.handler_user_id

    @staticmethod
    def resolve_handler_department(obj: Case) -> int | None:
        return obj.handler_department_id

    @staticmethod
    def resolve_reporter(obj: Case) -> str:
        return obj.reporter_display

    @staticmethod
    def resolve_reporter_phone(obj: Case) -> str:
        if obj.anonymous:
            return ""
        if obj.reporter_phone_masked:
            return obj.reporter_phone_masked
        if obj.reporter_id is not None and obj.reporter is not None:
            return obj.reporter.phone_masked
        return ""


class EventOut(Schema):
    """One entry of the timeline (办理记录)."""

    at: dt.datetime
    action: str
    step: str
    step_label: str
    from_status: str
    to_status: str
    actor: str
    note: str
    public: bool
    data: dict[str, Any]

    @staticmethod
    def resolve_step_label(obj: CaseEvent) -> str:
        return str(obj.get_step_display())

    @staticmethod
    def resolve_actor(obj: CaseEvent) -> str:
        return obj.actor_name


class ActionOut(Schema):
    """An action the acting user may take now, with the parameters it reads."""

    action: str
    label: str
    step: str
    needs_reason: bool
    params: list[str]


class DuplicateOut(Schema):
    """A possible duplicate found at intake (same category, near, recent)."""

    id: int
    number: str
    title: str
    status: Status
    status_label: str
    received_at: dt.datetime

    @staticmethod
    def resolve_status_label(obj: Case) -> str:
        return str(obj.get_status_display())


class PhotoOut(Schema):
    """A photo of a case; ``url`` streams it to users who may see the case."""

    id: int
    kind: CasePhoto.Kind
    content_type: str
    size: int
    width: int
    height: int
    uploaded_at: dt.datetime
    url: str

    @staticmethod
    def resolve_url(obj: CasePhoto) -> str:
        public = getattr(obj, "_url", None)  # the reporter's link, for public uploads
        return public or f"/api/v1/cases/{obj.case_id}/photos/{obj.pk}"


class VisitOut(Schema):
    at: dt.datetime
    by: ReturnVisit.By
    satisfaction: Satisfaction
    comment: str


class CaseDetail(CaseOut):
    """One case with its description, timeline, photos, return visits, the actions open to
    the acting user and possible duplicates."""

    description: str
    address: str
    lat: float | None
    lng: float | None
    dwelling: int | None
    result: str
    public_note: str
    satisfaction: str = Field(description="满意度，未回访为空 / empty before the visit")
    merged_into: str | None
    escalations: int
    rework_count: int
    reopen_count: int
    transfer_count: int
    dispatched_at: dt.datetime | None
    accepted_at: dt.datetime | None
    handled_at: dt.datetime | None
    replied_at: dt.datetime | None
    closed_at: dt.datetime | None
    stage_started_at: dt.datetime
    suspended_at: dt.datetime | None
    delay_requested_minutes: int
    attributes: dict[str, Any]
    events: list[EventOut]
    photos: list[PhotoOut]
    visits: list[VisitOut]
    actions: list[ActionOut]
    duplicates: list[DuplicateOut]
    tracking_url: str | None = Field(
        None, description="反映人的查询链接（仅受理时及督办人可见） / the reporter's link"
    )

    @staticmethod
    def resolve_dwelling(obj: Case) -> int | None:
        return obj.dwelling_id

    @staticmethod
    def resolve_merged_into(obj: Case) -> str | None:
        return obj.merged_into.number if obj.merged_into_id and obj.merged_into else None

    @staticmethod
    def resolve_events(obj: Case) -> list[CaseEvent]:
        return list(obj.events.all())

    @staticmethod
    def resolve_photos(obj: Case) -> list[CasePhoto]:
        return list(obj.photos.all())

    @staticmethod
    def resolve_visits(obj: Case) -> list[ReturnVisit]:
        return list(obj.visits.all())

    @staticmethod
    def resolve_actions(obj: Case) -> list[dict[str, Any]]:
        return list(getattr(obj, "_actions", []))

    @staticmethod
    def resolve_duplicates(obj: Case) -> list[Case]:
        return list(getattr(obj, "_duplicates", []))

    @staticmethod
    def resolve_tracking_url(obj: Case) -> str | None:
        return getattr(obj, "_tracking_url", None)


class CaseIn(Schema):
    """A new case (问). Location: ``lat``+``lng``, or a dwelling, or a grid."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(..., max_length=12, description="分类代码 / category code")
    description: str = Field(..., min_length=1, max_length=2000)
    title: str = Field("", max_length=100)
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    dwelling: int | None = Field(None, description="房屋 / dwelling id")
    grid: int | None = Field(None, description="网格 / grid id")
    address: str = Field("", max_length=200)
    reporter_name: str = Field("", max_length=50)
    reporter_phone: str = Field("", max_length=20)
    anonymous: bool = False
    priority: Priority = Priority.NORMAL
    channel: Channel | None = Field(
        None, description="默认：网格员为网格巡查，其他工作人员为热线 / default by role"
    )
    red_proxy: bool = Field(
        False,
        description="红色代办：党员、三长或党员中心户代居民提交 / filed on a resident's behalf",
    )
    reporter: int | None = Field(
        None, description="代办的居民(人员编号) / the resident a red-proxy case is filed for"
    )
    proxy_name: str = Field(
        "", max_length=50, description="代办人姓名，默认为当前账号 / the proxy, default: the caller"
    )
    attributes: dict[str, Any] = Field(default_factory=dict)


class ActionIn(Schema):
    """The parameters of an action; each action reads only its own (see ``actions``
    of the case detail), ``expected_version`` refuses a stale write with 409."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int | None = None
    reason: str | None = Field(None, max_length=500)
    note: str | None = Field(None, max_length=300)
    result: str | None = Field(None, max_length=2000)
    handler_id: int | None = None
    level: Level | None = None
    department_id: int | None = None
    minutes: int | None = Field(None, ge=1, le=30 * MINUTES_PER_WORKDAY)
    satisfaction: Satisfaction | None = None
    comment: str | None = Field(None, max_length=500)
    by: ReturnVisit.By | None = None
    into: str | None = Field(None, pattern=NUMBER_PATTERN)


# --- catalogue ---------------------------------------------------------------------------
class DepartmentOut(Schema):
    """A functional department (职能部门)."""

    id: int
    code: str
    name: str
    phone: str
    area: int | None

    @staticmethod
    def resolve_area(obj: Department) -> int | None:
        return obj.area_id


class CategoryOut(Schema):
    """A category (诉求分类) with its default level, department, effective limits in
    working minutes per stage and in total, and its sub-categories."""

    id: int
    code: str
    name: str
    default_level: Level
    default_level_label: str
    department: str | None = Field(description="责任部门代码 / department code")
    department_name: str | None
    limits: dict[str, float]
    duplicate_radius_m: int
    duplicate_window_hours: int
    attributes: list[Any]
    public: bool
    description: str
    children: list[CategoryOut]
