"""API schemas of policies finding people (政策找人): policies with their dated parameters
and rule versions, the rule check an editor calls as the user types, matches (the
door-to-door tasks) with their recorded explanation, benefits received and matching runs.

Persons leave the server with their masked ID number only, as everywhere else.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.utils import timezone
from ninja import Field, Schema

from .choices import BenefitSource, CloseReason, IssuingLevel, MatchKind, MatchStatus, RunStatus
from .models import Match, MatchEvent, MatchRun, Policy, ReceivedBenefit, RuleVersion

CODE_PATTERN = r"^[-a-z0-9]{1,40}$"
RULE_MAX = 4000


def user_name(user: Any) -> str | None:
    if user is None:
        return None
    return str(user.get_full_name() or user.get_username())


# --- policies --------------------------------------------------------------------------
class PolicyOut(Schema):
    """A policy in the catalogue list, with its open matches in the user's scope."""

    code: str
    name: str
    summary: str
    level: IssuingLevel
    level_label: str
    office: str
    enabled: bool
    active: bool = Field(description="今天是否在执行 / in force today")
    active_from: dt.date | None
    active_until: dt.date | None
    version: int = Field(description="当前规则版本 / current rule version")
    open_matches: int = Field(description="本人辖区内未结束的匹配 / open matches in scope")

    @staticmethod
    def resolve_level_label(obj: Policy) -> str:
        return str(obj.get_level_display())

    @staticmethod
    def resolve_active(obj: Policy) -> bool:
        return obj.active_on(timezone.localdate())

    @staticmethod
    def resolve_open_matches(obj: Policy) -> int:
        return int(getattr(obj, "open_count", 0) or 0)


class PeriodOut(Schema):
    """One period of a dated parameter: its value from ``start`` until ``until``."""

    start: dt.date
    until: dt.date | None = Field(description="下一期开始日期；当前期为空 / next period's start")
    value: Decimal | None = Field(description="取值；未知为空 / null when unknown")
    note: str


class ParameterOut(Schema):
    """A dated parameter (参数) with every period and the value in force today."""

    name: str
    label: str
    unit: str
    current: Decimal | None = Field(description="今天的取值；未知为空 / today's value or null")
    known: bool = Field(description="今天的取值是否已知 / whether today's value is known")
    periods: list[PeriodOut]


class RuleVersionOut(Schema):
    version: int
    rule: str
    created_at: dt.datetime
    created_by: str | None

    @staticmethod
    def resolve_created_by(obj: RuleVersion) -> str | None:
        return user_name(obj.created_by)


class PolicyDetail(PolicyOut):
    """A policy with all it says: legal basis, benefit, materials, parameters by period,
    the rule and its versions, the check items and the matches by status in scope.

    The parts that are not columns are worked out by the API and attached to the row as
    ``_detail`` (see ``policies.api.policy_detail``)."""

    legal_basis: str
    article: str
    benefit: str
    materials: list[str]
    rule: str
    check_items: list[str] = Field(description="规则中需上门核实的事项 / verify(...) items")
    lookahead_days: int
    visit_days: int
    recheck_days: int
    parameters: list[ParameterOut]
    rule_versions: list[RuleVersionOut]
    match_counts: dict[str, int] = Field(
        description="本人辖区内按状态统计的匹配数 / matches in scope by status"
    )
    may_edit: bool = Field(description="当前用户能否修改 / whether the user may edit")

    @staticmethod
    def resolve_check_items(obj: Policy) -> list[str]:
        return list(obj._detail["check_items"])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_parameters(obj: Policy) -> list[dict[str, Any]]:
        return list(obj._detail["parameters"])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_rule_versions(obj: Policy) -> list[RuleVersion]:
        return list(obj._detail["rule_versions"])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_match_counts(obj: Policy) -> dict[str, int]:
        return dict(obj._detail["match_counts"])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_may_edit(obj: Policy) -> bool:
        return bool(obj._detail["may_edit"])  # type: ignore[attr-defined]


class PolicyPatch(Schema):
    """Fields of a policy an administrator may change; ``rule`` creates a new version."""

    name: str | None = Field(None, min_length=1, max_length=60)
    summary: str | None = Field(None, max_length=200)
    level: IssuingLevel | None = None
    legal_basis: str | None = Field(None, min_length=1, max_length=200)
    article: str | None = Field(None, max_length=60)
    benefit: str | None = Field(None, min_length=1, max_length=4000)
    materials: list[str] | None = Field(None, max_length=30)
    office: str | None = Field(None, max_length=100)
    active_from: dt.date | None = None
    active_until: dt.date | None = None
    lookahead_days: int | None = Field(None, ge=0, le=366)
    visit_days: int | None = Field(None, ge=1, le=366)
    recheck_days: int | None = Field(None, ge=0, le=3660)
    enabled: bool | None = None
    rule: str | None = Field(None, min_length=1, max_length=RULE_MAX)


