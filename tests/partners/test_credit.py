"""The credit ledger: balances reproduced from the entries, evidence counted once,
thresholds firing once per crossing, and dismissal ending the agreement, freeing the
space and freezing the partner."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry, Notification
from jiayuan.partners import credit
from jiayuan.partners.choices import (
    AgreementStatus,
    CreditReason,
    DismissalStatus,
    PartnerStatus,
    ProjectStatus,
)
from jiayuan.partners.models import CreditEntry, Dismissal, Partner

pytestmark = pytest.mark.django_db

NEG = CreditReason.NEGATIVE_FEEDBACK


def test_opening_entry_and_balance(make_partner: Any, community_area: Any, settings: Any) -> None:
    partner = make_partner(community_area)
    entries = list(partner.credit_entries.all())
    assert [(e.reason, e.delta, e.balance) for e in entries] == [
        ("opening", settings.PARTNERS_CREDIT_OPENING, settings.PARTNERS_CREDIT_OPENING)
    ]
    assert partner.credit == settings.PARTNERS_CREDIT_OPENING
    # registering twice never opens twice
    assert credit.open_ledger(partner) is None


def test_record_appends_balance_and_one_audit_entry(
    make_partner: Any, community_area: Any, users: dict[str, Any]
) -> None:
    partner = make_partner(community_area)
    before = AuditEntry.objects.count()
    entry = credit.record(partner, -5, NEG, evidence="feedback:1", decided_by=users["community"])
    assert entry is not None
    assert entry.balance == 95 and partner.credit == 95
    assert Partner.objects.get(pk=partner.pk).credit == 95
    assert AuditEntry.objects.count() == before + 1
    logged = AuditEntry.objects.for_object(entry).get()
    assert logged.changes["balance"] == [100, 95]
    assert logged.actor == users["community"]


def test_same_evidence_counts_once(make_partner: Any, community_area: Any) -> None:
    partner = make_partner(community_area)
    assert credit.record(partner, -5, NEG, evidence="feedback:7") is not None
    audits = AuditEntry.objects.count()
    assert credit.record(partner, -5, NEG, evidence="feedback:7") is None
    assert AuditEntry.objects.count() == audits
    partner.refresh_from_db()
    assert partner.credit == 95
    # the same evidence under another reason is another fact
    assert credit.record(partner, 3, CreditReason.EXCELLENT_QUARTER, evidence="feedback:7")
    # without evidence nothing is deduplicated
    assert credit.record(partner, -1, CreditReason.ADJUSTMENT)
    assert credit.record(partner, -1, CreditReason.ADJUSTMENT)
    assert Partner.objects.get(pk=partner.pk).credit == 96


@pytest.mark.parametrize("delta", [True, 1.5, "3", 10_001])
def test_hostile_delta_refused(make_partner: Any, community_area: Any, delta: Any) -> None:
    partner = make_partner(community_area)
    with pytest.raises(ValidationFailed):
        credit.record(partner, delta, NEG)


def test_unknown_reason_refused(make_partner: Any, community_area: Any) -> None:
    partner = make_partner(community_area)
    with pytest.raises(ValidationFailed):
        credit.record(partner, -1, "because")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=-30, max_value=30),
            st.sampled_from([NEG, CreditReason.EXCELLENT_QUARTER, CreditReason.ADJUSTMENT]),
            st.one_of(st.just(""), st.integers(min_value=1, max_value=6).map(str)),
        ),
        max_size=15,
    )
)
def test_replay_reproduces_every_balance(
    make_partner: Any, community_area: Any, steps: list[tuple[int, str, str]]
) -> None:
    partner = make_partner(community_area, name="回放合伙人", opening=True)
    try:
        seen: set[tuple[str, str]] = set()
        expected = partner.credit
        for delta, reason, evidence in steps:
            entry = credit.record(partner, delta, reason, evidence=evidence)
            if evidence and (reason, evidence) in seen:
                assert entry is None
                continue
            seen.add((reason, evidence))
            expected += delta
            assert entry is not None and entry.balance == expected
        rows = credit.replay(partner)
        assert [entry.balance for entry, _ in rows] == [balance for _, balance in rows]
        assert rows[-1][1] == Partner.objects.get(pk=partner.pk).credit == expected
        assert credit.mismatches(partner) == []
    finally:
        # Hypothesis reuses the test's transaction: leave no partner behind
        Dismissal.objects.filter(partner=partner).delete()
        CreditEntry.objects.filter(partner=partner).delete()
        partner.agreements.all().delete()
        partner.delete()


def test_mismatches_finds_a_tampered_balance(make_partner: Any, community_area: Any) -> None:
    partner = make_partner(community_area)
    entry = credit.record(partner, -5, NEG)
    assert entry is not None
    CreditEntry.objects.filter(pk=entry.pk).update(balance=42)
    assert credit.mismatches(partner) == [CreditEntry.objects.get(pk=entry.pk)]


def test_warning_fires_once_per_crossing(
    make_partner: Any, make_agreement: Any, community_area: Any, users: dict[str, Any]
) -> None:
    partner = make_partner(community_area)
    make_agreement(partner, warning=85, dismissal=50)
    staff = users["community"]
    assert credit.record(partner, -10, NEG, evidence="feedback:1")  # 90
    assert partner.status == PartnerStatus.ACTIVE
    assert credit.record(partner, -5, NEG, evidence="feedback:2")  # 85: at the line
    assert partner.status == PartnerStatus.WARNED
    warned = Notification.objects.filter(user=staff, kind="partner_warned")
    assert warned.count() == 1
    credit.record(partner, -5, NEG, evidence="feedback:3")  # 80: below, no new crossing
    assert warned.count() == 1
    assert Partner.objects.get(pk=partner.pk).status == PartnerStatus.WARNED
    # back above the line clears the warning; falling again is a new crossing
    credit.record(partner, 10, CreditReason.ADJUSTMENT)  # 90
    assert Partner.objects.get(pk=partner.pk).status == PartnerStatus.ACTIVE
    credit.record(partner, -10, NEG, evidence="feedback:4")  # 80
    assert warned.count() == 2
    # another community's staff heard nothing
    assert (
        not Notification.objects.filter(kind="partner_warned")
        .exclude(user__memberships__area_path__startswith=community_area.path)
        .exists()
    )


def test_default_warning_threshold_without_agreement(
    make_partner: Any, community_area: Any, settings: Any
) -> None:
    settings.PARTNERS_WARNING_THRESHOLD = 90
    partner = make_partner(community_area)
    credit.record(partner, -10, NEG)
    assert partner.status == PartnerStatus.WARNED
    assert not Dismissal.objects.filter(partner=partner).exists()


def test_dismissal_threshold_opens_one_proposal(
    make_partner: Any, make_agreement: Any, community_area: Any, users: dict[str, Any]
) -> None:
    partner = make_partner(community_area)
    agreement = make_agreement(partner, warning=80, dismissal=60)
    credit.record(partner, -40, NEG, evidence="feedback:1")  # 60: both lines at once
    proposals = Dismissal.objects.filter(agreement=agreement)
    assert [(d.status, d.balance) for d in proposals] == [(DismissalStatus.PROPOSED, 60)]
    credit.record(partner, -10, NEG, evidence="feedback:2")
    credit.record(partner, 30, CreditReason.ADJUSTMENT)
    credit.record(partner, -30, NEG, evidence="feedback:3")  # crosses again: still one open
    assert proposals.count() == 1
    notices = Notification.objects.filter(user=users["community"], kind="partner_dismissal")
    assert notices.count() == 1
    assert notices.get().link == f"/partners/dismissals/{proposals.get().pk}/"


@pytest.fixture
def proposed(make_partner: Any, make_agreement: Any, community_area: Any) -> Dismissal:
    partner = make_partner(community_area)
    make_agreement(partner, warning=80, dismissal=60)
    credit.record(partner, -45, NEG, evidence="feedback:9")
    return Dismissal.objects.get(partner=partner)


def test_decided_dismissal_ends_agreement_frees_space_and_freezes(
    proposed: Dismissal, users: dict[str, Any]
) -> None:
    # when
    credit.decide(users["community"], proposed, decision="decided", reasons="多次差评未整改")
    # then
    agreement = proposed.agreement
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.ENDED
    assert agreement.ended_on is not None and agreement.end_reason
    project = agreement.project
    project.refresh_from_db()
    assert project.status == ProjectStatus.DISMISSED  # no longer live: the space is free
    partner = Partner.objects.get(pk=proposed.partner_id)
    assert partner.status == PartnerStatus.DISMISSED and partner.left_on is not None
    entries = CreditEntry.objects.filter(partner=partner).count()
    with pytest.raises(Conflict) as caught:
        credit.record(partner, 5, CreditReason.ADJUSTMENT)
    assert caught.value.status == 409 and "frozen" in caught.value.en
    assert CreditEntry.objects.filter(partner=partner).count() == entries
    with pytest.raises(Conflict):
        credit.decide(users["community"], proposed, decision="rejected", reasons="再议")


def test_rejected_dismissal_keeps_partner(proposed: Dismissal, users: dict[str, Any]) -> None:
    credit.decide(users["community"], proposed, decision="rejected", reasons="已整改到位")
    proposed.refresh_from_db()
    assert proposed.status == DismissalStatus.REJECTED
    assert proposed.agreement.status == AgreementStatus.ACTIVE
    partner = Partner.objects.get(pk=proposed.partner_id)
    assert partner.status == PartnerStatus.WARNED
    assert credit.record(partner, 5, CreditReason.ADJUSTMENT) is not None


def test_decide_needs_supervise_in_scope(
    proposed: Dismissal, users: dict[str, Any], viewer: Any, outsider: Any
) -> None:
    with pytest.raises(PermissionDenied):
        credit.decide(viewer, proposed, decision="decided", reasons="x")
    for stranger in (outsider, users["grid"]):
        with pytest.raises(NotFound):
            credit.decide(stranger, proposed, decision="decided", reasons="x")
    with pytest.raises(ValidationFailed):
        credit.decide(users["admin"], proposed, decision="maybe", reasons="x")
    with pytest.raises(ValidationFailed):
        credit.decide(users["admin"], proposed, decision="decided", reasons="  ")
    assert Dismissal.objects.get(pk=proposed.pk).status == DismissalStatus.PROPOSED


def test_dismissal_frees_the_space_for_another_project(
    make_partner: Any, make_agreement: Any, community_area: Any, users: dict[str, Any]
) -> None:
    from jiayuan.community.models import Room
    from jiayuan.partners import projects

    # given a partner's project holding a room of the community under an agreement
    room = Room.objects.filter(area_path__startswith=community_area.path).order_by("pk").first()
    assert room is not None
    partner = make_partner(community_area)
    agreement = make_agreement(partner, warning=80, dismissal=60)
    agreement.project.room = room
    agreement.project.save()
    staff = users["community"]
    again = projects.ProjectInput(
        name="新的助餐点", content="长者助餐", area_id=community_area.pk, room_id=room.pk,
        price_class="free",
    )  # fmt: skip
    with pytest.raises(Conflict):  # the room holds a live project
        projects.propose(staff, again)
    # when the partner is dismissed
    credit.record(partner, -40, NEG, evidence="feedback:1")
    credit.decide(staff, partner.dismissals.get(), decision="decided", reasons="清退")
    # then the room takes another project
    assert projects.propose(staff, again).room == room
