"""The census (表决名册) of a topic: who may vote, taken once when voting opens.

A household matter's census is the compound's households (one vote each, cast by the
head of the household). An owners' matter's census is the compound's dwellings — the
owners' exclusive parts (专有部分) — each weighing its floor area
(:attr:`jiayuan.org.models.Dwelling.floor_area`); its voter is the head of the household
living there. A dwelling nobody lives in stays in the census (its area and its owner
count in the denominators of art. 278) and can only be voted for on paper by staff.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from jiayuan.org.models import Dwelling
from jiayuan.people.models import Household

from ..choices import CensusBasis
from ..models import CensusEntry, Topic

LABEL_MAX = 60


def dwelling_label(dwelling: Dwelling | None) -> str:
    """``1号楼 1单元 101室`` (building, unit, number)."""
    if dwelling is None:
        return ""
    unit = dwelling.unit
    building = unit.parent
    parts = [building.name if building else "", unit.name, str(dwelling)]
    return " ".join(p for p in parts if p)


def build(topic: Topic) -> list[CensusEntry]:
    """The census entries of ``topic`` (unsaved), by its matter type's census basis."""
    zone_path = topic.area_path
    if topic.matter_type.census_basis == CensusBasis.HOUSEHOLDS:
        households = (
            Household.objects.filter(area_path__startswith=zone_path)
            .select_related("dwelling__unit__parent", "head")
            .order_by("area_path", "number", "pk")
        )
        return [
            CensusEntry(
                topic=topic,
                household=h,
                voter=h.head if h.head is not None and h.head.death_date is None else None,
                label=(f"{dwelling_label(h.dwelling)}（{h.number}）")[:LABEL_MAX],
                floor_area=(h.dwelling.floor_area if h.dwelling is not None else None)
                or Decimal(0),
            )
            for h in households
        ]
    dwellings = (
        Dwelling.objects.filter(area_path__startswith=zone_path)
        .select_related("unit__parent")
        .order_by("area_path", "number", "pk")
    )
    # the head of the (first) household living in each dwelling votes for it
    heads: dict[Any, Any] = dict(
        Household.objects.filter(
            area_path__startswith=zone_path,
            dwelling__isnull=False,
            head__isnull=False,
            head__death_date__isnull=True,
        )
        .order_by("-pk")
        .values_list("dwelling_id", "head_id")
    )
    return [
        CensusEntry(
            topic=topic,
            dwelling=d,
            voter_id=heads.get(d.pk),
            label=dwelling_label(d)[:LABEL_MAX],
            floor_area=d.floor_area or Decimal(0),
        )
        for d in dwellings
    ]


def take(topic: Topic) -> int:
    """Write the census of ``topic`` (once: a census already taken is kept)."""
    if CensusEntry.objects.filter(topic=topic).exists():
        return 0
    entries = build(topic)
    CensusEntry.objects.bulk_create(entries, batch_size=500)
    return len(entries)
