"""Proposing and editing projects: the space, the price class, the 一老一小 groups, the
fund's remaining amount, who may propose, and hostile amounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.partners import projects
from jiayuan.partners.choices import DocumentKind, Stage
from jiayuan.partners.models import Project

from .projects_world import (
    World,
    approve,
    file,
    proposal,
    world_fixture,  # noqa: F401 - the fixture ``world``
)

pytestmark = pytest.mark.django_db


def test_a_proposal_is_stored_with_its_terms(world: World) -> None:
    project = projects.propose(world.staff, proposal(world))
    assert project.area_path == world.community.path
    assert project.stage == Stage.PROPOSAL
    assert project.price_cap == Decimal("15.00")
    assert project.target_groups == ["高龄", "独居"]
    assert project.budget == Decimal("30000.00")
    assert project.proposed_by == world.staff


def test_one_live_project_per_space(world: World) -> None:
    projects.propose(world.staff, proposal(world))
    with pytest.raises(Conflict):
        projects.propose(world.staff, proposal(world, name="另一个项目"))
    # the position itself is another space
    projects.propose(world.staff, proposal(world, room_id=None, position_id=world.position.pk))


def test_the_space_lies_in_the_community(world: World) -> None:
    with pytest.raises(ValidationFailed):
        projects.propose(
            world.staff, proposal(world, room_id=None, position_id=world.other_position.pk)
        )
    with pytest.raises(ValidationFailed):  # exactly one space
        projects.propose(world.staff, proposal(world, position_id=world.position.pk))
    with pytest.raises(ValidationFailed):
        projects.propose(world.staff, proposal(world, room_id=None))


def test_price_classes(world: World) -> None:
    with pytest.raises(ValidationFailed):  # low cost needs a cap
        projects.propose(world.staff, proposal(world, price_cap=None))
    with pytest.raises(ValidationFailed):  # free has none
        projects.propose(world.staff, proposal(world, price_class="free"))
    with pytest.raises(ValidationFailed):
        projects.propose(world.staff, proposal(world, price_class="cheap"))
    free = projects.propose(world.staff, proposal(world, price_class="free", price_cap=None))
    assert free.price_cap is None


def test_target_groups_are_the_community_labels(world: World) -> None:
    with pytest.raises(ValidationFailed):
        projects.propose(world.staff, proposal(world, target_groups=["老人"]))
    project = projects.propose(world.staff, proposal(world, target_groups="留守儿童,高龄"))
    assert project.target_groups == ["高龄", "留守儿童"]


def test_budgets_stay_within_the_fund(world: World) -> None:
    # given a fund of 100,000 holding one project of 30,000
    projects.propose(world.staff, proposal(world))
    other = {"room_id": None, "position_id": world.position.pk, "name": "儿童托管"}
    # when another asks for exactly what is left, it fits; a cent more does not
    with pytest.raises(ValidationFailed) as refused:
        projects.propose(world.staff, proposal(world, **other, budget="70000.01"))
    assert "剩余" in refused.value.zh
    projects.propose(world.staff, proposal(world, **other, budget="70000.00"))
    assert projects.fund_balance(world.fund) == Decimal(0)


def test_a_rejected_project_gives_its_budget_back(world: World) -> None:
    from jiayuan.partners import stages

    project = projects.propose(world.staff, proposal(world, budget="100000"))
    stages.decide(project, Stage.PROPOSAL, "rejected", "不符合规划", world.staff)
    assert projects.fund_balance(world.fund) == Decimal("100000.00")


@pytest.mark.parametrize(
    "value", ["-1", "NaN", "Infinity", "1e20", "12345678901.00", "0.001", "abc", True]
)
def test_hostile_amounts_are_refused(world: World, value: Any) -> None:
    with pytest.raises(ValidationFailed):
        projects.propose(world.staff, proposal(world, budget=value))
    with pytest.raises(ValidationFailed):
        projects.propose(world.staff, proposal(world, price_cap=value))
    assert not Project.objects.exists()


def test_who_may_propose(world: World, users: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):  # another community is not in their scope
        projects.propose(world.outsider, proposal(world))
    with pytest.raises(ValidationFailed):  # the grid worker does not see the community
        projects.propose(users["grid"], proposal(world))
    with pytest.raises(ValidationFailed):  # a zone is not a community
        projects.propose(
            world.staff, proposal(world, area_id=users["branch"].memberships.get().area_id)
        )
    from .projects_world import staff_user

    viewer = staff_user("viewer", world.community, role="resident")
    with pytest.raises(ValidationFailed):
        projects.propose(viewer, proposal(world))


def test_editing_only_before_approval_and_in_scope(world: World) -> None:
    project = projects.propose(world.staff, proposal(world))
    projects.edit(world.staff, project.pk, proposal(world, name="长者幸福食堂", budget="20000"))
    project.refresh_from_db()
    assert (project.name, project.budget) == ("长者幸福食堂", Decimal("20000.00"))
    with pytest.raises(NotFound):
        projects.edit(world.outsider, project.pk, proposal(world))
    with pytest.raises(NotFound):
        projects.edit(world.staff, 2**64, proposal(world))
    file(world.staff, project, DocumentKind.PROPOSAL)
    approve(world, project, Stage.PROPOSAL)
    with pytest.raises(Conflict):
        projects.edit(world.staff, project.pk, proposal(world))


def test_documents_go_under_the_current_stage(world: World) -> None:
    project = projects.propose(world.staff, proposal(world))
    with pytest.raises(ValidationFailed):  # an agreement has no place in 立项
        file(world.staff, project, DocumentKind.AGREEMENT)
    document = file(world.staff, project, DocumentKind.PROPOSAL)
    assert document.stage == Stage.PROPOSAL and document.project_id == project.pk
    with pytest.raises(NotFound):
        file(world.outsider, project, DocumentKind.PROPOSAL)


def test_a_viewer_may_not_file_documents(world: World) -> None:
    from .projects_world import staff_user

    project = projects.propose(world.staff, proposal(world))
    street = staff_user("street_viewer", world.community, role="three_head")
    file(street, project, DocumentKind.OTHER)  # a 三长 holds SERVE
    viewer = staff_user("plain_viewer", world.community, role="resident")
    with pytest.raises(NotFound):
        file(viewer, project, DocumentKind.OTHER)


def test_funds(world: World, users: dict[str, Any]) -> None:
    fund = projects.create_fund(
        world.staff, area_id=world.community.pk, year=2027, name="党组织服务群众经费",
        amount_value="50000",
    )  # fmt: skip
    assert fund.amount == Decimal("50000.00")
    with pytest.raises(Conflict):
        projects.create_fund(
            world.staff, area_id=world.community.pk, year=2027, name="党组织服务群众经费",
            amount_value="1",
        )  # fmt: skip
    with pytest.raises(ValidationFailed):
        projects.create_fund(
            world.staff, area_id=world.community.pk, year=1900, name="x", amount_value="1"
        )
    with pytest.raises(NotFound):
        projects.create_fund(
            world.outsider, area_id=world.community.pk, year=2027, name="x", amount_value="1"
        )
    with pytest.raises(PermissionDenied):
        projects.create_fund(
            users["branch"], area_id=users["branch"].memberships.get().area_id, year=2027,
            name="x", amount_value="1",
        )  # fmt: skip