class RuleCheckIn(Schema):
    rule: str = Field(..., max_length=RULE_MAX, description="资格规则 / the rule to check")


class RuleErrorOut(Schema):
    """Where a rule goes wrong, for an editor to underline."""

    code: str
    message: str = Field(description="中文 / English")
    message_zh: str
    message_en: str
    position: dict[str, int] | None = Field(
        description="{line, column, start, end}（字符位置） / character offsets, 1-based line"
    )
    expected: list[str] = Field(description="此处可以出现的记号 / tokens expected there")


class RuleCheckOut(Schema):
    """The answer to ``validate-rule``: either an error, or what the rule would do now."""

    valid: bool
    error: RuleErrorOut | None
    count: int | None = Field(description="本人辖区内现在符合的人数 / persons matching now, scoped")
    check_items: list[str]
    names: list[str] = Field(description="规则用到的字段和函数 / fields and functions used")
    ref_date: dt.date


# --- matches ---------------------------------------------------------------------------
class MatchFilters(Schema):
    policy: str | None = Field(None, pattern=CODE_PATTERN, description="政策代码 / policy code")
    status: list[MatchStatus] | None = Field(None, description="状态，可多选 / statuses")
    open: bool | None = Field(None, description="只看未结束 / open (true) or finished (false)")
    kind: MatchKind | None = None
    area: int | None = Field(None, description="所在区域(含下级) / person's area or below")
    person: int | None = Field(None, description="居民 / person id")
    due_before: dt.date | None = Field(None, description="应上门日期早于 / due before this day")


class MatchOut(Schema):
    """A match: the person a policy found and the door visit it asks for."""

    id: int
    policy: str
    policy_name: str
    person: int
    person_name: str
    person_id_number: str = Field(description="脱敏身份证号 / masked ID number")
    area: int
    area_name: str
    kind: MatchKind
    kind_label: str
    status: MatchStatus
    status_label: str
    is_open: bool
    overdue: bool = Field(description="超过应上门日期仍待上门 / still to visit after due date")
    ref_date: dt.date
    eligible_on: dt.date
    due_on: dt.date | None
    check_items: list[str]
    failed_item: str
    close_reason: CloseReason | Literal[""]
    close_reason_label: str
    rule_version: int
    created_at: dt.datetime
    visited_at: dt.datetime | None
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_policy(obj: Match) -> str:
        return obj.policy.code

    @staticmethod
    def resolve_policy_name(obj: Match) -> str:
        return obj.policy.name

    @staticmethod
    def resolve_person(obj: Match) -> int:
        return obj.person_id

    @staticmethod
    def resolve_person_name(obj: Match) -> str:
        return obj.person.name

    @staticmethod
    def resolve_person_id_number(obj: Match) -> str:
        return obj.person.id_number_masked

    @staticmethod
    def resolve_area(obj: Match) -> int:
        return obj.person.area_id

    @staticmethod
    def resolve_area_name(obj: Match) -> str:
        return obj.person.area.name

    @staticmethod
    def resolve_kind_label(obj: Match) -> str:
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_status_label(obj: Match) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_overdue(obj: Match) -> bool:
        return (
            obj.status == MatchStatus.PENDING
            and obj.due_on is not None
            and obj.due_on < timezone.localdate()
        )

    @staticmethod
    def resolve_close_reason_label(obj: Match) -> str:
        return str(obj.get_close_reason_display()) if obj.close_reason else ""

    @staticmethod
    def resolve_rule_version(obj: Match) -> int:
        return obj.rule_version.version


class EventOut(Schema):
    """One entry of a match's timeline."""

    at: dt.datetime
    actor: str | None
    status: MatchStatus
    status_label: str
    note: str
    data: dict[str, Any]

    @staticmethod
    def resolve_actor(obj: MatchEvent) -> str | None:
        return user_name(obj.actor)

    @staticmethod
    def resolve_status_label(obj: MatchEvent) -> str:
        return str(obj.get_status_display())


class ExplanationOut(Schema):
    """Why the person was matched, re-derived from what the match recorded (never from
    the person's record today): the rule version, the parameter values in force on the
    match's date, the inputs the matching query read, and the trace over them."""

    rule: str
    version: int
    ref_date: dt.date
    parameters: dict[str, Any]
    inputs: dict[str, Any]
    matched: bool
    check_items: list[str]
    trace: dict[str, Any]
    lines: list[str] = Field(description="每个条件一行 / one line per top-level condition")
    text: str = Field(description="一行中文说明 / the explanation in one line")


