"""On PostgreSQL, the projects part under concurrent writers: two committee decisions of
one stage at once record one approval and move the project once; two proposals for one
room at once leave one live project; two budgets that fit the fund alone but not
together leave one. The calls overlap on committed data from their own connections
(``transaction=True``; tests/concurrency.py re-seeds the county the flush removes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from jiayuan.core.errors import BilingualError
from jiayuan.partners import projects, stages
from jiayuan.partners.choices import DocumentKind, Stage
from jiayuan.partners.models import Fund, Project, StageDecision
from tests.concurrency import (
    ensure_world,
    postgres_only,
    race,
    world_back_afterwards,  # noqa: F401 - a module fixture
)

from .projects_world import World, build, file, proposal

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def fresh_world(settings: Any, tmp_path: Any) -> World:
    ensure_world()
    settings.MEDIA_ROOT = tmp_path / "media"
    users = {u.username: u for u in get_user_model().objects.all()}
    return build(users)


def outcomes(results: list[Any]) -> tuple[list[Any], list[Any]]:
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, BilingualError)
    ]
    assert not unexpected, unexpected
    return [r for r in results if not isinstance(r, BaseException)], [
        r for r in results if isinstance(r, BilingualError)
    ]


def test_two_approvals_at_once_move_the_project_once(settings: Any, tmp_path: Any) -> None:
    world = fresh_world(settings, tmp_path)
    project = projects.propose(world.staff, proposal(world))
    file(world.staff, project, DocumentKind.PROPOSAL)

    def approve() -> Any:
        return stages.decide(project.pk, Stage.PROPOSAL, "approved", "", world.staff)

    done, refused = outcomes(race(approve, approve, approve))
    assert len(done) == 1 and len(refused) == 2
    assert StageDecision.objects.filter(project=project).count() == 1
    assert Project.objects.get(pk=project.pk).stage == Stage.CALL


def test_one_live_project_per_room_under_a_race(settings: Any, tmp_path: Any) -> None:
    world = fresh_world(settings, tmp_path)

    def propose(i: int) -> Any:
        return lambda: projects.propose(world.staff, proposal(world, name=f"项目{i}", budget="0"))

    done, refused = outcomes(race(*(propose(i) for i in range(3))))
    assert len(done) == 1 and len(refused) == 2
    assert Project.objects.filter(room=world.room).count() == 1


def test_budgets_racing_for_the_fund(settings: Any, tmp_path: Any) -> None:
    world = fresh_world(settings, tmp_path)

    def ask(space: dict[str, Any]) -> Any:
        return lambda: projects.propose(world.staff, proposal(world, budget="60000", **space))

    done, refused = outcomes(
        race(ask({}), ask({"room_id": None, "position_id": world.position.pk}))
    )
    assert len(done) == 1 and len(refused) == 1
    fund = Fund.objects.get(pk=world.fund.pk)
    assert projects.fund_balance(fund) == Decimal("40000.00")
