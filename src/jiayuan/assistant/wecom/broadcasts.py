"""Policy broadcasts (政策宣讲): a message scheduled to the resident group chats of an
area, sent through each group's robot.

Staff holding CHANGE at an area write a broadcast for it — by hand, or composed from a
catalogue policy (its summary, what it gives, the office that takes applications) — and
schedule it. Every minute :func:`send_due` (a Huey job, :mod:`.jobs`) starts the due
ones: one :class:`~jiayuan.assistant.models.Delivery` per enabled robot at or below the
area, each sent at the robot's pace, retried with a growing backoff when WeCom refuses
or cannot be reached, and given up after :data:`MAX_ATTEMPTS`. A broadcast is sent when
at least one group received it, failed when none did.

Statuses move only along :data:`ALLOWED`, each move audited (the job acts as the system).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from jiayuan.core import audit
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed, row_id
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.policies.models import Policy

from ..choices import BroadcastKind, BroadcastStatus, DeliveryStatus
from ..models import Broadcast, Delivery, Robot
from . import robot as sender

S = BroadcastStatus
# The broadcast's state machine: where each status may go.
ALLOWED: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.SCHEDULED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.SENDING, S.CANCELLED}),
    S.SENDING: frozenset({S.SENT, S.FAILED}),
    S.SENT: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}
BROADCAST_AREA_KINDS = (
    AreaKind.COUNTY, AreaKind.STREET, AreaKind.COMMUNITY, AreaKind.ZONE, AreaKind.GRID,
)  # fmt: skip
MAX_ATTEMPTS = 5
BACKOFF_SECONDS = 60  # after the n-th failure: 60 s × 2^(n-1)
LEASE = dt.timedelta(minutes=2)  # a delivery being sent is not picked up again meanwhile
BATCH = 200  # deliveries tried per run
LATEST = dt.timedelta(days=366)  # how far ahead a broadcast may be scheduled
TITLE_CHARS = 100
URL_CHARS = 300


def ensure_may(user: Any, path: str) -> None:
    """404 unless ``user`` sees ``path``; 403 unless they may also change things there.
    ``user=None`` is the system (demo, jobs)."""
    if user is None:
        return
    if not path_allowed(user, path, Perm.VIEW):
        raise NotFound()
    if not path_allowed(user, path, Perm.CHANGE):
        raise PermissionDenied(
            "只有有编辑权限的工作人员可以发布宣讲", "only staff who may change the area broadcast"
        )


def visible_broadcasts(user: Any) -> QuerySet[Broadcast]:
    return Broadcast.objects.visible_to(user).select_related("area", "policy")


def with_counts(queryset: QuerySet[Broadcast]) -> QuerySet[Broadcast]:
    """Each broadcast with its deliveries counted by status (one grouped query)."""
    return queryset.annotate(
        delivery_count=Count("deliveries"),
        sent_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SENT)),
        failed_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
    )


def get_broadcast(user: Any, pk: Any) -> Broadcast:
    found = visible_broadcasts(user).filter(pk=row_id(pk)).first()
    if found is None:
        raise NotFound("宣讲不存在", "broadcast not found")
    return found


def visible_robots(user: Any) -> QuerySet[Robot]:
    return Robot.objects.visible_to(user).select_related("area")


# --- composing ------------------------------------------------------------------------------
@dataclass
class BroadcastFields:
    """What a form or an API body gives for a broadcast. ``card`` holds a template
    card's ``title``, ``desc``, ``text``, ``fields`` and ``url``."""

    area: Area
    title: str
    kind: str = BroadcastKind.TEXT
    content: str = ""
    card: dict[str, Any] = field(default_factory=dict)
    scheduled_at: dt.datetime | None = None
    policy: Policy | None = None


