"""Planning the partners demo: every row as a plain record, drawn from one random stream,
before anything is written (:func:`plan_partners`).

What the county gets (DESIGN.md, 红色合伙人): a recruitment call brought 300+ social
organisations, community talents, honest merchants and volunteer teams into 26
partner-run projects, one per community, in its party-mass service centre or one of the
centre's rooms. The projects stand at every stage; most have run for a year: each stage
approved in order with its documents, a published open call whose panel's weighted
ranking gives the selection, a signed agreement, monthly inspections with findings,
residents' feedback, four quarterly evaluations, and a credit ledger that replays — one
partner warned, one dismissed. The 永续社区长者食堂 with its 食堂监督团 is among them.

The numbers come from the rules' own functions, called, never copied:
:func:`jiayuan.partners.calls.weighted` (the ranking), :func:`jiayuan.partners.evaluation.
total_of` and ``grade_of`` (an evaluation), :func:`jiayuan.partners.credit.crossed_down`
and ``TRANSITIONS`` (a threshold crossing), ``replay_balances`` (the ledger).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.utils import timezone

from jiayuan.core.sampling import distribute, mobile_number
from jiayuan.partners import calls, credit, identity
from jiayuan.partners.choices import (
    AgreementStatus,
    CallStatus,
    CreditReason,
    Dimension,
    DocumentKind,
    FeedbackChannel,
    Grade,
    PartnerKind,
    PartnerStatus,
    PriceClass,
    ProjectStatus,
    Stage,
)
from jiayuan.partners.evaluation import (
    CENT,
    DEFAULT_WEIGHTS,
    ScoreIn,
    grade_of,
    quarter_of,
    quarter_span,
    total_of,
)
from jiayuan.partners.stages import REQUIRED_DOCUMENTS

from . import texts
from .frame import Community, Frame

# The roles a project plays in the story (besides its stage).
CANTEEN, WARNED, DISMISSED, NORMAL = "canteen", "warned", "dismissed", "normal"


@dataclass(frozen=True)
class Sizes:
    partners: int
    projects_per_community: int
    #: the stages of the projects, in the order they are handed out (after the canteen,
    #: the warned and the dismissed project, which run)
    stages: tuple[str, ...]
    feedback_per_month: tuple[int, int]


SIZES: dict[str, Sizes] = {
    "tiny": Sizes(partners=18, projects_per_community=3,
                  stages=(Stage.SUPERVISION, Stage.CALL, Stage.PROPOSAL),
                  feedback_per_month=(1, 2)),
    "county": Sizes(partners=312, projects_per_community=1,
                    stages=(Stage.SUPERVISION, Stage.AGREEMENT, Stage.CALL, Stage.CALL,
                            Stage.PROPOSAL, Stage.PROPOSAL),
                    feedback_per_month=(3, 5)),
}  # fmt: skip
SIZES["bench"] = SIZES["county"]

KIND_SHARE = (
    (PartnerKind.SOCIAL_ORG, 30), (PartnerKind.TALENT, 25), (PartnerKind.MERCHANT, 25),
    (PartnerKind.VOLUNTEER_TEAM, 20),
)  # fmt: skip
#: The (registration authority, category) a partner of a kind is registered under.
USCC_AUTHORITY: dict[str, tuple[tuple[str, str], ...]] = {
    PartnerKind.SOCIAL_ORG: (("5", "2"), ("5", "1")),
    PartnerKind.MERCHANT: (("9", "2"), ("9", "1")),
}
RATINGS = ((5, 55), (4, 33), (3, 12))  # the ratings a resident gives, negatives aside
HOURS = {str(d): [["08:30", "11:30"], ["14:00", "17:30"]] for d in range(1, 6)}
CANTEEN_HOURS = {str(d): [["10:30", "13:00"], ["16:30", "18:30"]] for d in range(1, 8)}
PDF_TITLE: dict[str, str] = {
    DocumentKind.PROPOSAL: "项目申报书",
    DocumentKind.CALL: "公开招募公告",
    DocumentKind.RESULT: "遴选结果公示",
    DocumentKind.AGREEMENT: "合作协议（签字版）",
    DocumentKind.INSPECTION: "监管检查记录",
    DocumentKind.EVALUATION: "季度评估报告",
}


# --- records -------------------------------------------------------------------------------
@dataclass(slots=True)
class PartnerPlan:
    kind: str
    name: str
    community: int
    uscc: str
    person: int | None
    legal_representative: str
    address: str
    services: str
    joined_on: dt.date
    qualifications: list[tuple[str, str, str, dt.date, dt.date]] = field(default_factory=list)
    contacts: list[tuple[str, str, str, bool]] = field(default_factory=list)
    status: str = PartnerStatus.ACTIVE
    credit: int = 0
    left_on: dt.date | None = None


@dataclass(slots=True)
class ProjectPlan:
    community: int
    name: str
    content: str
    space: tuple[str, int, str]
    hours: dict[str, Any]
    price_class: str
    price_cap: Decimal | None
    target_groups: list[str]
    budget: Decimal
    stage: str
    role: str
    created_at: dt.datetime
    proposed_by: int | None
    status: str = ProjectStatus.OPEN
    partner: int | None = None


@dataclass(slots=True)
class CallPlan:
    project: int
    title: str
    text: str
    opens_at: dt.datetime
    closes_at: dt.datetime
    status: str
    panel: list[int]
    selected: int | None = None  # index into the plan's applications
    reasons: str = ""
    published_at: dt.datetime | None = None


@dataclass(slots=True)
class ApplicationPlan:
    call: int
    partner: int
    plan: str
    offered_price: Decimal | None
    submitted_at: dt.datetime
    scores: dict[int, dict[str, Decimal]] = field(default_factory=dict)  # reviewer → key → score
    scored_at: dt.datetime | None = None


@dataclass(slots=True)
class AgreementPlan:
    project: int
    partner: int
    starts_on: dt.date
    ends_on: dt.date
    price_cap: Decimal | None
    status: str
    signed_on: dt.date | None
    signed_by: int | None
    created_at: dt.datetime
    ended_on: dt.date | None = None
    dismissal: int | None = None  # the dismissal that ended it


@dataclass(slots=True)
class GroupPlan:
    community: int
    name: str
    members: list[int]
    projects: list[int]


@dataclass(slots=True)
class InspectionPlan:
    project: int
    group: int | None
    inspected_at: dt.datetime
    summary: str
    inspector: int | None


@dataclass(slots=True)
class FindingPlan:
    inspection: int
    project: int
    text: str
    severity: str
    rectify_by: dt.date
    rectified_at: dt.datetime | None
    rectification: str
    penalised: bool


@dataclass(slots=True)
class FeedbackPlan:
    project: int
    person: int
    channel: str
    rating: int
    text: str
    submitted_at: dt.datetime
    visited_by: int | None
    verified_group: int | None = None
    verified_at: dt.datetime | None = None
    upheld: bool | None = None


@dataclass(slots=True)
class EvaluationPlan:
    project: int
    quarter: str
    scores: dict[str, ScoreIn]
    total: Decimal
    grade: str
    feedback_count: int
    feedback_average: Decimal | None
    summary: str
    evaluated_by: int | None
    evaluated_at: dt.datetime


@dataclass(slots=True)
class DecisionPlan:
    project: int
    stage: str
    decided_at: dt.datetime
    decided_by: int | None
    reasons: str


@dataclass(slots=True)
class DocumentPlan:
    kind: str
    title: str
    at: dt.datetime
    uploaded_by: int | None
    project: int | None = None
    stage: str = ""
    partner: int | None = None


@dataclass(slots=True)
class CreditPlan:
    """One ledger entry; ``evidence`` is the record it rests on (``("finding", plan)``),
    written as ``finding:<id>``."""

    partner: int
    delta: int
    balance: int
    reason: str
    note: str
    evidence: tuple[str, Any]
    at: dt.datetime
    decided_by: int | None


@dataclass(slots=True)
class DismissalPlan:
    partner: int
    agreement: int
    balance: int
    proposed_at: dt.datetime
    decided_at: dt.datetime
    decided_by: int | None
    reasons: str


@dataclass
class PartnersPlan:
    fund_year: int
    fund_amount: Decimal
    partners: list[PartnerPlan] = field(default_factory=list)
    projects: list[ProjectPlan] = field(default_factory=list)
    calls: list[CallPlan] = field(default_factory=list)
    applications: list[ApplicationPlan] = field(default_factory=list)
    agreements: list[AgreementPlan] = field(default_factory=list)
    groups: list[GroupPlan] = field(default_factory=list)
    inspections: list[InspectionPlan] = field(default_factory=list)
    findings: list[FindingPlan] = field(default_factory=list)
    feedback: list[FeedbackPlan] = field(default_factory=list)
    evaluations: list[EvaluationPlan] = field(default_factory=list)
    decisions: list[DecisionPlan] = field(default_factory=list)
    documents: list[DocumentPlan] = field(default_factory=list)
    credit: list[CreditPlan] = field(default_factory=list)
    dismissals: list[DismissalPlan] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "partners": len(self.partners),
            "partner_projects": len(self.projects),
            "partner_calls": len(self.calls),
            "partner_applications": len(self.applications),
            "partner_agreements": len(self.agreements),
            "partner_inspections": len(self.inspections),
            "partner_findings": len(self.findings),
            "partner_feedback": len(self.feedback),
            "partner_evaluations": len(self.evaluations),
            "partner_documents": len(self.documents),
            "partner_credit_entries": len(self.credit),
        }


# --- planning ------------------------------------------------------------------------------
def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _short(community: Community) -> str:
    return community.name.removesuffix("社区")


def evaluated_quarters(today: dt.date, n: int = 4) -> list[str]:
    """The last ``n`` complete quarters evaluated 20 days after their end by ``today``."""
    quarter = quarter_of(today)
    out: list[str] = []
    while len(out) < n:
        start, _end = quarter_span(quarter)
        previous = quarter_of(timezone.localdate(start) - dt.timedelta(days=1))
        _pstart, pend = quarter_span(previous)
        if timezone.localdate(pend) + dt.timedelta(days=20) <= today:
            out.append(previous)
        quarter = previous
    return sorted(out)


class Planner:
    def __init__(self, frame: Frame, sizes: Sizes, rng: random.Random, now: dt.datetime):
        self.frame = frame
        self.sizes = sizes
        self.rng = rng
        self.now = now
        self.today = timezone.localdate(now)
        self.quarters = evaluated_quarters(self.today)
        first, _ = quarter_span(self.quarters[0])
        self.operation_start = timezone.localdate(first) - dt.timedelta(days=30)
        self.plan = PartnersPlan(self.today.year, Decimal(0))
        self.usccs: set[str] = set()
        self.by_community: dict[int, list[int]] = {}
        self.won: set[int] = set()
        self.group_of: dict[int, int] = {}  # project → supervision group

    # --- partners --------------------------------------------------------------------------
    def partners(self) -> None:
        rng = self.rng
        communities = self.frame.communities
        per = distribute(rng, self.sizes.partners, len(communities),
                         self.sizes.partners // len(communities) - 2,
                         self.sizes.partners // len(communities) + 3)  # fmt: skip
        kinds = [k for k, _ in KIND_SHARE]
        weights = [w for _, w in KIND_SHARE]
        for ci, (community, n) in enumerate(zip(communities, per, strict=True)):
            talents = rng.sample(community.residents, min(len(community.residents), n))
            for j in range(n):
                # every community has at least one partner of each kind
                kind = kinds[j] if j < len(kinds) else rng.choices(kinds, weights)[0]
                self._partner(ci, community, kind, talents[j] if j < len(talents) else None)

    @staticmethod
    def _org_name(kind: str, short: str, stem: str) -> str:
        return f"汶上县{short}{stem}" if kind == PartnerKind.SOCIAL_ORG else f"{short}{stem}"

    def _fit(self, idx: int, project: ProjectPlan, stem: str) -> None:
        """Name the partner a project is meant for after what it does (unless another
        partner has that name)."""
        partner = self.plan.partners[idx]
        fit, services = texts.FIT.get(stem, ("", ""))
        if not fit:
            return
        short = _short(self.frame.communities[project.community])
        if partner.kind == PartnerKind.TALENT:
            name = f"{partner.legal_representative}（{fit}）"
        else:
            name = self._org_name(partner.kind, short, fit)
        if all(p.name != name for p in self.plan.partners):
            partner.name, partner.services = name, services

    def _partner(self, ci: int, community: Community, kind: str, resident: Any) -> None:
        rng = self.rng
        short = _short(community)
        person = None
        if kind == PartnerKind.TALENT and resident is not None:
            skill = rng.choice(texts.TALENT_SKILLS)
            name = f"{resident.name}（{skill}）"
            person, lead = resident.key, resident.name
        else:
            if kind == PartnerKind.TALENT:
                kind = PartnerKind.VOLUNTEER_TEAM
            taken = {p.name for p in self.plan.partners}
            stems = list(texts.PARTNER_NAMES[kind])
            rng.shuffle(stems)
            names = [self._org_name(kind, short, stem) for stem in stems]
            name = next((n for n in names if n not in taken), f"{names[0]}（二部）")
            lead = rng.choice(community.residents).name if community.residents else "王建国"
        uscc = ""
        if kind in USCC_AUTHORITY:
            authority, category = rng.choice(USCC_AUTHORITY[kind])
            while not uscc or uscc in self.usccs:
                uscc = identity.generate(
                    self.frame.division, rng, authority=authority, category=category
                )
            self.usccs.add(uscc)
        joined = self.operation_start - dt.timedelta(days=rng.randint(90, 700))
        p = PartnerPlan(
            kind=kind, name=name, community=ci, uscc=uscc, person=person,
            legal_representative=lead, address=f"{community.name}{rng.randint(1, 60)}号",
            services=rng.choice(texts.SERVICES[kind]), joined_on=joined,
        )  # fmt: skip
        for title, issuer in rng.sample(
            texts.QUALIFICATIONS[kind], rng.randint(1, len(texts.QUALIFICATIONS[kind]))
        ):
            issued = joined - dt.timedelta(days=rng.randint(30, 900))
            soon = rng.random() < 0.1 or len(self.plan.partners) % 9 == 4
            if soon and not p.qualifications:  # expiring within the reminder window
                expires = self.today + dt.timedelta(days=rng.randint(3, 28))
            else:
                expires = self.today + dt.timedelta(days=rng.randint(120, 1100))
            number = f"{rng.randrange(10**11):011d}"
            p.qualifications.append((title, number, issuer, issued, expires))
        for c in range(rng.randint(1, 2)):
            contact = lead if c == 0 else rng.choice(community.residents).name
            role = texts.CONTACT_ROLES[c if kind != PartnerKind.VOLUNTEER_TEAM else 3]
            p.contacts.append((contact, role, mobile_number(rng), c == 0))
        self.by_community.setdefault(ci, []).append(len(self.plan.partners))
        self.plan.partners.append(p)

    # --- projects --------------------------------------------------------------------------
    def projects(self) -> None:
        rng = self.rng
        communities = self.frame.communities
        canteen_at = next(
            (i for i, c in enumerate(communities) if c.name == "永续社区"), len(communities) - 1
        )
        slots: list[tuple[int, int]] = []  # (community, space index)
        for ci, community in enumerate(communities):
            free = max(0, len(community.spaces) - 1)  # the last room stays free
            k = min(self.sizes.projects_per_community, free)
            for space in sorted(rng.sample(range(free), k)):
                slots.append((ci, space))
        canteen_slot = next(s for s in slots if s[0] == canteen_at)
        others = [s for s in slots if s != canteen_slot]
        rng.shuffle(others)
        story: list[tuple[tuple[int, int], str, str]] = [(canteen_slot, CANTEEN, Stage.EVALUATION)]
        story += [(others[0], DISMISSED, Stage.EVALUATION), (others[1], WARNED, Stage.EVALUATION)]
        rest = others[2:]
        ahead = list(self.sizes.stages)[: len(rest)]
        story += [(s, NORMAL, stage) for s, stage in zip(rest, ahead, strict=False)]
        story += [(s, NORMAL, Stage.EVALUATION) for s in rest[len(ahead) :]]
        story.sort(key=lambda item: item[0])
        topics = list(texts.PROJECTS)
        rng.shuffle(topics)
        for n, ((ci, space), role, stage) in enumerate(story):
            self._project(ci, space, role, stage, texts.CANTEEN if role == CANTEEN else
                          topics[n % len(topics)])  # fmt: skip
        self.plan.fund_amount = sum((p.budget for p in self.plan.projects), Decimal(0)) + Decimal(
            100_000
        )

    def _project(self, ci: int, space: int, role: str, stage: str, topic: tuple) -> None:
        rng = self.rng
        community = self.frame.communities[ci]
        stem, content, price_class, groups, preferred = topic
        cap = None
        if price_class == PriceClass.LOW_COST:
            cap = Decimal(rng.choice((10, 12, 15, 20, 30)))
        elif price_class == PriceClass.SMALL_PROFIT:
            cap = Decimal(rng.choice((40, 60, 80)))
        running = stage in (Stage.SUPERVISION, Stage.EVALUATION)
        if running:
            start = self.operation_start - dt.timedelta(days=rng.randint(0, 20))
            if stage == Stage.SUPERVISION:
                start = self.today - dt.timedelta(days=rng.randint(50, 70))
        else:
            start = self.today + dt.timedelta(days=rng.randint(10, 40))
        created = _at(start - dt.timedelta(days=rng.randint(85, 100)), 9, 30)
        if stage == Stage.PROPOSAL:
            created = _at(self.today - dt.timedelta(days=rng.randint(3, 12)), 10)
        elif stage == Stage.CALL:
            created = _at(self.today - dt.timedelta(days=rng.randint(50, 60)), 10)
        elif stage == Stage.AGREEMENT:
            created = _at(self.today - dt.timedelta(days=rng.randint(80, 90)), 10)
        project = ProjectPlan(
            community=ci, name=f"{community.name}{stem}", content=content,
            space=community.spaces[space], hours=CANTEEN_HOURS if role == CANTEEN else HOURS,
            price_class=price_class, price_cap=cap, target_groups=list(groups),
            budget=Decimal(rng.randrange(20_000, 60_001, 1000)), stage=stage, role=role,
            created_at=created, proposed_by=community.staff,
        )  # fmt: skip
        pi = len(self.plan.projects)
        self.plan.projects.append(project)
        self._document(pi, Stage.PROPOSAL, DocumentKind.PROPOSAL, created)
        if stage == Stage.PROPOSAL:
            return
        approved = created + dt.timedelta(days=rng.randint(5, 10), hours=5)
        self._decide(pi, Stage.PROPOSAL, approved, "符合社区需求，场地可用，同意立项。")
        self._call(pi, project, preferred, stage, approved, stem)
        if stage == Stage.CALL:
            return
        agreement = self._agreement(pi, project, start, signed=stage != Stage.AGREEMENT)
        if stage == Stage.AGREEMENT:
            return
        self._operate(pi, project, agreement)

    def _document(self, pi: int, stage: str, kind: str, at: dt.datetime) -> None:
        project = self.plan.projects[pi]
        staff = self.frame.communities[project.community].staff
        title = f"{project.name}{PDF_TITLE[kind]}"[:120]
        self.plan.documents.append(DocumentPlan(kind, title, at, staff, project=pi, stage=stage))

    def _decide(self, pi: int, stage: str, at: dt.datetime, reasons: str) -> None:
        """An approval of ``stage``, with the stage's required documents filed before it."""
        project = self.plan.projects[pi]
        held = {(d.stage, d.kind) for d in self.plan.documents if d.project == pi}
        for kind in REQUIRED_DOCUMENTS[stage]:
            if (stage, kind) not in held:
                self._document(pi, stage, kind, at - dt.timedelta(hours=2))
        staff = self.frame.communities[project.community].staff
        self.plan.decisions.append(DecisionPlan(pi, stage, at, staff, reasons))

    # --- 发包 ------------------------------------------------------------------------------
    def _call(
        self, pi: int, project: ProjectPlan, preferred: str, stage: str, approved: dt.datetime,
        stem: str,
    ) -> None:  # fmt: skip
        rng = self.rng
        community = self.frame.communities[project.community]
        opens = approved + dt.timedelta(days=2)
        closes = opens + dt.timedelta(days=20)
        status = CallStatus.PUBLISHED
        if stage == Stage.CALL:
            # the county's two calls: one still taking applications, one being scored
            still_open = (
                any(c.status == CallStatus.OPEN for c in self.plan.calls) is False
                and self.sizes.projects_per_community == 1
            )
            opens = self.now - dt.timedelta(days=rng.randint(25, 30))
            closes = (
                self.now + dt.timedelta(days=6) if still_open else self.now - dt.timedelta(days=3)
            )
            status = CallStatus.OPEN if still_open else CallStatus.CLOSED
        panel = [u for u in (community.staff, community.street_leader, self.frame.admin) if u]
        panel = list(dict.fromkeys(panel))
        ci = len(self.plan.calls)
        call = CallPlan(
            project=pi, title=f"{project.name}合伙人公开招募公告",
            text=f"面向社会组织、社区能人、诚信商户和志愿团队公开招募{project.name}的运营方。"
                 f"{project.content}",
            opens_at=opens, closes_at=closes, status=status, panel=panel,
        )  # fmt: skip
        self.plan.calls.append(call)
        self._document(pi, Stage.CALL, DocumentKind.CALL, opens)
        pool = [i for i in self.by_community[project.community] if i not in self.won]
        favoured = [i for i in pool if self.plan.partners[i].kind == preferred]
        n = min(len(pool), rng.randint(3, 6))
        chosen = rng.sample(favoured, min(len(favoured), 1)) if favoured else []
        chosen += rng.sample([i for i in pool if i not in chosen], n - len(chosen))
        meant = chosen[0] if favoured else None  # the partner the project was made for
        if meant is not None:
            self._fit(meant, project, stem)
        first_app = len(self.plan.applications)
        for partner in chosen:
            price = None
            if project.price_cap is not None:
                price = (project.price_cap * Decimal(rng.randint(70, 100)) / 100).quantize(CENT)
            submitted = opens + (closes - opens) * rng.uniform(0.05, 0.9)
            if submitted >= self.now:
                submitted = opens + (self.now - opens) * rng.uniform(0.1, 0.9)
            plan = rng.choice(texts.PLANS).format(n=rng.randint(2, 8), d=rng.randint(3, 7))
            self.plan.applications.append(
                ApplicationPlan(ci, partner, plan, price, submitted.replace(microsecond=0))
            )
        if status == CallStatus.OPEN:
            return
        apps = self.plan.applications[first_app:]
        scored = closes + dt.timedelta(days=1, hours=3)
        for a in apps:
            bonus = 10 if a.partner == meant else 0
            for reviewer in panel:
                a.scores[reviewer] = {
                    str(c["key"]): Decimal(min(100, rng.randint(62, 90) + bonus))
                    for c in texts.CRITERIA
                }
            a.scored_at = scored
        # the ranking as the rules compute it: the exact weighted total, then the earlier
        # submission (calls.ranking's order)
        totals = [calls.weighted(texts.CRITERIA, a.scores)[1] for a in apps]
        order = sorted(
            range(len(apps)), key=lambda k: (-totals[k], apps[k].submitted_at, first_app + k)
        )
        if stage == Stage.CALL:
            return
        best = first_app + order[0]
        call.selected = best
        call.reasons = f"按加权得分排名第一（{calls.shown(Fraction(totals[order[0]]))} 分）。"
        call.published_at = scored + dt.timedelta(days=2)
        call.status = CallStatus.PUBLISHED
        self._document(pi, Stage.CALL, DocumentKind.RESULT, call.published_at)
        winner = self.plan.applications[best].partner
        self.won.add(winner)
        project.partner = winner
        self._decide(
            pi, Stage.CALL, call.published_at + dt.timedelta(days=5, hours=2),
            "公示期满无异议，同意遴选结果。",
        )  # fmt: skip

    # --- 协议 ------------------------------------------------------------------------------
    def _agreement(self, pi: int, project: ProjectPlan, start: dt.date, signed: bool) -> int:
        staff = self.frame.communities[project.community].staff
        assert project.partner is not None  # noqa: S101 - set by the published call
        published = max(c.published_at for c in self.plan.calls if c.project == pi and
                        c.published_at is not None)  # fmt: skip
        drafted = published + dt.timedelta(days=8)
        signed_on = timezone.localdate(drafted) + dt.timedelta(days=3)
        if signed:
            start = max(start, signed_on + dt.timedelta(days=1))
        agreement = AgreementPlan(
            project=pi, partner=project.partner, starts_on=start,
            ends_on=start + dt.timedelta(days=730), price_cap=project.price_cap,
            status=AgreementStatus.ACTIVE if signed else AgreementStatus.DRAFT,
            signed_on=signed_on if signed else None, signed_by=staff if signed else None,
            created_at=drafted,
        )  # fmt: skip
        self.plan.agreements.append(agreement)
        if signed:
            self._document(pi, Stage.AGREEMENT, DocumentKind.AGREEMENT, _at(signed_on, 15))
            self._decide(pi, Stage.AGREEMENT, _at(signed_on, 17), "协议条款完备，同意签订。")
        return len(self.plan.agreements) - 1

    # --- 监管 and 评估: a project in operation ---------------------------------------------
    def _operate(self, pi: int, project: ProjectPlan, ai: int) -> None:
        rng = self.rng
        agreement = self.plan.agreements[ai]
        community = self.frame.communities[project.community]
        gi = self._group(pi, project)
        canteen = project.role == CANTEEN
        missed_wanted = {CANTEEN: 0, NORMAL: int(rng.random() < 0.3), WARNED: 2, DISMISSED: 4}
        missed_left = missed_wanted[project.role]
        day = agreement.starts_on + dt.timedelta(days=rng.randint(18, 24))
        k = 0
        while day < self.today - dt.timedelta(days=1):
            at = _at(day, rng.randint(9, 15), rng.choice((0, 15, 30, 45)))
            ii = len(self.plan.inspections)
            summaries = texts.CANTEEN_INSPECTIONS if canteen else texts.INSPECTIONS
            self.plan.inspections.append(
                InspectionPlan(pi, gi, at, rng.choice(summaries), community.staff)
            )
            if k == 0 and project.stage == Stage.EVALUATION:
                self._document(pi, Stage.SUPERVISION, DocumentKind.INSPECTION, at)
                self._decide(pi, Stage.SUPERVISION, at + dt.timedelta(days=10),
                             "监管检查正常开展，同意转入运营评估。")  # fmt: skip
            deadline = day + dt.timedelta(days=rng.choice((7, 10, 14)))
            missed = missed_left > 0 and k >= 1 and deadline + dt.timedelta(days=9) < self.today
            if missed or rng.random() < 0.35:
                self._finding(pi, ii, at, deadline, missed, canteen)
                missed_left -= missed
            day += dt.timedelta(days=rng.randint(28, 33))
            k += 1
        self._feedback(pi, project, gi, agreement.starts_on)
        if project.stage == Stage.EVALUATION:
            self._evaluations(pi, project, agreement.starts_on)

    def _group(self, pi: int, project: ProjectPlan) -> int:
        rng = self.rng
        community = self.frame.communities[project.community]
        name = "食堂监督团" if project.role == CANTEEN else f"{_short(community)}合伙项目监督团"
        for gi, g in enumerate(self.plan.groups):
            if g.community == project.community and g.name == name:
                g.projects.append(pi)
                self.group_of[pi] = gi
                return gi
        members = [r.key for r in rng.sample(community.residents, min(7, len(community.residents)))]
        self.plan.groups.append(GroupPlan(project.community, name, members, [pi]))
        self.group_of[pi] = len(self.plan.groups) - 1
        return self.group_of[pi]

    def _finding(
        self, pi: int, ii: int, at: dt.datetime, deadline: dt.date, missed: bool, canteen: bool
    ) -> None:
        rng = self.rng
        text, severity = rng.choice(texts.CANTEEN_FINDINGS if canteen else texts.FINDINGS)
        rectified: dt.datetime | None
        if missed:
            rectified = _at(deadline + dt.timedelta(days=rng.randint(3, 8)), 16)
        elif deadline >= self.today:
            rectified = None  # still within its deadline
        else:
            done = timezone.localdate(at) + dt.timedelta(days=rng.randint(1, 6))
            rectified = _at(min(done, deadline), 16)
        self.plan.findings.append(
            FindingPlan(ii, pi, text, severity, deadline, rectified,
                        rng.choice(texts.RECTIFICATIONS) if rectified else "", missed)
        )  # fmt: skip

    def _feedback(self, pi: int, project: ProjectPlan, gi: int, start: dt.date) -> None:
        rng = self.rng
        community = self.frame.communities[project.community]
        if not community.residents:
            return
        days = (self.today - start).days
        lo, hi = self.sizes.feedback_per_month
        n = sum(rng.randint(lo, hi) for _ in range(max(1, days // 30)))
        negatives = {CANTEEN: 1, NORMAL: rng.randint(0, 2), WARNED: 2, DISMISSED: 1}[project.role]
        upheld_left = {CANTEEN: 0, NORMAL: int(rng.random() < 0.5), WARNED: 1, DISMISSED: 1}[
            project.role
        ]
        seen: set[tuple[int, dt.date]] = set()
        rows: list[FeedbackPlan] = []
        for j in range(n):
            person = rng.choice(community.residents)
            offset = rng.randint(10, max(11, days - 1))
            if project.role == DISMISSED and j < negatives:
                offset = rng.randint(60, 110)  # the complaints came early
            day = start + dt.timedelta(days=offset)
            if day >= self.today or (person.key, day) in seen:
                continue
            seen.add((person.key, day))
            at = _at(day, rng.randint(8, 20), rng.randint(0, 59))
            visit = rng.random() < 0.3
            rating = rng.choices([r for r, _ in RATINGS], [w for _, w in RATINGS])[0]
            text = rng.choice(texts.PRAISE if rating >= 4 else texts.NEUTRAL)
            row = FeedbackPlan(
                pi, person.key, FeedbackChannel.RETURN_VISIT if visit else FeedbackChannel.MAILBOX,
                rating, text, at, self.frame.grid_worker_of(person.path) if visit else None,
            )  # fmt: skip
            if j < negatives:
                row.rating = rng.choice((1, 2))
                row.text = rng.choice(texts.COMPLAINTS)
                verified = at + dt.timedelta(days=rng.randint(2, 5))
                if verified < self.now:
                    row.verified_group, row.verified_at = gi, verified
                    row.upheld = upheld_left > 0
                    upheld_left -= row.upheld
            rows.append(row)
        rows.sort(key=lambda r: r.submitted_at)
        self.plan.feedback.extend(rows)

    def _evaluations(self, pi: int, project: ProjectPlan, start: dt.date) -> None:
        rng = self.rng
        staff = self.frame.communities[project.community].staff
        band = {CANTEEN: (86, 97), NORMAL: (76, 96), WARNED: (66, 80), DISMISSED: (55, 70)}
        lo, hi = band[project.role]
        for quarter in self.quarters:
            q_start, q_end = quarter_span(quarter)
            if timezone.localdate(q_start) < start:
                continue
            scores = {
                dim: ScoreIn(DEFAULT_WEIGHTS[dim],
                             Decimal(rng.randint(lo * 2, hi * 2)) / 2,
                             texts.EVIDENCE[dim])
                for dim in Dimension.values
            }  # fmt: skip
            total = total_of(scores)
            ratings = [
                f.rating for f in self.plan.feedback
                if f.project == pi and q_start <= f.submitted_at < q_end
            ]  # fmt: skip
            average = None
            if ratings:
                average = (Decimal(sum(ratings)) / Decimal(len(ratings))).quantize(
                    CENT, ROUND_HALF_UP
                )
            at = _at(timezone.localdate(q_end) + dt.timedelta(days=rng.randint(5, 12)), 10)
            grade = grade_of(total)
            summary = f"{quarter}季度评估：{Grade(grade).label}。"
            self.plan.evaluations.append(
                EvaluationPlan(pi, quarter, scores, total, grade, len(ratings), average, summary,
                               staff, at)
            )  # fmt: skip
            self._document(pi, Stage.EVALUATION, DocumentKind.EVALUATION, at)
            self.plan.decisions.append(
                DecisionPlan(pi, Stage.EVALUATION, at + dt.timedelta(days=3), staff,
                             f"同意{quarter}季度评估结论。")
            )  # fmt: skip

    # --- the credit ledger -----------------------------------------------------------------
    def ledger(self) -> None:
        """Every partner's entries in time order, with the crossings the rules make:
        the warning (``credit.TRANSITIONS``) and the dismissal proposal, which the
        committee decides a week later — the project then stops and nothing after the
        decision is kept."""
        plan = self.plan
        opening = settings.PARTNERS_CREDIT_OPENING
        events: dict[int, list[tuple[dt.datetime, int, str, str, tuple[str, Any], int | None]]] = {}
        project_of_agreement = {a.project: ai for ai, a in enumerate(plan.agreements)}
        for f in plan.findings:
            partner = plan.projects[f.project].partner
            if f.penalised and partner is not None:
                at = _at(f.rectify_by + dt.timedelta(days=1), 2)
                events.setdefault(partner, []).append(
                    (at, settings.PARTNERS_CREDIT_MISSED_RECTIFICATION,
                     CreditReason.MISSED_RECTIFICATION, f"逾期未整改：{f.text[:60]}",
                     ("finding", f), None)
                )  # fmt: skip
        for b in plan.feedback:
            project = plan.projects[b.project]
            if b.upheld and b.verified_at is not None and project.partner is not None:
                staff = self.frame.communities[project.community].staff
                events.setdefault(project.partner, []).append(
                    (b.verified_at, settings.PARTNERS_CREDIT_NEGATIVE_FEEDBACK,
                     CreditReason.NEGATIVE_FEEDBACK, f"{project.name}差评经核实",
                     ("feedback", b), staff)
                )  # fmt: skip
        for e in plan.evaluations:
            project = plan.projects[e.project]
            if e.grade == Grade.EXCELLENT and project.partner is not None:
                events.setdefault(project.partner, []).append(
                    (e.evaluated_at, settings.PARTNERS_CREDIT_EXCELLENT_QUARTER,
                     CreditReason.EXCELLENT_QUARTER, f"{project.name} {e.quarter}季度评估为优",
                     ("evaluation", e), e.evaluated_by)
                )  # fmt: skip
        for idx, p in enumerate(plan.partners):
            joined = _at(p.joined_on, 9)
            rows: list[tuple[dt.datetime, int, str, str, tuple[str, Any], int | None]] = [
                (joined, opening, CreditReason.OPENING, "", ("partner", p), None)
            ]
            rows += sorted(events.get(idx, []), key=lambda r: r[0])
            balance, status = 0, str(PartnerStatus.ACTIVE)
            ai = next((project_of_agreement[pi] for pi, pr in enumerate(plan.projects)
                       if pr.partner == idx and pi in project_of_agreement), None)  # fmt: skip
            agreement = plan.agreements[ai] if ai is not None else None
            live = agreement is not None and agreement.status == AgreementStatus.ACTIVE
            warning = settings.PARTNERS_WARNING_THRESHOLD
            dismissal_line = settings.PARTNERS_DISMISSAL_THRESHOLD
            decided_at: dt.datetime | None = None
            kept: list[CreditPlan] = []
            for at, delta, reason, note, evidence, by in rows:
                if decided_at is not None and at >= decided_at:
                    break  # the ledger of a dismissed partner is frozen
                before, balance = balance, balance + delta
                kept.append(CreditPlan(idx, delta, balance, reason, note, evidence, at, by))
                if reason == CreditReason.OPENING:
                    continue
                if credit.crossed_down(before, balance, warning):
                    status = credit.TRANSITIONS.get((status, credit.WARN), status)
                elif balance > warning:
                    status = credit.TRANSITIONS.get((status, credit.CLEAR), status)
                if (
                    live
                    and agreement is not None
                    and ai is not None
                    and credit.crossed_down(before, balance, dismissal_line)
                ):
                    decided_at = self._dismiss(idx, ai, balance, at)
            if [c.balance for c in kept] != credit.replay_balances(c.delta for c in kept):
                raise RuntimeError("the planned ledger does not replay")  # pragma: no cover
            plan.credit.extend(kept)
            p.credit = balance
            p.status = status
            if decided_at is not None:
                p.status = PartnerStatus.DISMISSED
                p.left_on = timezone.localdate(decided_at)
                self._stop(ai, decided_at)

    def _dismiss(self, partner: int, ai: int, balance: int, at: dt.datetime) -> dt.datetime:
        agreement = self.plan.agreements[ai]
        project = self.plan.projects[agreement.project]
        staff = self.frame.communities[project.community].staff
        decided = at + dt.timedelta(days=7, hours=8)
        agreement.dismissal = len(self.plan.dismissals)
        self.plan.dismissals.append(
            DismissalPlan(partner, ai, balance, at, decided, staff,
                          "多次逾期未整改且差评经监督团核实属实，信用分已降至协议约定的清退线，"
                          "经社区党委会议研究，决定清退。")
        )  # fmt: skip
        return decided

    def _stop(self, ai: int | None, decided: dt.datetime) -> None:
        """The project of a dismissed partner: 已清退终止 from ``decided`` on; what the
        plan drew for it after that never happened."""
        assert ai is not None  # noqa: S101 - only a live agreement is dismissed
        plan = self.plan
        agreement = plan.agreements[ai]
        agreement.status = AgreementStatus.ENDED
        agreement.ended_on = timezone.localdate(decided)
        pi = agreement.project
        plan.projects[pi].status = ProjectStatus.DISMISSED
        # drop what came after (inspections with their findings, feedback, evaluations
        # with their decisions and reports): no kept credit entry rests on them
        keep = [i for i, x in enumerate(plan.inspections)
                if x.project != pi or x.inspected_at < decided]  # fmt: skip
        renumber = {old: new for new, old in enumerate(keep)}
        plan.inspections = [plan.inspections[i] for i in keep]
        plan.findings = [f for f in plan.findings if f.inspection in renumber]
        for f in plan.findings:
            f.inspection = renumber[f.inspection]
            if (
                f.project == pi
                and f.penalised
                and _at(f.rectify_by + dt.timedelta(days=1), 2) >= decided
            ):
                f.penalised = False  # the ledger froze before the deadline passed
            if f.project == pi and f.rectified_at is not None and f.rectified_at >= decided:
                f.rectified_at, f.rectification = None, ""
        plan.feedback = [b for b in plan.feedback if b.project != pi or b.submitted_at < decided]
        for b in plan.feedback:
            if b.project == pi and b.verified_at is not None and b.verified_at >= decided:
                b.verified_group, b.verified_at, b.upheld = None, None, None
        plan.evaluations = [
            e for e in plan.evaluations if e.project != pi or e.evaluated_at < decided
        ]
        plan.decisions = [d for d in plan.decisions if d.project != pi or d.decided_at < decided]
        plan.documents = [d for d in plan.documents if d.project != pi or d.at < decided]

    def partner_documents(self) -> None:
        for idx, p in enumerate(self.plan.partners):
            if p.uscc:
                title = "营业执照" if p.kind == PartnerKind.MERCHANT else "登记证书"
                staff = self.frame.communities[p.community].staff
                self.plan.documents.append(
                    DocumentPlan(DocumentKind.LICENSE, f"{p.name}{title}", _at(p.joined_on, 10),
                                 staff, partner=idx)
                )  # fmt: skip


def plan_partners(
    frame: Frame, scale: str, rng: random.Random, now: dt.datetime | None = None
) -> PartnersPlan:
    """The partners of the county of ``frame`` at ``scale``, drawn from ``rng``."""
    now = (now or timezone.now()).replace(microsecond=0)
    planner = Planner(frame, SIZES[scale], rng, now)
    planner.partners()
    planner.projects()
    planner.partner_documents()
    planner.ledger()
    return planner.plan


__all__ = [
    "CANTEEN",
    "DISMISSED",
    "SIZES",
    "WARNED",
    "PartnersPlan",
    "evaluated_quarters",
    "plan_partners",
]
