"""Agreements: drafting from the selection, the caps and thresholds, signing with the
signed copy, expiry by the nightly job and renewal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.partners import agreement_jobs, agreements
from jiayuan.partners.choices import AgreementStatus, DocumentKind
from jiayuan.partners.models import Agreement

from .projects_world import (
    World,
    file,
    staff_user,
    terms,
    to_agreement_stage,
    to_call_stage,
    to_supervision_stage,
    world_fixture,  # noqa: F401 - the fixture ``world``
)

pytestmark = pytest.mark.django_db


def test_draft_takes_the_selected_partner_and_the_default_thresholds(
    world: World, settings: Any
) -> None:
    settings.PARTNERS_WARNING_THRESHOLD, settings.PARTNERS_DISMISSAL_THRESHOLD = 85, 55
    project, _call = to_agreement_stage(world)
    agreement = agreements.draft(world.staff, project.pk, terms())
    assert agreement.partner_id == world.partners[0].pk
    assert (agreement.warning_threshold, agreement.dismissal_threshold) == (85, 55)
    assert agreement.status == AgreementStatus.DRAFT
    assert agreement.price_cap == Decimal("12.00")
    with pytest.raises(Conflict):  # one live agreement per project
        agreements.draft(world.staff, project.pk, terms())


@pytest.mark.parametrize(
    "bad",
    [
        {"price_cap": "15.01"},  # above the project's cap of 15
        {"price_cap": "-1"},
        {"price_cap": "NaN"},
        {"price_cap": "123456789012"},
        {"warning_threshold": 60, "dismissal_threshold": 60},
        {"warning_threshold": 50, "dismissal_threshold": 60},
        {"warning_threshold": "many"},
        {"ends_on": dt.date(2020, 1, 1)},
        {"obligations": ""},
        {"exit_conditions": "x" * 3000},
    ],
)
def test_terms_are_checked(world: World, bad: dict[str, Any]) -> None:
    project, _call = to_agreement_stage(world)
    with pytest.raises(ValidationFailed):
        agreements.draft(world.staff, project.pk, terms(**bad))
    assert not Agreement.objects.exists()


def test_no_agreement_before_the_selection_is_approved(world: World) -> None:
    project = to_call_stage(world)
    with pytest.raises(Conflict):
        agreements.draft(world.staff, project.pk, terms())


def test_signing_needs_the_signed_copy_and_the_committee(world: World) -> None:
    project, _call = to_agreement_stage(world)
    agreement = agreements.draft(world.staff, project.pk, terms())
    with pytest.raises(Conflict):
        agreements.sign(world.staff, agreement.pk)
    file(world.staff, project, DocumentKind.AGREEMENT, "合作协议（签字版）")
    with pytest.raises(NotFound):
        agreements.sign(world.outsider, agreement.pk)
    with pytest.raises(PermissionDenied):
        agreements.sign(staff_user("head_like", world.community, role="three_head"), agreement.pk)
    signed = agreements.sign(world.staff, agreement.pk)
    assert signed.status == AgreementStatus.ACTIVE
    assert signed.signed_on == timezone.localdate() and signed.signed_by == world.staff
    with pytest.raises(Conflict):
        agreements.sign(world.staff, agreement.pk)


def test_the_nightly_job_expires_and_a_renewal_follows(world: World) -> None:
    # given a project in operation whose agreement ended yesterday
    project = to_supervision_stage(world)
    agreement = project.agreements.get()
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    Agreement.objects.filter(pk=agreement.pk).update(
        starts_on=yesterday - dt.timedelta(days=365), ends_on=yesterday
    )
    with pytest.raises(Conflict):  # still active: no renewal yet
        agreements.draft(world.staff, project.pk, terms())
    assert not agreements.may_renew(project)

    # when the nightly job runs (twice)
    assert agreement_jobs.expire_agreements.call_local() == 1
    assert agreement_jobs.expire_agreements.call_local() == 0

    # then the agreement reads 已到期 and a renewal can be drafted from its end on
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.EXPIRED
    assert agreements.may_renew(project)
    with pytest.raises(ValidationFailed):
        agreements.draft(world.staff, project.pk, terms(starts_on=yesterday - dt.timedelta(days=2)))
    renewal = agreements.draft(world.staff, project.pk, terms())
    file(world.staff, project, DocumentKind.AGREEMENT, "续签协议")
    assert agreements.sign(world.staff, renewal.pk).status == AgreementStatus.ACTIVE


def test_drafts_and_future_agreements_do_not_expire(world: World) -> None:
    project, _call = to_agreement_stage(world)
    agreements.draft(world.staff, project.pk, terms())
    assert agreements.expire_due(timezone.localdate() + dt.timedelta(days=400)) == 0
