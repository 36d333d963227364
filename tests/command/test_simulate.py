"""``jiayuan simulate-mobilisation``: 200 forces, a head count reached, escalation and
top-up fired, a timeline and report printed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from jiayuan import cli
from jiayuan.command.models import DutyShift, Member, Mobilisation, MobilisationEvent, Step


def test_simulation_of_200_forces_reaches_its_head_count(
    db: Any, capsys: Any, monkeypatch: Any
) -> None:
    # the ``jiayuan`` command, as an operator types it; a command run from the command line
    # closes the database connections when it ends, which on PostgreSQL would end this
    # test's transaction under it, so they stay open here
    monkeypatch.setattr(connections, "close_all", lambda: None)
    assert (
        cli.main(["simulate-mobilisation", "--forces", "200", "--head-count", "30", "--seed", "3"])
        == 0
    )
    text = capsys.readouterr().out
    mob = Mobilisation.objects.get(source="simulation")
    members = list(Member.objects.filter(mobilisation=mob))
    events = MobilisationEvent.objects.filter(mobilisation=mob)
    # then: the head count is on site, and the report says so
    assert mob.assembled_at is not None and mob.head_count_at is not None
    assert mob.first_ack_at is not None
    assert mob.created_at <= mob.first_ack_at <= mob.head_count_at <= mob.assembled_at
    came = [m for m in members if m.checked_in_at is not None]
    assert len(came) >= 30
    # some declined or ignored the call: escalation fired and top-ups called more people
    assert events.filter(kind="escalated").exists()
    assert events.filter(kind="topped_up").exists()
    assert any(m.step == Step.DECLINED for m in members)
    assert any(m.step == Step.TIMED_OUT for m in members)
    # each level of escalation fired once per member at most
    pairs = list(events.filter(kind="escalated").values_list("member_id", "level"))
    assert len(pairs) == len(set(pairs))
    # never more than the head count in play at once: callers = head count + those out
    out_count = sum(1 for m in members if m.step in (Step.DECLINED, Step.TIMED_OUT))
    assert len(members) <= 30 + out_count
    # the report printed
    assert "达到所需人数" in text and f"到场 / came: {len(came)}" in text
    assert f"调度 {mob.number}" in text
    # the forces the simulation put on duty are off again, their positions forgotten
    assert not DutyShift.objects.filter(ended_at__isnull=True).exists()
    assert not DutyShift.objects.filter(lat__isnull=False).exists()


def test_simulation_refuses_a_head_count_beyond_the_forces(db: Any) -> None:
    with pytest.raises(CommandError):
        call_command("simulate_mobilisation", forces=3, head_count=10, seed=1)
    assert not Mobilisation.objects.exists()
    assert not DutyShift.objects.filter(ended_at__isnull=True).exists()
