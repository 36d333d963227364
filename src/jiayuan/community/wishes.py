"""Micro-wishes (微心愿): the domain actions, one per step of a wish's life.

A wish is collected (敲门行动, the WeChat group, the resident's own phone page, or staff
entry), claimed by a party member, 党员中心户, partner, co-building unit or volunteer,
fulfilled with a photo, and thanked; it may be cancelled, or escalated (提级帮办) to a
case of the request loop through the incident bridge (:mod:`jiayuan.core.incidents`),
whose closing comes back onto the wish's timeline. The allowed steps are one table
(:data:`TRANSITIONS`); every step checks who acts, changes the row, appends one
:class:`WishEvent` and one audit entry inside one transaction.

Who may act: staff holding ``Perm.SERVE`` where the wish lives do every step; a resident
makes wishes for themself, thanks for their own, cancels their own while nobody has
claimed it, and — being a party member of the compound — claims and fulfils its wishes.
Anyone else gets 404, as for a row outside their scope.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.incidents import raise_incident, register_kind
from jiayuan.core.models import AuditEntry
from jiayuan.core.notices import notify
from jiayuan.core.roles import Perm, Role
from jiayuan.core.scoping import path_allowed
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area, Membership
from jiayuan.org.paths import ancestor_path
from jiayuan.people.choices import PARTY
from jiayuan.people.models import Person, PersonTag

from .choices import ClaimerKind, WishCategory, WishChannel, WishStatus
from .models import Photo, Wish, WishEvent
from .residents import compound_q, home_path, person_of

S = WishStatus
KEY_KIND = "wish"

# action → (statuses it may start from, status after)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "claim": (frozenset({S.COLLECTED}), S.CLAIMED),
    "fulfil": (frozenset({S.CLAIMED}), S.FULFILLED),
    "thank": (frozenset({S.FULFILLED}), S.THANKED),
    "cancel": (frozenset({S.COLLECTED, S.CLAIMED}), S.CANCELLED),
    "escalate": (frozenset({S.COLLECTED, S.CLAIMED}), S.ESCALATED),
}
ACTION_LABELS = {
    "claim": "认领",
    "fulfil": "实现",
    "thank": "致谢",
    "cancel": "撤销",
    "escalate": "提级帮办",
}
# Timeline event kinds (one per step) and how the timeline names them.
EVENT_LABELS = {
    "collected": "收集心愿",
    "claimed": "认领",
    "fulfilled": "实现心愿",
    "thanked": "致谢",
    "cancelled": "撤销",
    "escalated": "提级帮办",
    "case_closed": "诉求办结",
    "reminded": "催办提醒",
}

# The 一老一小 tags of people (people's tag codes) and the groups a wish shows for them.
TARGET_GROUPS: dict[str, str] = {
    "高龄老人": "高龄",
    "独居老人": "独居",
    "空巢老人": "空巢",
    "失能老人": "失能",
    "留守儿童": "留守儿童",
    "孤儿": "孤儿",
    "事实无人抚养儿童": "困境儿童",
    "残疾人": "残疾",
}

# The case a wish escalates to: its channel follows the wish's, its category the wish's.
CASE_CHANNEL = {
    WishChannel.DOOR: "door",
    WishChannel.WECHAT: "wechat",
    WishChannel.RESIDENT: "consultation",
    WishChannel.STAFF: "consultation",
}
CASE_CATEGORY = {WishCategory.CARE: "0802", WishCategory.REPAIR: "0303"}
DEFAULT_CASE_CATEGORY = "10"

MAX_DUE_DAYS = 366
MAX_ID = 2**63 - 1  # a larger id names no row (and SQLite cannot compare it)
# control characters and lone surrogates (PostgreSQL cannot store either)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def remind_settings() -> tuple[int, int, int]:
    """(days past the due date, days after an undated claim, days between reminders):
    ``WISH_REMIND_AFTER_DUE_DAYS`` (1), ``WISH_REMIND_UNDATED_DAYS`` (7) and
    ``WISH_REMIND_EVERY_DAYS`` (7) in the Django settings."""
    return (
        int(getattr(settings, "WISH_REMIND_AFTER_DUE_DAYS", 1)),
        int(getattr(settings, "WISH_REMIND_UNDATED_DAYS", 7)),
        int(getattr(settings, "WISH_REMIND_EVERY_DAYS", 7)),
    )


# --- reading -----------------------------------------------------------------------------
def visible_wishes(user: Any) -> QuerySet[Wish]:
    """The wishes ``user`` may read: staff in scope, and residents of the wish's compound."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Wish.objects.none()
    return Wish.objects.filter(compound_q(user))


