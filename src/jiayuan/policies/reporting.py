"""The one table's datasets over policy delivery (政策找人): matches by policy, status
and kind, and the benefits received. Registered on import from
:class:`~jiayuan.policies.apps.PoliciesConfig` (see ``core.reporting``)."""

from __future__ import annotations

from django.db.models import F, Q

from jiayuan.core import reporting
from jiayuan.core.reporting import Dimension, Measure, choices_dimension
from jiayuan.core.validity import valid_on
from jiayuan.people.reporting import area_dimensions

from .choices import BenefitSource, IssuingLevel, MatchKind, MatchStatus
from .models import Match, Policy, ReceivedBenefit


def policy_names(codes: list[str]) -> dict[str, str]:
    return dict(Policy.objects.filter(code__in=codes).values_list("code", "name"))


def policy_dimensions(prefix: str = "policy__") -> list[Dimension]:
    return [
        Dimension("policy", "政策", lambda ctx: F(f"{prefix}code"), labels=policy_names),
        choices_dimension("policy_level", "发布层级", f"{prefix}level", IssuingLevel),
    ]


def match_dataset() -> reporting.Dataset:
    return reporting.Dataset(
        code="matches",
        label="政策匹配",
        queryset=lambda ctx: Match.objects.all(),
        dimensions=[
            *area_dimensions(),
            *policy_dimensions(),
            choices_dimension("status", "落实状态", "status", MatchStatus),
            choices_dimension("kind", "匹配类型", "kind", MatchKind),
        ],
        measures=[
            Measure("matches", "匹配人次"),
            Measure("persons", "涉及人数", "distinct", expression=lambda ctx: F("person_id")),
            Measure("granted", "已办结", "count_if",
                    condition=lambda ctx: Q(status=MatchStatus.GRANTED)),
            Measure("visited", "已上门", "count_if",
                    condition=lambda ctx: Q(visited_at__isnull=False)),
        ],
        registry=lambda: reporting.simple_registry("政策匹配", [
            ("status", "落实状态", "status", MatchStatus),
            ("kind", "匹配类型", "kind", MatchKind),
            ("policy", "政策代码", "policy__code", None),
            ("area", "所在区域", "area_path", None),
        ]),
    )  # fmt: skip


def benefit_dataset() -> reporting.Dataset:
    return reporting.Dataset(
        code="benefits",
        label="享受待遇",
        queryset=lambda ctx: ReceivedBenefit.objects.filter(
            valid_on(ctx.today, start="since", end="until")
        ),
        dimensions=[
            *area_dimensions(),
            *policy_dimensions(),
            choices_dimension("source", "登记来源", "source", BenefitSource),
        ],
        measures=[
            Measure("benefits", "享受待遇人次"),
            Measure("persons", "享受人数", "distinct", expression=lambda ctx: F("person_id")),
        ],
        registry=lambda: reporting.simple_registry("享受待遇", [
            ("source", "登记来源", "source", BenefitSource),
            ("policy", "政策代码", "policy__code", None),
            ("area", "所在区域", "area_path", None),
        ]),
    )  # fmt: skip


reporting.register(match_dataset(), benefit_dataset())
