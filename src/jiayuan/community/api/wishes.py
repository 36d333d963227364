"""JSON API of the community services: micro-wishes (微心愿) and a compound's demand list
(需求清单).

Reads start from :func:`jiayuan.community.wishes.visible_wishes` (staff in scope and the
residents of the wish's compound; 404 elsewhere); every change is one action of
:mod:`jiayuan.community.wishes`. A step the wish's status does not allow answers 409
(``conflict``) with a Chinese and English message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from jiayuan.core.api import acting_user, paginate, responses
from jiayuan.core.errors import NotFound
from jiayuan.core.roles import Perm
from jiayuan.core.schemas import Page, PageParams
from jiayuan.org.models import Area
from jiayuan.people.models import Person

from .. import demand, photos, wishes
from ..choices import ClaimerKind, WishCategory, WishChannel, WishStatus
from ..models import Photo, Wish, WishEvent
from ..residents import person_of

router = Router(tags=["社区服务 · 微心愿 / wishes"])

MAX_ID = 2**63 - 1  # larger ids cannot name a row (and SQLite cannot compare them)


def _id(value: int) -> int:
    if not 1 <= value <= MAX_ID:
        raise NotFound()
    return value


# --- schemas -----------------------------------------------------------------------------
class PersonRef(Schema):
    """A person as the wish shows them: ID number and phone masked, always."""

    id: int | None = None
    name: str
    id_number_masked: str = ""
    phone_masked: str = ""


class WishOut(Schema):
    id: int
    number: str
    title: str
    category: str
    category_label: str
    channel: str
    channel_label: str
    status: str
    status_label: str
    area_id: int
    area_name: str
    area_path: str
    beneficiary: PersonRef | None
    target_groups: list[str]
    claimer_kind: str
    claimer_name: str
    claimed_at: dt.datetime | None
    due_on: dt.date | None
    reminded_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    thanked_at: dt.datetime | None
    thanks: str
    case_number: str
    created_at: dt.datetime


class EventOut(Schema):
    id: int
    at: dt.datetime
    kind: str
    label: str
    actor_name: str
    note: str
    data: dict[str, Any]


class PhotoOut(Schema):
    id: int
    url: str
    content_type: str
    width: int
    height: int
    caption: str
    created_at: dt.datetime


class WishDetail(WishOut):
    description: str
    timeline: list[EventOut]
    photos: list[PhotoOut]
    actions: list[str] = Field(description="该用户现在可执行的操作 / steps this user may take now")


class WishFilters(Schema):
    status: WishStatus | None = Field(None, description="状态 / status")
    category: WishCategory | None = Field(None, description="类别 / category")
    channel: WishChannel | None = Field(None, description="收集渠道 / channel")
    area_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="小区或网格 / a compound or grid (and below)"
    )


class WishIn(Schema):
    title: str = Field(..., description="心愿 (≤100字) / the wish, up to 100 characters")
    category: WishCategory
    channel: WishChannel = Field(
        WishChannel.STAFF,
        description="door 敲门行动, wechat 微信群, staff 工作人员录入; resident 居民自助 (本人)",
    )
    description: str = ""
    beneficiary_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="心愿对象 / the person it is for"
    )
    area_id: int | None = Field(
        None, ge=1, le=MAX_ID, description="无具体对象时的小区或网格 / the place, without a person"
    )


class ClaimIn(Schema):
    claimer_kind: ClaimerKind | None = Field(None, description="认领方类型 / kind of claimer")
    claimer_id: int | None = Field(None, ge=1, le=MAX_ID, description="认领人 / claimer person")
    claimer_name: str = Field("", description="认领单位或姓名 / claimer's name (unit, partner)")
    due_on: dt.date | None = Field(None, description="承诺完成日期 / promised date")


class ThankIn(Schema):
    thanks: str = Field("", description="感谢语 (≤200字) / words of thanks")


class ReasonIn(Schema):
    reason: str = Field("", description="原因 (≤300字) / reason")


class DemandItemOut(Schema):
    source: str
    kind: str
    ref: str
    title: str
    status: str
    status_label: str
    area_path: str
    created_at: dt.datetime
    link: str


class CompoundOut(Schema):
    id: int
    name: str
    path: str


class DemandListOut(Schema):
    compound: CompoundOut
    counts: dict[str, int]
    items: list[DemandItemOut]


# --- rendering ---------------------------------------------------------------------------
def _masked_name(name: str) -> str:
    return (name[:1] + "*" * max(len(name) - 1, 1)) if name else ""


def person_ref(user: Any, wish: Wish) -> dict[str, Any] | None:
    """Staff in scope see who the wish is for (masked ID and phone); the person
    themself too; other residents of the compound only a masked name."""
    person = wish.beneficiary
    if person is None:
        return None
    me = person_of(user)
    if wishes.is_staff_for(user, wish) or (me is not None and me.pk == person.pk):
        return {
            "id": person.pk,
            "name": person.name,
            "id_number_masked": person.id_number_masked,
            "phone_masked": person.phone_masked,
        }
    return {"id": None, "name": _masked_name(person.name)}


def wish_out(user: Any, wish: Wish) -> dict[str, Any]:
    return {
        "id": wish.pk,
        "number": wish.number,
        "title": wish.title,
        "category": wish.category,
        "category_label": wish.get_category_display(),
        "channel": wish.channel,
        "channel_label": wish.get_channel_display(),
        "status": wish.status,
        "status_label": wish.get_status_display(),
        "area_id": wish.area_id,
        "area_name": wish.area.name,
        "area_path": wish.area_path,
        "beneficiary": person_ref(user, wish),
        "target_groups": list(wish.target_groups or []),
        "claimer_kind": wish.claimer_kind,
        "claimer_name": wish.claimer_name,
        "claimed_at": wish.claimed_at,
        "due_on": wish.due_on,
        "reminded_at": wish.reminded_at,
        "fulfilled_at": wish.fulfilled_at,
        "thanked_at": wish.thanked_at,
        "thanks": wish.thanks,
        "case_number": wish.case_number,
        "created_at": wish.created_at,
    }


def photo_out(photo: Photo) -> dict[str, Any]:
    return {
        "id": photo.pk,
        "url": f"/api/v1/wishes/{photo.wish_id}/photos/{photo.pk}",
        "content_type": photo.content_type,
        "width": photo.width,
        "height": photo.height,
        "caption": photo.caption,
        "created_at": photo.created_at,
    }


def event_out(event: WishEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "at": event.at,
        "kind": event.kind,
        "label": wishes.EVENT_LABELS.get(event.kind, event.kind),
        "actor_name": event.actor_name,
        "note": event.note,
        "data": event.data,
    }


def detail_queryset(user: Any) -> QuerySet[Wish]:
    return wishes.with_related(wishes.visible_wishes(user)).prefetch_related(
        Prefetch("events", queryset=WishEvent.objects.order_by("at", "pk")),
        Prefetch("photos", queryset=Photo.objects.order_by("created_at", "pk")),
    )


def wish_detail(user: Any, wish_id: int) -> dict[str, Any]:
    wish = detail_queryset(user).filter(pk=_id(wish_id)).first()
    if wish is None:
        raise NotFound()
    return {
        **wish_out(user, wish),
        "description": wish.description,
        "timeline": [event_out(e) for e in wish.events.all()],
        "photos": [photo_out(p) for p in wish.photos.all()],
        "actions": wishes.allowed_actions(user, wish),
    }


# --- routes ------------------------------------------------------------------------------
@router.get("/wishes", response=responses(Page[WishOut]))
def list_wishes(
    request: HttpRequest, filters: Query[WishFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """微心愿列表，最新在前；可按状态、类别、渠道、小区/网格筛选。工作人员看到其辖区的心愿，
    居民看到本小区的心愿。/ Wishes the user may see (staff: their area; residents: their
    compound), newest first, filtered by status, category, channel and area."""
    user = acting_user(request)
    qs = wishes.with_related(wishes.visible_wishes(user))
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    if filters.area_id:
        area = Area.objects.filter(pk=filters.area_id).only("path").first()
        qs = qs.filter(area_path__startswith=area.path) if area else qs.none()
    result = paginate(qs, page)
    result["items"] = [wish_out(user, w) for w in result["items"]]
    return result


@router.post("/wishes", response=responses(WishDetail, 201))
def create_wish(request: HttpRequest, body: WishIn) -> Status[dict[str, Any]]:
    """收集一个微心愿：工作人员（社区服务权限）经敲门行动、微信群或直接录入，为辖区内的居民
    （或小区、网格）收集；居民经 ``resident`` 渠道为自己许愿。服务对象（高龄、独居、空巢、
    留守儿童……）取自居民标签。/ Collect a wish: staff holding the community-service right
    for a person (or compound, grid) in their area, on the door-knocking, WeChat or staff
    channel; a resident for themself on the ``resident`` channel. Target groups come from
    the person's tags."""
    user = acting_user(request)
    beneficiary = None
    if body.beneficiary_id is not None:
        beneficiary = Person.objects.filter(pk=body.beneficiary_id, death_date__isnull=True).first()
        if beneficiary is None:
            raise NotFound("居民不存在或不在您的服务范围内", "no such person in your area")
    area = None
    if body.area_id is not None:
        area = Area.objects.filter(pk=body.area_id).first()
        if area is None:
            raise NotFound("区域不存在", "no such area")
    wish = wishes.collect(
        actor=user,
        channel=body.channel,
        title=body.title,
        category=body.category,
        description=body.description,
        beneficiary=beneficiary,
        area=area,
    )
    return Status(201, wish_detail(user, wish.pk))


