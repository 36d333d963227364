"""API of the request loop: ``/cases`` (list, intake, detail, actions, photos),
``/public/cases/{token}/photos`` (the reporter's own link), ``/categories`` and
``/departments``. (The inbox, ``/notifications``, is core's: ``core/api.py``.)

Reads start from :func:`queries.visible_cases` (the pages use the same function and the
same filter, :func:`queries.filter_cases`); every change is one action of ``services`` or
``photos``. Outside the user's scope a case answers 404; a wrong role 403; a wrong state
409 (``transition_not_allowed``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, HttpRequest
from django.urls import reverse
from ninja import File, Form, Query, Router, Status, UploadedFile

from jiayuan.core.api import acting_user, get_visible, paginate, responses
from jiayuan.core.errors import NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.roles import Perm
from jiayuan.core.schemas import Page, PageParams
from jiayuan.core.scoping import has_perm_anywhere, path_allowed
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Person

from . import photos, proxies, queries, services
from .choices import Channel, Priority
from .choices import Status as CaseStatus
from .machine import TRANSITIONS, Transition
from .models import (
    DEFAULT_LIMITS,
    Case,
    CaseEvent,
    CasePhoto,
    Category,
    Department,
    ReturnVisit,
)
from .schemas import (
    ActionIn,
    CaseDetail,
    CaseFilters,
    CaseIn,
    CaseOut,
    CategoryOut,
    DepartmentOut,
    PhotoOut,
)

router = Router()

# Photos a reporter may still add through the tracking link: until the case is taken.
PUBLIC_PHOTO_STATUSES = (CaseStatus.RECEIVED, CaseStatus.DISPATCHED)


# --- reading cases -----------------------------------------------------------------------
def get_case(user: Any, case_id: int) -> Case:
    return queries.get_case(user, case_id)


def action_params(action: str) -> list[str]:
    """The parameters an action reads: its row of the transition table."""
    return list(TRANSITIONS[action].fields)


def action_out(transition: Transition) -> dict[str, Any]:
    return {
        "action": transition.action,
        "label": transition.label,
        "step": transition.step,
        "needs_reason": transition.needs_reason,
        "params": action_params(transition.action),
    }


def tracking_url(request: HttpRequest, case: Case) -> str:
    return request.build_absolute_uri(reverse("cases:track", args=[case.tracking_token]))


def case_detail(
    request: HttpRequest, user: Any, case_id: int, *, own_write: bool = False, intake: bool = False
) -> Case:
    """A case the user may see, with everything the detail shows.

    ``own_write`` answers the user's own intake or action: the case is shown even when
    that very write moved it out of their sight (a resident's report, a grid worker's
    escalation to the community). ``intake`` adds the reporter's tracking link.
    """
    base = Case.objects.all() if own_write else queries.visible_cases(user)
    case: Any = (
        base.select_related(
            "category", "grid", "handler_user", "handler_department", "reporter", "merged_into"
        )
        .prefetch_related(
            Prefetch("events", queryset=CaseEvent.objects.order_by("at", "id")),
            "photos",
            "visits",
        )
        .filter(pk=case_id)
        .first()
    )
    if case is None:
        raise NotFound("诉求不存在", "case not found")
    return _with_extras(request, user, case, intake=intake)


def _with_extras(
    request: HttpRequest,
    user: Any,
    case: Any,
    *,
    intake: bool = False,
    candidates: list[Case] | None = None,
) -> Case:
    """What the detail adds to a case: the user's actions, the visible duplicates, the
    tracking link and the light. ``candidates``: the duplicate cases already in hand
    (intake's); those inside the user's scope need no query to be shown."""
    relation = services.relations(user, case)
    case._actions = [action_out(t) for t in services.available_actions(user, case)]
    hints = [n for n in case.duplicate_of_hint if n != case.number]
    if candidates is not None and all(
        path_allowed(user, c.area_path, Perm.VIEW) for c in candidates
    ):
        case._duplicates = sorted(
            (c for c in candidates if c.number in hints), key=lambda c: c.received_at
        )
    else:
        case._duplicates = (
            list(queries.visible_cases(user).filter(number__in=hints).order_by("received_at"))
            if hints
            else []
        )
    if intake or "supervisor" in relation:
        case._tracking_url = tracking_url(request, case)
    queries.with_lights([case])
    return case


@router.get("/cases", response=responses(Page[CaseOut]), tags=["cases"])
def list_cases(
    request: HttpRequest, filters: Query[CaseFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Cases in the user's scope (and those assigned to them), newest first.

    Reporter contact is masked; ``light`` is the traffic light of the current stage.
    """
    user = acting_user(request)
    result = paginate(queries.list_cases(user, queries.CaseFilter.of(filters.dict())), page)
    queries.with_lights(result["items"])
    return result


@router.get("/cases/{case_id}", response=responses(CaseDetail), tags=["cases"])
def get_case_detail(request: HttpRequest, case_id: int) -> Case:
    """One case: timeline, photos, return visits, the actions open to the user now and
    possible duplicates."""
    return case_detail(request, acting_user(request), case_id)


# --- intake (问) -------------------------------------------------------------------------
def _resident(user: Any, pk: int) -> Person:
    """The resident a case is filed for: one in the user's scope, or one they look
    after as 三长 or 党员中心户 (404 otherwise, like any other row out of reach)."""
    resident = (
        Person.objects.visible_to(user).filter(pk=pk).first()
        or proxies.served_residents(user).filter(pk=pk).first()
    )
    if resident is None:
        raise NotFound("居民不存在", "resident not found")
    return resident


def _place(
    user: Any, body: CaseIn, *, staff: bool, own: Person | None, resident: Person | None
) -> tuple[Dwelling | None, Area | None]:
    """The dwelling and grid named by id, each looked up where the filer may see it; a
    case filed for a resident without a place is located at the resident's home."""
    dwelling = grid = None
    if body.dwelling is not None:
        if staff:
            dwelling = get_visible(Dwelling.objects.all(), user, pk=body.dwelling)
        elif own is not None and body.dwelling == own.dwelling_id:
            dwelling = own.dwelling
        elif resident is not None and body.dwelling == resident.dwelling_id:
            dwelling = resident.dwelling
        else:
            raise NotFound("房屋不存在", "dwelling not found")
    if body.grid is not None:
        grids = Area.objects.filter(kind=AreaKind.GRID)
        grid = (
            get_visible(grids, user, pk=body.grid) if staff else grids.filter(pk=body.grid).first()
        )
        if grid is None:
            raise NotFound("网格不存在", "grid not found")
    located = dwelling is not None or grid is not None or body.lat is not None
    if not located and resident is not None and resident.dwelling_id is not None:
        dwelling = resident.dwelling
    return dwelling, grid


@router.post("/cases", response=responses(CaseDetail, 201), tags=["cases"])
def create_case(request: HttpRequest, body: CaseIn) -> Status[Case]:
    """Receive a case (问): locate it (point, dwelling or grid), number it, look for
    duplicates and dispatch it to the handler of the category's default level (派).

    Staff file cases where they work (grid workers: 网格巡查, others: 12345热线 unless
    ``channel`` says otherwise); a resident files their own (随手拍). 红色代办: with
    ``red_proxy`` a party member, one of the 三长 or a 党员中心户 files on behalf of the
    resident ``reporter`` (a person id; or ``reporter_name``), and the case keeps the
    proxy (the caller, named ``proxy_name`` if given); 三长 and 党员中心户 may do so for
    the residents they look after, and for nobody else. The answer carries the
    reporter's tracking link.
    """
    user = acting_user(request)
    category = Category.objects.filter(code=body.category).first()
    if category is None:
        raise ValidationFailed(f"分类 {body.category} 不存在", "no such category", field="category")
    staff = has_perm_anywhere(user, Perm.VIEW)
    proxy = body.red_proxy and (staff or proxies.is_proxy(user))
    own = None if staff or proxy else Person.objects.filter(user=user).first()
    if not staff and not proxy and own is None:
        raise PermissionDenied("您的账号不能提交诉求", "this account may not file cases")
    resident = None
    if body.reporter is not None:
        if not (staff or proxy):
            raise ValidationFailed(
                "只能为本人提交诉求", "you may file only for yourself", field="reporter"
            )
        resident = _resident(user, body.reporter)
    dwelling, grid = _place(user, body, staff=staff or proxy, own=own, resident=resident)
    filer: dict[str, Any]
    if staff or proxy:
        filer = {
            "actor": user,
            "channel": body.channel,  # None: the filer's default (services.default_channel)
            "reporter": resident,
            "reporter_name": body.reporter_name.strip(),
            "reporter_phone": body.reporter_phone,
            "priority": body.priority,
            "red_proxy": body.red_proxy,
            "proxy_name": body.proxy_name.strip(),
        }
    else:
        # A resident reports for themselves; they pick neither channel nor urgency.
        filer = {
            "actor": None,
            "channel": Channel.SNAPSHOT,
            "reporter": own,
            "priority": Priority.NORMAL,
        }
    case = services.intake(
        category=category,
        description=body.description,
        title=body.title,
        lat=body.lat,
        lng=body.lng,
        dwelling=dwelling,
        grid=grid,
        address=body.address,
        anonymous=body.anonymous,
        attributes=body.attributes,
        **filer,
    )
    # The answer is the case in hand (services.intake fills its timeline): no re-read.
    answer = _with_extras(
        request, user, case, intake=True, candidates=getattr(case, "_duplicate_cases", None)
    )
    return Status(201, answer)


# --- actions (派、转、办、审、回) ----------------------------------------------------------
@router.post("/cases/{case_id}/actions/{action}", response=responses(CaseDetail), tags=["cases"])
def act(request: HttpRequest, case_id: int, action: str, body: ActionIn) -> Case:
    """Take an action on a case: ``accept``, ``handle``, ``approve`` … (see ``actions`` in
    the detail for those open to you and the parameters each reads).

    A wrong state answers 409 ``transition_not_allowed``; a stale ``expected_version``
    409 ``conflict``; a role that may not take the action 403.
    """
    user = acting_user(request)
    if action not in TRANSITIONS:
        raise NotFound(f"没有「{action}」这个操作", f"there is no action {action}")
    params = body.dict(exclude_none=True)
    expected_version = params.pop("expected_version", None)
    accepted = set(action_params(action))
    for name in params:
        if name not in accepted:
            label = TRANSITIONS[action].label
            raise ValidationFailed(
                f"「{label}」不需要参数 {name}", f"{action} takes no {name}", field=name
            )
    if action == "visit" and params.get("by") == ReturnVisit.By.RESIDENT:
        raise ValidationFailed(
            "居民评价只能通过查询链接提交", "residents answer through their link", field="by"
        )
    services.perform(case_id, action, actor=user, expected_version=expected_version, **params)
    return case_detail(request, user, case_id, own_write=True)


# --- photos ------------------------------------------------------------------------------
@router.post("/cases/{case_id}/photos", response=responses(PhotoOut, 201), tags=["case photos"])
def upload_photo(
    request: HttpRequest,
    case_id: int,
    file: File[UploadedFile],
    kind: Form[str] = CasePhoto.Kind.REPORT,
) -> Status[CasePhoto]:
    """Add a photo (multipart ``file``, ``kind`` report or result). JPEG, PNG or WebP up
    to 8 MB and 40 megapixels; the stored copy is re-encoded without EXIF (no GPS)."""
    user = acting_user(request)
    case = get_case(user, case_id)
    photos.check_may_add(case, kind, services.relations(user, case))
    photo = photos.attach(case, photos.read_upload(file), kind=kind, actor=user)
    return Status(201, photo)


@router.get("/cases/{case_id}/photos/{photo_id}", response=responses(None), tags=["case photos"])
def get_photo(request: HttpRequest, case_id: int, photo_id: int) -> FileResponse:
    """The stored photo, to users who may see the case (404 otherwise)."""
    case = get_case(acting_user(request), case_id)
    photo = CasePhoto.objects.filter(case=case, pk=photo_id).first()
    if photo is None:
        raise NotFound("照片不存在", "photo not found")
    return photos.response(photo)


def tracked_case(token: str) -> Case:
    case = Case.objects.filter(tracking_token=token).first() if token else None
    if case is None:
        raise NotFound("诉求不存在", "case not found")
    return case


def public_photo_out(case: Case, photo: CasePhoto) -> CasePhoto:
    photo._url = f"/api/v1/public/cases/{case.tracking_token}/photos/{photo.pk}"  # type: ignore[attr-defined]
    return photo


@router.post(
    "/public/cases/{token}/photos",
    auth=None,
    response=responses(PhotoOut, 201),
    tags=["case photos"],
)
def upload_public_photo(
    request: HttpRequest, token: str, file: File[UploadedFile]
) -> Status[CasePhoto]:
    """The reporter adds a photo of the problem through their tracking link, until the
    case is taken (no login: the link's token is the key)."""
    case = tracked_case(token)
    photos.check_may_add(case, CasePhoto.Kind.REPORT, {"reporter"})
    if case.status not in PUBLIC_PHOTO_STATUSES:
        raise photos.PhotoRefused(
            "诉求已在办理，不能再补充照片", "the case is being handled; photos are closed"
        )
    photo = photos.attach(
        case, photos.read_upload(file), kind=CasePhoto.Kind.REPORT, actor=None, note="reporter"
    )
    return Status(201, public_photo_out(case, photo))


@router.get(
    "/public/cases/{token}/photos/{photo_id}",
    auth=None,
    response=responses(None),
    tags=["case photos"],
)
def get_public_photo(request: HttpRequest, token: str, photo_id: int) -> FileResponse:
    """A photo of the reporter's own case (problem or result), through their link."""
    case = tracked_case(token)
    photo = CasePhoto.objects.filter(case=case, pk=photo_id).first()
    if photo is None:
        raise NotFound("照片不存在", "photo not found")
    return photos.response(photo)


# --- catalogue ---------------------------------------------------------------------------
def category_out(category: Category) -> dict[str, Any]:
    dept = category.department
    return {
        "id": category.pk,
        "code": category.code,
        "name": category.name,
        "default_level": category.default_level,
        "default_level_label": str(category.get_default_level_display()),
        "department": dept.code if dept else None,
        "department_name": dept.name if dept else None,
        "limits": {stage: category.limit_minutes(stage) for stage in DEFAULT_LIMITS},
        "duplicate_radius_m": category.duplicate_radius_m,
        "duplicate_window_hours": category.duplicate_window_hours,
        "attributes": category.attributes or [],
        "public": category.public,
        "description": category.description,
        "children": [],
    }


@router.get("/categories", response=responses(list[CategoryOut]), tags=["categories"])
def list_categories(request: HttpRequest) -> list[dict[str, Any]]:
    """The category tree (诉求分类) with default levels, departments and time limits in
    working minutes (one working day = 450)."""
    rows = list(Category.objects.select_related("department").order_by("code"))
    nodes = {row.pk: category_out(row) for row in rows}
    roots: list[dict[str, Any]] = []
    for row in rows:
        parent = nodes.get(row.parent_id) if row.parent_id else None
        (parent["children"] if parent is not None else roots).append(nodes[row.pk])
    return roots


@router.get("/departments", response=responses(list[DepartmentOut]), tags=["categories"])
def list_departments(request: HttpRequest) -> QuerySet[Department]:
    """Functional departments (职能部门) cases can be handed to."""
    return Department.objects.order_by("code")
