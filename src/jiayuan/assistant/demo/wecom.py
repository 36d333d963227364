"""The demo county's WeCom groups (stage 数字助理): one group robot in each community's
resident group chat, a few policy broadcasts already sent (with every group's delivery,
one or two of them refused) and a few scheduled for the coming days, each composed from
a catalogue policy (高龄津贴, 城乡居民医保参保资助 …) by the broadcasts' own
:func:`~jiayuan.assistant.wecom.broadcasts.from_policy`.

The robots' keys are made up and start with ``demo-``: the sender never sends them to
WeCom (:data:`jiayuan.assistant.wecom.robot.DEMO_PREFIX`). Rows go through the shared
bulk path with one audit entry summarising the stage."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiayuan.core import audit, bulk
from jiayuan.core.models import AuditEntry
from jiayuan.core.sampling import rng_for
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.policies.models import Policy

from ..choices import BroadcastKind, BroadcastStatus, DeliveryStatus
from ..models import Broadcast, Delivery, Robot
from ..wecom.broadcasts import from_policy
from ..wecom.robot import DEMO_PREFIX

NOTE = "seed-demo"
# The policies broadcast, in order: sent ones first (oldest first), then scheduled ones.
POLICIES = (
    "yibao-zizhu", "gaoling-jintie", "dibao", "laonian-youdai", "canji-shenghuo-butie",
    "jumin-yanglao", "laonian-tijian", "zhongdu-canji-huli",
)  # fmt: skip
SIZES = {"tiny": (3, 2), "county": (6, 3), "bench": (6, 3)}  # (sent, scheduled)
KINDS = (BroadcastKind.TEXT, BroadcastKind.MARKDOWN, BroadcastKind.TEMPLATE_CARD)
REFUSED = "errcode 93000: invalid webhook url"
CARD_URL = "https://www.gov.cn/zhengce/"


def _key(rng: Any) -> str:
    hexes = f"{rng.getrandbits(128):032x}"
    return f"{DEMO_PREFIX}{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:28]}"


def seed_wecom(seed: int, scale: str, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Add the robots and broadcasts to the seeded county; returns the counts written."""
    rng = rng_for(seed, "assistant-wecom")
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    sent_n, scheduled_n = SIZES.get(scale, SIZES["county"])
    county = Area.objects.filter(kind=AreaKind.COUNTY).order_by("path").first()
    if county is None:
        return {"robots": 0, "broadcasts": 0, "deliveries": 0}
    communities = list(Area.objects.filter(kind=AreaKind.COMMUNITY).order_by("path"))
    streets = list(Area.objects.filter(kind=AreaKind.STREET).order_by("path"))
    by_code = Policy.objects.in_bulk([c for c in POLICIES], field_name="code")
    policies = [by_code[c] for c in POLICIES if c in by_code]
    with transaction.atomic():
        robots = bulk.insert(Robot, [
            bulk.build(Robot, area=c, area_path=c.path, name=f"{c.name}居民群机器人",
                       chat_name=f"{c.name}居民群", webhook_key=_key(rng), tokens=20.0,
                       created_at=now - dt.timedelta(days=120), updated_at=now)
            for c in communities
        ])  # fmt: skip
        # the broadcasts' areas: the county, then its streets and communities in turn
        areas = [county, *streets[:2], *rng.sample(communities, min(3, len(communities)))]
        planned = []
        for i, policy in enumerate(policies[: sent_n + scheduled_n]):
            sent = i < sent_n
            kind = KINDS[i % len(KINDS)]
            made = from_policy(policy, kind, CARD_URL)
            area = areas[i % len(areas)]
            days = (sent_n - i) * 9 if sent else (i - sent_n + 1) * 3
            when = (now - dt.timedelta(days=days)) if sent else (now + dt.timedelta(days=days))
            when = when.replace(hour=1, minute=30)  # 09:30 in Beijing
            planned.append(bulk.build(
                Broadcast, area=area, area_path=area.path, policy=policy, title=made["title"],
                kind=kind, content="" if kind == BroadcastKind.TEMPLATE_CARD else made["content"],
                card=made["card"] if kind == BroadcastKind.TEMPLATE_CARD else {},
                scheduled_at=when, status=BroadcastStatus.SENT if sent
                else BroadcastStatus.SCHEDULED, sent_at=when + dt.timedelta(minutes=2)
                if sent else None, created_at=when - dt.timedelta(days=2), updated_at=now,
            ))  # fmt: skip
        broadcasts = bulk.insert(Broadcast, planned)
        deliveries = []
        for b in broadcasts:
            if b.status != BroadcastStatus.SENT:
                continue
            targets = [r for r in robots if r.area_path.startswith(b.area_path)]
            refused = rng.randrange(len(targets)) if len(targets) > 2 else -1
            for j, r in enumerate(targets):
                failed = j == refused
                deliveries.append((
                    b.pk, r.pk, DeliveryStatus.FAILED if failed else DeliveryStatus.SENT,
                    5 if failed else 1, None if failed else b.sent_at,
                    REFUSED if failed else "", None,
                ))  # fmt: skip
        written = bulk.insert_tuples(
            Delivery,
            ("broadcast_id", "robot_id", "status", "attempts", "sent_at", "error", "next_at"),
            deliveries,
        )
        counts = {"robots": len(robots), "broadcasts": len(broadcasts), "deliveries": written}
        audit.record(
            AuditEntry.Action.CREATE, county, None, counts,
            f"{NOTE}: 群机器人与政策宣讲演示数据，批量写入，逐行审计已省略",
        )  # fmt: skip
    return counts