def with_related(qs: QuerySet[Wish]) -> QuerySet[Wish]:
    return qs.select_related("area", "beneficiary", "claimer", "created_by")


def get_wish(user: Any, pk: int, *, for_update: bool = False) -> Wish:
    """The wish ``pk`` if ``user`` may read it, else 404 (absent and hidden alike)."""
    if not 1 <= pk <= MAX_ID:
        raise NotFound()
    qs = with_related(visible_wishes(user))
    if for_update:
        qs = qs.select_for_update(of=("self",))
    wish = qs.filter(pk=pk).first()
    if wish is None:
        raise NotFound()
    return wish


def is_staff_for(user: Any, wish_or_path: Wish | str) -> bool:
    path = wish_or_path if isinstance(wish_or_path, str) else wish_or_path.area_path
    return path_allowed(user, path, Perm.SERVE)


def compound_path(path: str) -> str:
    """The compound (小区) a wish at ``path`` belongs to (the path itself above one)."""
    try:
        return ancestor_path(path, AreaKind.ZONE)
    except ValueError:
        return path


def is_party_member_of(user: Any, wish: Wish) -> bool:
    """A resident party member living in the wish's compound (who may claim it)."""
    person = person_of(user)
    home = home_path(user)
    return (
        person is not None
        and person.political_status in PARTY
        and home is not None
        and wish.area_path.startswith(home)
    )


def allowed_actions(user: Any, wish: Wish) -> list[str]:
    """The steps ``user`` may take on ``wish`` now (what pages offer as buttons)."""
    return [
        action
        for action, (sources, _target) in TRANSITIONS.items()
        if wish.status in sources and may(action, user, wish)
    ]


def events_of(wish: Wish) -> list[WishEvent]:
    return list(wish.events.all())


# --- input ---------------------------------------------------------------------------------
def _text(value: Any, field: str, label: str, max_length: int, *, required: bool) -> str:
    text = "" if value is None else str(value)
    if _CONTROL.search(text):
        raise ValidationFailed(
            f"{label}含有无效字符", f"{field} has control characters", field=field
        )
    text = text.strip()
    if required and not text:
        raise ValidationFailed(f"请填写{label}", f"{field} is required", field=field)
    if len(text) > max_length:
        raise ValidationFailed(
            f"{label}最多 {max_length} 个字",
            f"{field} is over {max_length} characters",
            field=field,
        )
    return text


def _choice(value: Any, choices: Any, field: str, label: str) -> str:
    if value not in choices.values:
        raise ValidationFailed(f"{label}无效", f"invalid {field}", field=field)
    return str(value)


def target_groups_of(person: Person | None, today: dt.date | None = None) -> list[str]:
    """The 一老一小 groups of ``person`` from the tags they hold today (catalogue order)."""
    if person is None:
        return []
    today = today or timezone.localdate()
    held = set(
        PersonTag.objects.filter(person=person, tag__code__in=TARGET_GROUPS)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=today))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today))
        .values_list("tag__code", flat=True)
    )
    return [label for code, label in TARGET_GROUPS.items() if code in held]


def _home_area(person: Person) -> Area:
    """Where a wish for ``person`` lives: their grid, else their compound, else their area."""
    for kind in (AreaKind.GRID, AreaKind.ZONE):
        try:
            path = ancestor_path(person.area_path, kind)
        except ValueError:
            continue
        area = Area.objects.filter(path=path).first()
        if area is not None:
            return area
    return person.area