def from_policy(policy: Policy, kind: str = BroadcastKind.TEXT, url: str = "") -> dict[str, Any]:
    """A broadcast's title, content and card composed from a catalogue policy: what it
    is, what it gives, who takes the application and on what basis."""
    basis = f"{policy.legal_basis}{policy.article}"
    summary = policy.summary or policy.name
    office = policy.office or "所在社区党群服务中心"
    if kind == BroadcastKind.MARKDOWN:
        content = (
            f"**政策宣讲：{policy.name}**\n> {summary}\n\n"
            f"**待遇内容**：{policy.benefit}\n"
            f'**受理部门**：<font color="info">{office}</font>\n'
            f"**政策依据**：{basis}"
        )
    else:
        content = (
            f"【政策宣讲】{policy.name}\n{summary}\n待遇内容：{policy.benefit}\n"
            f"受理部门：{office}\n政策依据：{basis}"
        )
    card = {
        "title": policy.name[:26],
        "desc": "政策宣讲",
        "text": f"{summary} {policy.benefit}"[:112],
        "fields": [["受理部门", office[:30]], ["政策依据", basis[:30]]],
        "url": url,
    }
    return {"title": f"政策宣讲：{policy.name}"[:TITLE_CHARS], "content": content, "card": card}


# control characters (newlines and tabs allowed) and lone surrogates: no database or
# WeCom takes them
INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def clean_text(value: Any, limit: int, name: str, zh: str, *, required: bool = False) -> str:
    """``value`` trimmed; 422 when empty but required, too long, or holding control
    characters or lone surrogates."""
    text = str(value or "").strip()
    if INVALID.search(text):
        raise ValidationFailed(f"{zh}含有无效字符", f"{name} holds invalid characters", field=name)
    if required and not text:
        raise ValidationFailed(f"请填写{zh}", f"{name} is required", field=name)
    if len(text) > limit:
        raise ValidationFailed(
            f"{zh}不能超过 {limit} 字", f"{name} is over {limit} characters", field=name
        )
    return text


def payload_of(broadcast: Broadcast) -> dict[str, Any]:
    """The webhook message of ``broadcast``."""
    if broadcast.kind == BroadcastKind.MARKDOWN:
        return sender.markdown_payload(broadcast.content)
    if broadcast.kind == BroadcastKind.TEMPLATE_CARD:
        return sender.card_payload(broadcast.card)
    return sender.text_payload(broadcast.content)


def clean(user: Any, data: BroadcastFields, now: dt.datetime | None = None) -> dict[str, Any]:
    """The checked values of a broadcast: the user's right at the area, the message
    within WeCom's limits, a schedule that is not in the past."""
    now = now or timezone.now()
    area = data.area
    ensure_may(user, area.path)
    if area.kind not in BROADCAST_AREA_KINDS:
        raise ValidationFailed(
            "宣讲范围须为县、街道、社区、小区或网格", "a broadcast goes to a county, street, "
            "community, compound or grid", field="area",
        )  # fmt: skip
    if data.kind not in BroadcastKind.values:
        raise ValidationFailed("消息类型无效", "unknown message kind", field="kind")
    title, content, card = _composed(data)
    values: dict[str, Any] = {
        "area": area,
        "kind": data.kind,
        "title": clean_text(title, TITLE_CHARS, "title", "标题", required=True),
        "policy": data.policy,
        "content": "",
        "card": {},
    }
    if data.kind == BroadcastKind.TEMPLATE_CARD:
        values["card"] = _card(card)
    else:
        limit = sender.MARKDOWN_BYTES if data.kind == BroadcastKind.MARKDOWN else sender.TEXT_BYTES
        content = clean_text(content, limit, "content", "内容", required=True)
        if len(content.encode()) > limit:
            raise ValidationFailed(
                f"内容超过企业微信的 {limit} 字节上限（约 {limit // 3} 个汉字）",
                f"content is over WeCom's {limit} bytes", field="content",
            )  # fmt: skip
        values["content"] = content
    values["scheduled_at"] = _when(data.scheduled_at, now)
    return values


def _composed(data: BroadcastFields) -> tuple[str, str, dict[str, Any]]:
    """The title, content and card given, each composed from the policy when left
    empty; a card not given is drawn from the title and content."""
    given = {k: v for k, v in (data.card or {}).items() if v not in (None, "", [])}
    title, content = (data.title or "").strip(), (data.content or "").strip()
    if data.policy is not None:
        made = from_policy(data.policy, data.kind, str(given.get("url") or ""))
        title = title or made["title"]
        content = content or made["content"]
        return title, content, {**made["card"], **given}
    drawn = {"title": title[:26], "desc": "政策宣讲", "text": content[:112], "fields": []}
    return title, content, {**drawn, **given}


