"""The partners demo (stage 红色合伙人 of the seed) at the tiny scale: what it writes
holds to the rules — the ledger replays, the calls' scores reproduce the selections,
every project's decisions come in stage order with their documents, a space holds one
live project, the canteen runs with its supervision group. The tiny session world keeps
an empty registry (the other partners tests assume it), so each test seeds it here,
inside its own rolled-back transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from jiayuan.core import pii
from jiayuan.core.models import AuditEntry
from jiayuan.partners import calls, credit, identity, stages
from jiayuan.partners.choices import (
    STAGE_ORDER,
    AgreementStatus,
    CallStatus,
    CreditReason,
    Decision,
    DismissalStatus,
    Grade,
    PartnerKind,
    PartnerStatus,
    ProjectStatus,
    Stage,
)
from jiayuan.partners.demo import DOCUMENT_NAME, plan_for, seed_partners
from jiayuan.partners.evaluation import feedback_figures, grade_of, total_of
from jiayuan.partners.models import (
    Call,
    CreditEntry,
    Dismissal,
    Document,
    Evaluation,
    Feedback,
    Finding,
    Partner,
    Project,
    StageDecision,
    SupervisionGroup,
)
from jiayuan.partners.registry import expiry_state

NOW = timezone.make_aware(dt.datetime(2026, 11, 20, 15, 30))


@pytest.fixture
def demo(db: Any, media: Any) -> dict[str, Any]:
    return seed_partners(7, "tiny", now=NOW)


def test_partners_of_every_kind_with_valid_codes_and_contacts(demo: dict[str, Any]) -> None:
    partners = list(Partner.objects.all())
    assert len(partners) == demo["partners"] >= 12
    assert {p.kind for p in partners} == set(PartnerKind.values)
    for p in partners:
        assert p.area.kind == "community"
        if p.kind in (PartnerKind.SOCIAL_ORG, PartnerKind.MERCHANT):
            parsed = identity.validate(p.uscc)
            assert parsed.division == "370830"  # the county's GB/T 2260 code
        if p.kind == PartnerKind.TALENT:
            assert p.person is not None and p.person.area_path.startswith(p.area_path)
        contacts = list(p.contacts.all())
        assert contacts and sum(c.primary for c in contacts) == 1
        for c in contacts:
            phone = pii.decrypt(c.phone_enc)
            assert len(phone) == 11 and c.phone_masked == pii.mask_phone(phone)
            assert phone not in c.phone_masked
    states = Counter(
        expiry_state(q, timezone.localdate(NOW)) for p in partners for q in p.qualifications.all()
    )
    assert states["expiring"] >= 1 and states["valid"] > states["expiring"]
    # one audit entry for the whole stage, none per row
    assert AuditEntry.objects.filter(note__contains="红色合伙人演示数据").count() == 1
    assert not AuditEntry.objects.filter(object_type__startswith="partners.").exists()


def test_the_ledger_replays_and_rests_on_its_evidence(demo: dict[str, Any]) -> None:
    for partner in Partner.objects.all():
        rows = credit.replay(partner)
        assert rows, partner
        first = rows[0][0]
        assert first.reason == CreditReason.OPENING
        assert first.delta == settings.PARTNERS_CREDIT_OPENING
        assert first.evidence == f"partner:{partner.pk}"
        assert credit.mismatches(partner) == []
        assert partner.credit == rows[-1][1]
        times = [e.created_at for e, _ in rows]
        assert times == sorted(times)
    # every deduction and bonus names a record that earns it, and every such record counts
    penalised = set(Finding.objects.filter(penalised=True).values_list("pk", flat=True))
    assert penalised
    missed = CreditEntry.objects.filter(reason=CreditReason.MISSED_RECTIFICATION)
    assert {int(e.evidence.split(":")[1]) for e in missed} == penalised
    for f in Finding.objects.filter(penalised=True):
        assert f.rectified_at is None or timezone.localdate(f.rectified_at) > f.rectify_by
    upheld = set(Feedback.objects.filter(upheld=True).values_list("pk", flat=True))
    negative = CreditEntry.objects.filter(reason=CreditReason.NEGATIVE_FEEDBACK)
    assert {int(e.evidence.split(":")[1]) for e in negative} == upheld
    assert not Feedback.objects.filter(upheld__isnull=False, rating__gt=2).exists()
    excellent = set(Evaluation.objects.filter(grade=Grade.EXCELLENT).values_list("pk", flat=True))
    bonus = CreditEntry.objects.filter(reason=CreditReason.EXCELLENT_QUARTER)
    assert {int(e.evidence.split(":")[1]) for e in bonus} == excellent
    # nothing is left for the nightly job to deduct: no overdue finding unpunished
    from jiayuan.partners.supervision import overdue_findings

    assert not overdue_findings(timezone.localdate(NOW)).exists()


def test_one_partner_warned_and_one_dismissed(demo: dict[str, Any]) -> None:
    warned = list(Partner.objects.filter(status=PartnerStatus.WARNED))
    assert len(warned) == 1
    assert warned[0].credit <= settings.PARTNERS_WARNING_THRESHOLD
    dismissed = Partner.objects.get(status=PartnerStatus.DISMISSED)
    assert dismissed.left_on is not None
    dismissal = Dismissal.objects.get(partner=dismissed)
    assert dismissal.status == DismissalStatus.DECIDED and dismissal.decided_at is not None
    assert dismissal.balance <= settings.PARTNERS_DISMISSAL_THRESHOLD
    # the proposal came with the entry that crossed the agreement's dismissal line
    crossing = [
        e for e, _ in credit.replay(dismissed)
        if credit.crossed_down(e.balance - e.delta, e.balance,
                               dismissal.agreement.dismissal_threshold)
    ]  # fmt: skip
    assert len(crossing) == 1 and crossing[0].balance == dismissal.balance
    # frozen: nothing in the ledger after the decision
    assert dismissed.credit_entries.order_by("-id")[0].created_at < dismissal.decided_at
    agreement = dismissal.agreement
    assert agreement.status == AgreementStatus.ENDED and agreement.ended_on == dismissed.left_on
    assert f"提议 {dismissal.pk}" in agreement.end_reason
    project = agreement.project
    assert project.status == ProjectStatus.DISMISSED
    assert not project.inspections.filter(inspected_at__gte=dismissal.decided_at).exists()
    assert not project.feedback.filter(submitted_at__gte=dismissal.decided_at).exists()
    # everyone else in good standing never crossed a line
    for p in Partner.objects.filter(status=PartnerStatus.ACTIVE):
        assert p.credit > settings.PARTNERS_WARNING_THRESHOLD


def test_the_panels_scores_reproduce_every_selection(demo: dict[str, Any]) -> None:
    selected = Call.objects.filter(selected__isnull=False)
    assert selected.exists()
    for call in Call.objects.all():
        ranked = calls.ranking(call)
        assert 3 <= len(ranked) <= 6
        panel = calls.panel_of(call)
        # the community's staff, its street's leader and the county's administrator
        # (the tiny county's second community has no staff account)
        assert 2 <= len(panel) <= 3
        for member in panel:
            assert calls.path_allowed(member, call.area_path, "view")
        if call.status == CallStatus.OPEN:
            assert not any(r.scores for r in ranked) and call.closes_at > NOW
            continue
        assert calls.scoring_complete(call, ranked, panel)
        if call.selected_id is not None:
            assert call.status == CallStatus.PUBLISHED and call.published_at is not None
            assert ranked[0].application.pk == call.selected_id
            assert call.project.partner_id in (None, call.selected.partner_id)


def test_decisions_in_stage_order_with_their_documents(demo: dict[str, Any]) -> None:
    projects = list(Project.objects.all())
    assert {p.stage for p in projects} >= {Stage.PROPOSAL, Stage.CALL, Stage.EVALUATION}
    data = (settings.MEDIA_ROOT / DOCUMENT_NAME).read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    for project in projects:
        decisions = list(StageDecision.objects.filter(project=project).order_by("decided_at"))
        assert all(d.decision == Decision.APPROVED for d in decisions)
        order = [d.stage for d in decisions]
        head = order[: len(STAGE_ORDER) - 1]
        assert head == STAGE_ORDER[: len(head)]
        assert all(s == Stage.EVALUATION for s in order[len(head) :])
        evaluations = Evaluation.objects.filter(project=project).count()
        assert order.count(Stage.EVALUATION) <= evaluations
        if len(head) < len(STAGE_ORDER) - 1:
            assert project.stage == STAGE_ORDER[len(head)]
        else:
            assert project.stage == Stage.EVALUATION
        for d in decisions:
            for kind in stages.REQUIRED_DOCUMENTS[d.stage]:
                doc = Document.objects.filter(project=project, stage=d.stage, kind=kind).first()
                assert doc is not None, (project, d.stage, kind)
                assert doc.created_at <= d.decided_at
        if project.stage == Stage.PROPOSAL:
            assert Document.objects.filter(project=project, kind="proposal").exists()
    for doc in Document.objects.all():
        assert doc.file.name == DOCUMENT_NAME and doc.size == len(data)
        assert doc.sha256 == hashlib.sha256(data).hexdigest()
        assert doc.area_path


def test_one_live_project_per_space_inside_its_community(demo: dict[str, Any]) -> None:
    live = Project.objects.filter(status=ProjectStatus.OPEN)
    spaces = [(p.position_id, p.room_id) for p in live]
    assert len(spaces) == len(set(spaces))
    for p in Project.objects.select_related("position", "room"):
        assert (p.position_id is None) != (p.room_id is None)
        space = p.position or p.room
        assert space is not None and space.area_path.startswith(p.area_path)
        if p.partner_id is not None and p.status == ProjectStatus.OPEN:
            assert p.agreements.filter(status__in=("draft", "active")).count() == 1


def test_the_canteen_runs_with_a_year_of_history(demo: dict[str, Any]) -> None:
    canteen = Project.objects.get(name__endswith="长者食堂")
    assert stages.in_operation(canteen) and canteen.stage == Stage.EVALUATION
    group = SupervisionGroup.objects.get(name="食堂监督团")
    assert group.projects.filter(pk=canteen.pk).exists() and group.members.count() >= 5
    assert group.area_path == canteen.area_path
    inspections = canteen.inspections.order_by("inspected_at")
    assert inspections.count() >= 11
    span = inspections.last().inspected_at - inspections.first().inspected_at
    assert span > dt.timedelta(days=300)
    assert Evaluation.objects.filter(project=canteen).count() == 4
    ratings = list(canteen.feedback.values_list("rating", flat=True))
    assert ratings and sum(r >= 4 for r in ratings) / len(ratings) > 0.6  # mostly 4-5
    assert canteen.partner.status == PartnerStatus.ACTIVE
    assert canteen.agreements.get().status == AgreementStatus.ACTIVE


def test_evaluations_follow_the_rules(demo: dict[str, Any]) -> None:
    evaluations = list(Evaluation.objects.prefetch_related("scores"))
    assert evaluations
    for e in evaluations:
        scores = list(e.scores.all())
        assert len(scores) == 4 and sum(s.weight for s in scores) == 100
        assert e.total == total_of(scores)
        assert e.grade == grade_of(e.total)
        assert (e.feedback_count, e.feedback_average) == feedback_figures(e.project, e.quarter)
    for f in Feedback.objects.filter(rating__lte=2, verified_at__isnull=False):
        assert f.verified_group is not None
        assert f.verified_group.projects.filter(pk=f.project_id).exists()


def test_the_plan_is_deterministic(db: Any) -> None:
    first, second = plan_for(7, "tiny", now=NOW), plan_for(7, "tiny", now=NOW)
    assert first.counts() == second.counts()
    assert [p.uscc for p in first.partners] == [p.uscc for p in second.partners]
    assert [c.balance for c in first.credit] == [c.balance for c in second.credit]
    other = plan_for(8, "tiny", now=NOW)
    assert [p.uscc for p in other.partners] != [p.uscc for p in first.partners]