def _next_number(today: dt.date) -> str:
    prefix = f"WY{today:%Y}"
    last = (
        Wish.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    seq = int(last[len(prefix) :]) + 1 if last and last[len(prefix) :].isdigit() else 1
    return f"{prefix}{seq:06d}"


# --- actions -------------------------------------------------------------------------------
@dataclass
class Step:
    """What one action did: the wish after it and the event it wrote."""

    wish: Wish
    event: WishEvent


def _event(wish: Wish, kind: str, actor: Any, note: str = "", **data: Any) -> WishEvent:
    name = ""
    if actor is not None and getattr(actor, "pk", None):
        person = person_of(actor)
        name = person.name if person is not None else actor.get_username()
    return WishEvent.objects.create(
        wish=wish,
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=name[:100],
        note=note[:300],
        data=data,
    )


def collect(
    *,
    actor: Any,
    channel: str,
    title: str,
    category: str,
    description: str = "",
    beneficiary: Person | None = None,
    area: Area | None = None,
) -> Wish:
    """Collect a wish (收集): on the door-knocking, WeChat or staff channels by staff
    holding ``Perm.SERVE`` at the wish's place (for a person in their scope, or for a
    place: a compound or grid); on the resident channel by a resident for themself."""
    channel = _choice(channel, WishChannel, "channel", "收集渠道")
    category = _choice(category, WishCategory, "category", "心愿类别")
    title = _text(title, "title", "心愿", 100, required=True)
    description = _text(description, "description", "说明", 2000, required=False)
    if channel == WishChannel.RESIDENT:
        person = person_of(actor)
        if person is None:
            raise ValidationFailed(
                "您的账号未关联居民信息，请联系社区登记", "your account is not linked to a resident"
            )
        if beneficiary is not None and beneficiary.pk != person.pk:
            raise ValidationFailed(
                "居民只能为自己提交心愿", "a resident makes wishes for themself",
                field="beneficiary",
            )  # fmt: skip
        beneficiary = person
        place = _home_area(person)
    else:
        if beneficiary is not None:
            if not path_allowed(actor, beneficiary.area_path, Perm.SERVE):
                raise NotFound("居民不存在或不在您的服务范围内", "no such person in your area")
            place = _home_area(beneficiary)
        elif area is not None:
            if area.kind not in (AreaKind.ZONE, AreaKind.GRID, AreaKind.BUILDING, AreaKind.UNIT):
                raise ValidationFailed(
                    "请选择小区或网格", "the place must be a compound or below", field="area"
                )
            place = area
        else:
            raise ValidationFailed(
                "请选择心愿对象或所在小区",
                "a person or a compound is required",
                field="beneficiary",
            )
        if not path_allowed(actor, place.path, Perm.SERVE):
            raise NotFound("该位置不在您的服务范围内", "the place is outside your area")
    wish = Wish(
        title=title,
        description=description,
        category=category,
        channel=channel,
        area=place,
        beneficiary=beneficiary,
        target_groups=target_groups_of(beneficiary),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    for attempt in range(5):
        try:
            with transaction.atomic():
                wish.number = _next_number(timezone.localdate())
                wish.save()
                audit.record(AuditEntry.Action.CREATE, wish, actor, audit.snapshot(wish))
                _event(
                    wish, "collected", actor, f"{WishChannel(channel).label}收集",
                    channel=channel, target_groups=wish.target_groups,
                )  # fmt: skip
            return wish
        except IntegrityError:  # two collectors took the same number: take the next one
            wish.pk = None
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def may(action: str, user: Any, wish: Wish) -> bool:
    """Whether ``user`` may take ``action`` on ``wish`` (its status aside): staff in
    scope always; a resident party member of the compound claims and fulfils what they
    claimed; the resident thanks for their own wish and cancels it until it is claimed."""
    if is_staff_for(user, wish):
        return True
    person = person_of(user)
    if action == "claim":
        return is_party_member_of(user, wish)
    if action == "fulfil":
        return person is not None and wish.claimer_id == person.pk
    mine = person is not None and wish.beneficiary_id == person.pk
    if action == "thank":
        return mine
    if action == "cancel":
        made = user is not None and wish.created_by_id is not None and wish.created_by_id == user.pk
        return (mine or made) and wish.status == S.COLLECTED
    return False


def _check_actor(action: str, user: Any, wish: Wish) -> None:
    """Raise unless ``user`` may take ``action`` on ``wish``: 404 outside their scope,
    403 where they see it but may not act."""
    if may(action, user, wish):
        return
    if visible_wishes(user).filter(pk=wish.pk).exists():
        raise PermissionDenied(
            f"您不能{ACTION_LABELS[action]}这个心愿", f"you may not {action} this wish"
        )  # fmt: skip
    raise NotFound()


def _transition(action: str, wish: Wish, actor: Any) -> tuple[str, str]:
    sources, target = TRANSITIONS[action]
    if wish.status not in sources:
        raise Conflict(
            f"心愿当前「{wish.get_status_display()}」，不能{ACTION_LABELS[action]}",
            f"a {wish.status} wish cannot be {action}ed",
        )
    _check_actor(action, actor, wish)
    return wish.status, target


def _save(wish: Wish, actor: Any, before: dict[str, Any], note: str, fields: Iterable[str]) -> None:
    wish.save(update_fields=[*fields, "updated_at"])
    delta = audit.diff(before, audit.snapshot(wish))
    if delta:
        audit.record(AuditEntry.Action.UPDATE, wish, actor, delta, note)


def _locked(wish: Wish | int, actor: Any) -> Wish:
    pk = wish if isinstance(wish, int) else wish.pk
    return get_wish(actor, pk, for_update=True)


def claim(
    wish: Wish | int,
    *,
    actor: Any,
    claimer_kind: str = "",
    claimer: Person | None = None,
    claimer_name: str = "",
    due_on: dt.date | None = None,
) -> Step:
    """Claim a wish (认领): by a party member, 党员中心户, partner, unit or volunteer (the
    claimer is a person, or a name), with the date they promise. A resident party member
    of the compound claims as themself."""
    claimer_name = _text(claimer_name, "claimer_name", "认领方", 100, required=False)
    today = timezone.localdate()
    if due_on is not None and not today <= due_on <= today + dt.timedelta(days=MAX_DUE_DAYS):
        raise ValidationFailed(
            "承诺完成日期须在今天到一年之内", "due_on must be within a year from today",
            field="due_on",
        )  # fmt: skip
    with transaction.atomic():
        locked = _locked(wish, actor)
        before_status, target = _transition("claim", locked, actor)
        if not is_staff_for(actor, locked):  # a resident party member claims as themself
            claimer, claimer_name = person_of(actor), ""
            claimer_kind = claimer_kind or ClaimerKind.PARTY_MEMBER
            if claimer_kind not in (ClaimerKind.PARTY_MEMBER, ClaimerKind.CENTRAL_HOUSEHOLD):
                raise ValidationFailed(
                    "居民党员以党员身份认领", "a resident claims as a party member",
                    field="claimer_kind",
                )  # fmt: skip
        claimer_kind = _choice(claimer_kind, ClaimerKind, "claimer_kind", "认领方类型")
        if claimer is not None and claimer.death_date is not None:
            raise ValidationFailed("认领人信息无效", "invalid claimer", field="claimer")
        if claimer is None and not claimer_name:
            raise ValidationFailed(
                "请填写认领人或认领单位", "a claimer person or name is required", field="claimer"
            )
        before = audit.snapshot(locked)
        locked.status = target
        locked.claimer_kind = claimer_kind
        locked.claimer = claimer
        locked.claimer_name = claimer_name or (claimer.name if claimer else "")
        locked.claimed_at = timezone.now()
        locked.due_on = due_on
        locked.reminded_at = None
        _save(locked, actor, before, "认领", [
            "status", "claimer_kind", "claimer", "claimer_name", "claimed_at", "due_on",
            "reminded_at",
        ])  # fmt: skip
        note = f"{ClaimerKind(claimer_kind).label} {locked.claimer_name}"
        if due_on:
            note += f"，承诺 {due_on:%Y-%m-%d} 前完成"
        event = _event(
            locked, "claimed", actor, note, claimer_kind=claimer_kind,
            claimer_name=locked.claimer_name, due_on=due_on.isoformat() if due_on else None,
            before=before_status,
        )  # fmt: skip
    return Step(locked, event)


def fulfil(wish: Wish | int, *, actor: Any, photo: Any, note: str = "") -> Step:
    """Fulfil a wish (实现): the claimer (or staff) shows it done with a photo (required)."""
    from .photos import save_photo

    note = _text(note, "note", "说明", 300, required=False)
    if photo is None:
        raise ValidationFailed("请上传心愿实现的照片", "a photo is required", field="file")
    with transaction.atomic():
        locked = _locked(wish, actor)
        before_status, target = _transition("fulfil", locked, actor)
        saved = save_photo(photo, actor=actor, wish=locked, caption="心愿实现")
        before = audit.snapshot(locked)
        locked.status = target
        locked.fulfilled_at = timezone.now()
        _save(locked, actor, before, "实现", ["status", "fulfilled_at"])
        event = _event(locked, "fulfilled", actor, note, photo=saved.pk, before=before_status)
    return Step(locked, event)


def thank(wish: Wish | int, *, actor: Any, thanks: str = "") -> Step:
    """Thank (致谢): the resident, or staff on their behalf, records their thanks."""
    thanks = _text(thanks, "thanks", "感谢语", 200, required=False) or "谢谢！"
    with transaction.atomic():
        locked = _locked(wish, actor)
        before_status, target = _transition("thank", locked, actor)
        before = audit.snapshot(locked)
        locked.status = target
        locked.thanks = thanks
        locked.thanked_at = timezone.now()
        _save(locked, actor, before, "致谢", ["status", "thanks", "thanked_at"])
        event = _event(locked, "thanked", actor, thanks, before=before_status)
    return Step(locked, event)


def cancel(wish: Wish | int, *, actor: Any, reason: str = "") -> Step:
    """Cancel (撤销) a wish nobody fulfilled: staff, or its resident before it is claimed."""
    reason = _text(reason, "reason", "撤销原因", 300, required=False)
    with transaction.atomic():
        locked = _locked(wish, actor)
        before_status, target = _transition("cancel", locked, actor)
        before = audit.snapshot(locked)
        locked.status = target
        _save(locked, actor, before, reason or "撤销", ["status"])
        event = _event(locked, "cancelled", actor, reason, before=before_status)
    return Step(locked, event)


def escalate(wish: Wish | int, *, actor: Any, reason: str = "") -> Step:
    """Escalate (提级帮办) a wish the community cannot meet alone: a case of the request
    loop is opened for it through the incident bridge (key ``wish:<id>``, on the channel
    the wish came from), its number kept on the wish."""
    reason = _text(reason, "reason", "提级原因", 300, required=False)
    with transaction.atomic():
        locked = _locked(wish, actor)
        before_status, target = _transition("escalate", locked, actor)
        beneficiary = locked.beneficiary
        area = locked.area
        description = locked.description or locked.title
        if beneficiary is not None:
            description = f"{description}（心愿对象：{beneficiary.name}）"
        if reason:
            description = f"{description}\n提级原因：{reason}"
        number = raise_incident(
            Wish,
            key=f"{KEY_KIND}:{locked.pk}",
            category_code=CASE_CATEGORY.get(WishCategory(locked.category), DEFAULT_CASE_CATEGORY),
            title=f"微心愿提级帮办：{locked.title}"[:100],
            description=f"[{locked.number}] {description}",
            area=area,
            dwelling=beneficiary.dwelling if beneficiary is not None else None,
            lat=area.centroid_lat,
            lng=area.centroid_lng,
            priority="normal",
            channel=CASE_CHANNEL[WishChannel(locked.channel)],
        )
        if not number:
            raise Conflict("诉求未能建立，请稍后再试", "no case could be opened for the wish")
        before = audit.snapshot(locked)
        locked.status = target
        locked.case_number = number
        _save(locked, actor, before, f"提级帮办 {number}", ["status", "case_number"])
        event = _event(
            locked, "escalated", actor, reason or f"转为诉求 {number}",
            case_number=number, before=before_status,
        )  # fmt: skip
    return Step(locked, event)


def on_incident_closed(sender: Any, *, key: str, number: str = "", outcome: str = "", **_: Any):
    """Receiver of ``incident_closed``: a wish's case is finished; its timeline says so."""
    kind, _sep, ref = key.partition(":")
    if kind != KEY_KIND or not ref.isdigit():
        return
    wish = Wish.objects.filter(pk=int(ref)).first()
    if wish is None or (number and wish.case_number and wish.case_number != number):
        return
    _event(wish, "case_closed", None, f"诉求 {number} 已办结", case_number=number, outcome=outcome)


# --- reminders -----------------------------------------------------------------------------
def stalled(now: dt.datetime | None = None) -> QuerySet[Wish]:
    """Claimed wishes left unfulfilled too long and not reminded within the period."""
    now = now or timezone.now()
    after_due, undated, every = remind_settings()
    today = timezone.localdate(now)
    late = Q(due_on__isnull=False, due_on__lt=today - dt.timedelta(days=after_due))
    slow = Q(due_on__isnull=True, claimed_at__lte=now - dt.timedelta(days=undated))
    quiet = Q(reminded_at__isnull=True) | Q(reminded_at__lte=now - dt.timedelta(days=every))
    return Wish.objects.filter(late | slow, quiet, status=S.CLAIMED)


def remind_stalled(now: dt.datetime | None = None) -> int:
    """Remind the claimers of stalled claims (if their account is linked), and the
    compound's branch secretary and the community's staff, once per period; returns how
    many wishes were reminded."""
    now = now or timezone.now()
    with transaction.atomic():
        wishes = list(stalled(now).select_related("claimer").select_for_update(of=("self",)))
        if not wishes:
            return 0
        paths: dict[int, tuple[str, str]] = {}
        for wish in wishes:
            zone = compound_path(wish.area_path)
            try:
                community = ancestor_path(wish.area_path, AreaKind.COMMUNITY)
            except ValueError:
                community = zone
            paths[wish.pk] = (zone, community)
        wanted = {p for pair in paths.values() for p in pair}
        staff: dict[str, list[Any]] = {}
        for m in Membership.objects.filter(
            active=True,
            area_path__in=wanted,
            role__in=(Role.BRANCH_SECRETARY, Role.COMMUNITY_STAFF),
            user__is_active=True,
        ).select_related("user"):
            staff.setdefault(m.area_path, []).append(m.user)
        claimer_users = {
            p.pk: p.user
            for p in Person.objects.filter(
                pk__in={w.claimer_id for w in wishes if w.claimer_id}, user__isnull=False
            ).select_related("user")
        }
        for wish in wishes:
            zone, community = paths[wish.pk]
            users = [claimer_users.get(wish.claimer_id or 0)]
            users += staff.get(zone, []) + staff.get(community, [])
            due = f"承诺 {wish.due_on:%Y-%m-%d} 完成" if wish.due_on else "认领已久"
            notify(
                users,
                kind="wish_stalled",
                title=f"微心愿待实现：{wish.title}",
                body=f"{wish.number}，{wish.claimer_name or '认领方'}{due}，尚未实现。",
                link=f"/community/wishes/{wish.pk}/",
                ref=wish.number,
            )
            _event(wish, "reminded", None, f"提醒{wish.claimer_name or '认领方'}尽快实现")
        Wish.objects.filter(pk__in=[w.pk for w in wishes]).update(reminded_at=now)
    return len(wishes)


def connect() -> None:
    """Wish keys are incident keys; a wish hears when its case is finished."""
    from jiayuan.core.incidents import incident_closed

    register_kind(KEY_KIND)
    incident_closed.connect(on_incident_closed, dispatch_uid="community-wish-case-closed")


def photos_of(wish: Wish) -> list[Photo]:
    return list(wish.photos.all())