@router.get("/wishes/{wish_id}", response=responses(WishDetail))
def get_wish(request: HttpRequest, wish_id: int) -> dict[str, Any]:
    """一个微心愿及其完整进展（每一步一条，含操作人）、照片和当前可执行的操作。
    / One wish with its whole timeline (one event per step, with its actor), its photos
    and the steps the user may take now."""
    return wish_detail(acting_user(request), wish_id)


@router.post("/wishes/{wish_id}/claim", response=responses(WishDetail))
def claim_wish(request: HttpRequest, wish_id: int, body: ClaimIn) -> dict[str, Any]:
    """认领（党员、党员中心户、红色合伙人、共建单位或志愿者；认领人或名称，承诺日期）。
    居民党员以本人身份认领本小区的心愿。仅「已收集」的心愿可认领，否则 409。/ Claim a
    collected wish (claimer kind, person or name, promised date); a resident party member
    claims their compound's wishes as themself. Other statuses answer 409."""
    user = acting_user(request)
    claimer = None
    if body.claimer_id is not None:
        claimer = Person.objects.visible_to(user, Perm.VIEW).filter(pk=body.claimer_id).first()
        if claimer is None:
            raise NotFound("认领人不存在或不在您的辖区", "no such claimer in your area")
    wishes.claim(
        _id(wish_id),
        actor=user,
        claimer_kind=body.claimer_kind or "",
        claimer=claimer,
        claimer_name=body.claimer_name,
        due_on=body.due_on,
    )
    return wish_detail(user, wish_id)