class MatchDetail(MatchOut):
    """A match with its explanation, timeline and the visit outcomes open to the user
    (worked out by the API and attached to the row as ``_detail``)."""

    remark: str = Field(description="走访备注 / the visit's note")
    visited_by: str | None
    explanation: ExplanationOut
    events: list[EventOut]
    outcomes: list[str] = Field(description="当前可登记的上门结果 / visit outcomes open now")
    may_visit: bool = Field(description="当前用户能否登记上门 / whether the user may record")

    @staticmethod
    def resolve_visited_by(obj: Match) -> str | None:
        return user_name(obj.visited_by)

    @staticmethod
    def resolve_explanation(obj: Match) -> dict[str, Any]:
        return dict(obj._detail["explanation"])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_events(obj: Match) -> list[MatchEvent]:
        return list(obj.events.all())

    @staticmethod
    def resolve_outcomes(obj: Match) -> list[str]:
        return list(obj._detail["outcomes"])  # type: ignore[attr-defined]

    @staticmethod
    def resolve_may_visit(obj: Match) -> bool:
        return bool(obj._detail["may_visit"])  # type: ignore[attr-defined]


VisitOutcome = Literal["visited", "accepted", "granted", "rejected", "declined"]


class VisitIn(Schema):
    """The result of a door visit: 已上门 / 已受理 / 已办结 / 不符合 / 本人放弃."""

    outcome: VisitOutcome
    note: str = Field("", max_length=1000)
    failed_item: str = Field(
        "", max_length=200, description="不符合时未通过的核实事项 / the check item that failed"
    )
    since: dt.date | None = Field(None, description="办结时待遇起始日期 / benefit start date")


# --- benefits --------------------------------------------------------------------------
class BenefitFilters(Schema):
    person: int | None = Field(None, description="居民 / person id")
    policy: str | None = Field(None, pattern=CODE_PATTERN, description="政策代码 / policy code")
    current: bool | None = Field(None, description="只看今天在享受 / in force today only")


class BenefitIn(Schema):
    """A benefit a person receives, entered by hand (手工登记)."""

    person: int
    policy: str = Field(..., pattern=CODE_PATTERN)
    since: dt.date
    until: dt.date | None = None


class BenefitOut(Schema):
    id: int
    person: int
    person_name: str
    policy: str
    policy_name: str
    since: dt.date | None
    until: dt.date | None
    persons: int | None
    monthly_amount: Decimal | None
    source: BenefitSource
    source_label: str
    match: int | None
    recorded_by: str | None
    recorded_at: dt.datetime

    @staticmethod
    def resolve_person(obj: ReceivedBenefit) -> int:
        return obj.person_id

    @staticmethod
    def resolve_person_name(obj: ReceivedBenefit) -> str:
        return obj.person.name

    @staticmethod
    def resolve_policy(obj: ReceivedBenefit) -> str:
        return obj.policy.code

    @staticmethod
    def resolve_policy_name(obj: ReceivedBenefit) -> str:
        return obj.policy.name

    @staticmethod
    def resolve_source_label(obj: ReceivedBenefit) -> str:
        return str(obj.get_source_display())

    @staticmethod
    def resolve_match(obj: ReceivedBenefit) -> int | None:
        return obj.match_id

    @staticmethod
    def resolve_recorded_by(obj: ReceivedBenefit) -> str | None:
        return user_name(obj.recorded_by)


# --- matching runs ---------------------------------------------------------------------
class MatchRunIn(Schema):
    ref_date: dt.date | None = Field(None, description="匹配日期，默认今天 / default today")
    codes: list[str] | None = Field(
        None, max_length=50, description="只匹配这些政策 / only these policies"
    )


class MatchRunOut(Schema):
    id: int
    ref_date: dt.date
    status: RunStatus
    status_label: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    triggered_by: str | None
    summary: dict[str, Any] = Field(
        description="按政策：新增、关闭、即将符合、未结束 / per policy: new, closed, upcoming, open"
    )
    error: str

    @staticmethod
    def resolve_status_label(obj: MatchRun) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_triggered_by(obj: MatchRun) -> str | None:
        return user_name(obj.triggered_by)


class MatchRunStarted(Schema):
    """A run on demand: done already (``run``) or queued for the worker (``queued``)."""

    queued: bool
    run: MatchRunOut | None
