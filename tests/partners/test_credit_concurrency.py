"""On PostgreSQL, the credit ledger under concurrent writers: the same evidence recorded
at the same moment counts once, concurrent changes leave every balance reproducible from
the deltas, and two deductions crossing the dismissal line together open one proposal.

The calls must really overlap on committed data, from threads with their own
connections, so these tests run with ``transaction=True`` and re-seed the tiny county the
flush removes (tests/concurrency.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jiayuan.org.models import Area
from jiayuan.partners import credit
from jiayuan.partners.models import Agreement, CreditEntry, Dismissal, Partner, Project
from tests.concurrency import (
    ensure_world,
    postgres_only,
    race,
    world_back_afterwards,  # noqa: F401 - a module fixture
)

from .conftest import COMMUNITY

pytestmark = postgres_only


def partner_with_agreement() -> Partner:
    area = Area.objects.get(path=COMMUNITY)
    partner = Partner.objects.create(area=area, name="并发合伙人", kind="volunteer_team")
    credit.open_ledger(partner)
    project = Project.objects.create(
        area=area, name="并发项目", content="助餐", price_class="free", partner=partner
    )
    Agreement.objects.create(
        project=project, partner=partner, starts_on=dt.date(2026, 1, 1),
        ends_on=dt.date(2027, 1, 1), obligations="助餐", exit_conditions="清退线",
        warning_threshold=80, dismissal_threshold=60, status="active",
    )  # fmt: skip
    return Partner.objects.get(pk=partner.pk)


@pytest.mark.django_db(transaction=True)
def test_the_same_evidence_at_once_counts_once() -> None:
    ensure_world()
    partner = partner_with_agreement()

    def deduct() -> Any:
        return credit.record(
            Partner.objects.get(pk=partner.pk), -5, "negative_feedback", evidence="feedback:1"
        )

    results = race(*([deduct] * 4))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r is not None for r in results) == 1
    assert CreditEntry.objects.filter(partner=partner).count() == 2
    assert Partner.objects.get(pk=partner.pk).credit == 95
    assert credit.mismatches(partner) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_changes_replay_and_cross_once() -> None:
    ensure_world()
    partner = partner_with_agreement()

    def deduct(i: int) -> Any:
        return lambda: credit.record(
            Partner.objects.get(pk=partner.pk), -7, "negative_feedback", evidence=f"feedback:{i}"
        )

    results = race(*(deduct(i) for i in range(8)))
    assert not [r for r in results if isinstance(r, BaseException)], results
    # then every balance follows from the deltas, and each line was crossed once
    assert Partner.objects.get(pk=partner.pk).credit == 100 - 8 * 7
    assert credit.mismatches(partner) == []
    balances = list(
        CreditEntry.objects.filter(partner=partner).order_by("id").values_list("balance", flat=True)
    )
    assert balances == [100 - 7 * i for i in range(9)]
    assert Dismissal.objects.filter(partner=partner, status="proposed").count() == 1
    assert Partner.objects.get(pk=partner.pk).status == "warned"