@router.post("/wishes/{wish_id}/fulfil", response=responses(WishDetail))
def fulfil_wish(
    request: HttpRequest, wish_id: int, file: File[UploadedFile], note: Form[str] = ""
) -> dict[str, Any]:
    """实现心愿：认领人（或工作人员）上传实现照片（multipart ``file``，必填；JPEG、PNG、
    WebP，≤8 MB，去除 EXIF）。/ Fulfil a claimed wish with a photo (multipart ``file``,
    required: JPEG, PNG or WebP up to 8 MB, stored without EXIF) and an optional note."""
    user = acting_user(request)
    wishes.fulfil(_id(wish_id), actor=user, photo=file, note=note)
    return wish_detail(user, wish_id)


@router.post("/wishes/{wish_id}/thank", response=responses(WishDetail))
def thank_wish(request: HttpRequest, wish_id: int, body: ThankIn) -> dict[str, Any]:
    """致谢：心愿对象本人或工作人员记录感谢。/ Record the resident's thanks (the resident
    themself, or staff on their behalf) for a fulfilled wish."""
    user = acting_user(request)
    wishes.thank(_id(wish_id), actor=user, thanks=body.thanks)
    return wish_detail(user, wish_id)


@router.post("/wishes/{wish_id}/cancel", response=responses(WishDetail))
def cancel_wish(request: HttpRequest, wish_id: int, body: ReasonIn) -> dict[str, Any]:
    """撤销心愿（工作人员；居民可在认领前撤销自己的心愿）。/ Cancel a wish (staff; the
    resident their own before it is claimed)."""
    user = acting_user(request)
    wishes.cancel(_id(wish_id), actor=user, reason=body.reason)
    return wish_detail(user, wish_id)


@router.post("/wishes/{wish_id}/escalate", response=responses(WishDetail))
def escalate_wish(request: HttpRequest, wish_id: int, body: ReasonIn) -> dict[str, Any]:
    """提级帮办：社区难以独立实现的心愿转为诉求工单（按心愿来源渠道），工单号记在心愿上；
    工单办结后心愿进展中记录。/ Escalate a wish to a case of the request loop (on the
    channel the wish came from); the case number is kept on the wish and the case's
    closing comes back onto its timeline."""
    user = acting_user(request)
    wishes.escalate(_id(wish_id), actor=user, reason=body.reason)
    return wish_detail(user, wish_id)


@router.get("/wishes/{wish_id}/photos/{photo_id}", response=responses(None))
def get_wish_photo(request: HttpRequest, wish_id: int, photo_id: int) -> FileResponse:
    """心愿照片（仅对能看到该心愿的用户，否则 404）。/ A wish's photo, to users who may
    see the wish (404 otherwise)."""
    user = acting_user(request)
    wish = wishes.get_wish(user, _id(wish_id))
    photo = Photo.objects.filter(wish=wish, pk=_id(photo_id)).first()
    if photo is None:
        raise NotFound("照片不存在", "photo not found")
    return photos.response(request, photo)


@router.get("/compounds/{area_id}/demands", response=responses(DemandListOut))
def compound_demands(request: HttpRequest, area_id: int) -> dict[str, Any]:
    """小区需求清单：本小区未完成的微心愿和未办结的诉求（各来源登记在 core.demands），
    最新在前。/ A compound's demand list: its open wishes and open cases (each source
    registered in core.demands, each scoped for the user), newest first."""
    user = acting_user(request)
    result = demand.demand_list(user, _id(area_id))
    zone = result.compound
    counts: dict[str, int] = {}
    for item in result.items:
        counts[item.source] = counts.get(item.source, 0) + 1
    return {
        "compound": {"id": zone.pk, "name": zone.name, "path": zone.path},
        "counts": counts,
        "items": [item.__dict__ for item in result.items],
    }