def _card(card: dict[str, Any]) -> dict[str, Any]:
    url = clean_text(card.get("url"), URL_CHARS, "url", "详情链接", required=True)
    if not url.startswith(("https://", "http://")):
        raise ValidationFailed(
            "详情链接须以 http:// 或 https:// 开头", "the card's link must be http(s)", field="url"
        )
    fields = card.get("fields") or []
    if not isinstance(fields, list) or len(fields) > 6:
        raise ValidationFailed("卡片最多六行字段", "a card holds at most six fields", field="card")
    rows = []
    for row in fields:
        if not isinstance(row, list | tuple) or len(row) != 2:
            raise ValidationFailed(
                "卡片字段须为名称和值", "a card field is [name, value]", field="card"
            )
        rows.append(
            [clean_text(row[0], 5, "card", "字段名"), clean_text(row[1], 30, "card", "字段值")]
        )
    return {
        "title": clean_text(card.get("title"), 26, "card_title", "卡片标题", required=True),
        "desc": clean_text(card.get("desc"), 30, "card_desc", "卡片副标题"),
        "text": clean_text(card.get("text"), 112, "card_text", "卡片正文"),
        "fields": rows,
        "url": url,
    }


def _when(value: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value < now - dt.timedelta(minutes=1):
        raise ValidationFailed(
            "发送时间不能早于现在", "the send time is in the past", field="scheduled_at"
        )
    if value > now + LATEST:
        raise ValidationFailed(
            "发送时间不能晚于一年以后", "the send time is over a year ahead", field="scheduled_at"
        )
    return value


# --- actions --------------------------------------------------------------------------------
def create(user: Any, data: BroadcastFields, now: dt.datetime | None = None) -> Broadcast:
    """Write a broadcast (audited): scheduled when it has a send time, else a draft."""
    values = clean(user, data, now)
    status = S.SCHEDULED if values["scheduled_at"] else S.DRAFT
    broadcast = Broadcast(**values, status=status, created_by=user)
    with transaction.atomic():
        broadcast.save()
        audit.record(
            AuditEntry.Action.CREATE, broadcast, user, audit.snapshot(broadcast), "新建宣讲"
        )
    return broadcast


def _move(broadcast: Broadcast, to: str, actor: Any, note: str, **changes: Any) -> Broadcast:
    """Move a locked broadcast to ``to`` along :data:`ALLOWED` (409 otherwise), audited."""
    if to not in ALLOWED[broadcast.status]:
        raise Conflict(
            f"“{broadcast.get_status_display()}”的宣讲不能改为“{S(to).label}”",
            f"a {broadcast.status} broadcast cannot become {to}",
        )
    before = audit.snapshot(broadcast)
    broadcast.status = to
    for name, value in changes.items():
        setattr(broadcast, name, value)
    broadcast.save()
    audit.record(
        AuditEntry.Action.UPDATE, broadcast, actor, audit.diff(before, audit.snapshot(broadcast)),
        note,
    )  # fmt: skip
    return broadcast


def _locked(user: Any, broadcast: Broadcast) -> Broadcast:
    ensure_may(user, broadcast.area_path)
    return Broadcast.objects.select_for_update().get(pk=broadcast.pk)


def schedule(
    user: Any, broadcast: Broadcast, when: dt.datetime, now: dt.datetime | None = None
) -> Broadcast:
    """Schedule a draft to be sent at ``when``."""
    when_checked = _when(when, now or timezone.now())
    with transaction.atomic():
        locked = _locked(user, broadcast)
        return _move(locked, S.SCHEDULED, user, "安排发送", scheduled_at=when_checked)


def cancel(user: Any, broadcast: Broadcast) -> Broadcast:
    """Cancel a draft or a scheduled broadcast (409 once its sending has begun)."""
    with transaction.atomic():
        locked = _locked(user, broadcast)
        return _move(locked, S.CANCELLED, user, "取消宣讲")


# --- sending (the job) ------------------------------------------------------------------------
def robots_for(broadcast: Broadcast) -> QuerySet[Robot]:
    return Robot.objects.filter(enabled=True, area_path__startswith=broadcast.area_path)


def start_due(now: dt.datetime) -> int:
    """Start every scheduled broadcast whose time has come: its deliveries are written
    (one per enabled robot at or below its area) and it is sending. Returns how many
    started."""
    started = 0
    due = Broadcast.objects.filter(status=S.SCHEDULED, scheduled_at__lte=now)
    for pk in list(due.order_by("scheduled_at", "pk").values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            broadcast = Broadcast.objects.select_for_update().filter(pk=pk).first()
            if broadcast is None or broadcast.status != S.SCHEDULED:
                continue  # cancelled (or started) since it was listed
            robots = list(robots_for(broadcast).values_list("pk", flat=True))
            try:
                with transaction.atomic():
                    Delivery.objects.bulk_create(
                        Delivery(broadcast=broadcast, robot_id=r, next_at=now) for r in robots
                    )
            except IntegrityError:
                pass  # written by an earlier run that did not finish: keep those
            _move(broadcast, S.SENDING, None, f"开始发送（{len(robots)} 个群）")
            started += 1
    return started


def backoff(attempts: int) -> dt.timedelta:
    return dt.timedelta(seconds=BACKOFF_SECONDS * 2 ** max(attempts - 1, 0))


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    """Lease a due pending delivery to this run (another worker skips it meanwhile)."""
    return (
        Delivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_at__lte=now
        ).update(next_at=now + LEASE)
        == 1
    )


def send_pending(now: dt.datetime) -> dict[str, int]:
    """Try each due pending delivery once: sent, paced (tried again when the robot's
    bucket allows), or failed with a backoff, failed for good after MAX_ATTEMPTS."""
    counts = {"sent": 0, "paced": 0, "retry": 0, "failed": 0}
    due = (
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_at__lte=now, broadcast__status=S.SENDING
        )
        .select_related("broadcast", "robot")
        .order_by("next_at", "pk")[:BATCH]
    )
    for delivery in list(due):
        if not _claim(delivery.pk, now):
            continue
        robot = delivery.robot
        update: dict[str, Any]
        if not robot.enabled:
            update = {"status": DeliveryStatus.FAILED, "error": "群机器人已停用"}
            counts["failed"] += 1
        else:
            try:
                sender.try_send(robot, payload_of(delivery.broadcast), now)
            except sender.Paced as paced:
                update = {"next_at": now + dt.timedelta(seconds=paced.wait)}
                counts["paced"] += 1
            except sender.RobotError as exc:
                attempts = delivery.attempts + 1
                update = {"attempts": attempts, "error": str(exc)[:200]}
                if attempts >= MAX_ATTEMPTS or exc.final:
                    update["status"] = DeliveryStatus.FAILED
                    counts["failed"] += 1
                else:
                    update["next_at"] = now + backoff(attempts)
                    counts["retry"] += 1
            else:
                update = {
                    "status": DeliveryStatus.SENT, "sent_at": now, "error": "",
                    "attempts": delivery.attempts + 1,
                }  # fmt: skip
                counts["sent"] += 1
        Delivery.objects.filter(pk=delivery.pk).update(**update)
    return counts


def finish_done(now: dt.datetime) -> int:
    """Close each sending broadcast with no pending delivery left: sent when a group
    received it, failed when none did (no robot in its area, or every one refused)."""
    finished = 0
    sending = Broadcast.objects.filter(status=S.SENDING).exclude(
        deliveries__status=DeliveryStatus.PENDING
    )
    for pk in list(sending.values_list("pk", flat=True)[:BATCH]):
        with transaction.atomic():
            broadcast = Broadcast.objects.select_for_update().get(pk=pk)
            if (
                broadcast.status != S.SENDING
                or broadcast.deliveries.filter(status=DeliveryStatus.PENDING).exists()
            ):
                continue
            arrived = broadcast.deliveries.filter(status=DeliveryStatus.SENT).count()
            total = broadcast.deliveries.count()
            to = S.SENT if arrived else S.FAILED
            _move(broadcast, to, None, f"发送结束：{arrived}/{total} 个群已送达", sent_at=now)
            finished += 1
    return finished


def send_due(now: dt.datetime | None = None) -> dict[str, int]:
    """The minute's work: start due broadcasts, try their deliveries, close finished
    ones. Sends happen outside any transaction (no lock is held while WeCom answers)."""
    now = now or timezone.now()
    started = start_due(now)
    counts = send_pending(now)
    return {"started": started, **counts, "finished": finish_done(now)}
