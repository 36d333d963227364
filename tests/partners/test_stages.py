"""The five-stage rule: no stage is entered without the previous stage's approval and
documents, only the current stage is decided, and the committee decides."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.models import AuditEntry
from jiayuan.partners import projects, stages
from jiayuan.partners.choices import DocumentKind, ProjectStatus, Stage
from jiayuan.partners.models import Evaluation, StageDecision

from .projects_world import (
    World,
    approve,
    file,
    inspect,
    proposal,
    to_agreement_stage,
    to_call_stage,
    to_supervision_stage,
    world_fixture,  # noqa: F401 - the fixture ``world``
)

pytestmark = pytest.mark.django_db


def codes(project: Any, stage: str) -> list[str]:
    return [m.code + (":" + m.kind if m.kind else "") for m in stages.missing(project, stage)]


def test_the_proposal_needs_its_document_before_approval(world: World) -> None:
    # given a fresh proposal without its 申报书
    project = projects.propose(world.staff, proposal(world))
    assert codes(project, Stage.PROPOSAL) == ["document:proposal"]

    # when the committee tries to approve it, then it is refused and nothing moves
    with pytest.raises(Conflict) as refused:
        approve(world, project, Stage.PROPOSAL)
    assert "申报书" in refused.value.zh
    project.refresh_from_db()
    assert project.stage == Stage.PROPOSAL
    assert not StageDecision.objects.filter(project=project).exists()

    # once the document is filed, it is approved and the project enters 发包
    file(world.staff, project, DocumentKind.PROPOSAL)
    approve(world, project, Stage.PROPOSAL)
    project.refresh_from_db()
    assert project.stage == Stage.CALL
    assert AuditEntry.objects.filter(object_type="partners.stagedecision").exists()


def test_a_stage_is_never_skipped_nor_decided_out_of_turn(world: World) -> None:
    project = projects.propose(world.staff, proposal(world))
    for later in (Stage.CALL, Stage.AGREEMENT, Stage.SUPERVISION, Stage.EVALUATION):
        assert codes(project, later)[0] == "previous_stage"
        with pytest.raises(Conflict):
            stages.decide(project, later, "approved", "", world.staff)
    # the call stage wants its documents and a published selection, not only the approval
    file(world.staff, project, DocumentKind.PROPOSAL)
    approve(world, project, Stage.PROPOSAL)
    assert codes(project, Stage.CALL) == ["document:call", "document:result", "published_selection"]
    with pytest.raises(Conflict):
        approve(world, project, Stage.CALL)
    with pytest.raises(Conflict):  # the proposal is decided already
        approve(world, project, Stage.PROPOSAL)
    # a document alone does not do: the published selection is a prerequisite
    file(world.staff, project, DocumentKind.CALL)
    with pytest.raises(Conflict):
        approve(world, project, Stage.CALL)
    project.refresh_from_db()
    assert project.stage == Stage.CALL


def test_approving_the_call_sets_the_selected_partner(world: World) -> None:
    project, call = to_agreement_stage(world)
    call.refresh_from_db()
    assert project.stage == Stage.AGREEMENT
    assert call.selected is not None and call.status == "published"
    assert project.partner_id == world.partners[0].pk


def test_the_agreement_stage_needs_a_signed_agreement(world: World) -> None:
    project, _call = to_agreement_stage(world)
    assert codes(project, Stage.AGREEMENT) == ["document:agreement", "signed_agreement"]
    file(world.staff, project, DocumentKind.AGREEMENT)
    with pytest.raises(Conflict):
        approve(world, project, Stage.AGREEMENT)


def test_operation_repeats_quarter_after_quarter(world: World) -> None:
    # given a project in operation (its agreement approved)
    project = to_supervision_stage(world)
    assert project.stage == Stage.SUPERVISION and stages.in_operation(project)
    stages.require(project, Stage.SUPERVISION)
    assert codes(project, Stage.SUPERVISION) == ["document:inspection", "inspection"]
    inspect(world, project)
    file(world.staff, project, DocumentKind.INSPECTION)
    approve(world, project, Stage.SUPERVISION)
    project.refresh_from_db()
    assert project.stage == Stage.EVALUATION

    # each approval of 评估 needs one more quarterly evaluation than approvals so far
    file(world.staff, project, DocumentKind.EVALUATION)
    assert codes(project, Stage.EVALUATION) == ["evaluation"]
    for quarter in ("2026Q1", "2026Q2"):
        row = Evaluation(
            project=project, quarter=quarter, total=Decimal("88"), grade="good",
            evaluated_at=project.created_at,
        )  # fmt: skip
        row.area_path = project.area_path
        row.save()
        approve(world, project, Stage.EVALUATION)
        project.refresh_from_db()
        assert project.stage == Stage.EVALUATION and stages.in_operation(project)
        with pytest.raises(Conflict):
            approve(world, project, Stage.EVALUATION)
    assert [s["state"] for s in stages.stepper(project)] == ["done"] * 5


def test_rejecting_the_proposal_ends_the_project_and_frees_the_room(world: World) -> None:
    project = projects.propose(world.staff, proposal(world))
    with pytest.raises(ValidationFailed):  # a rejection gives reasons
        stages.decide(project, Stage.PROPOSAL, "rejected", "  ", world.staff)
    stages.decide(project, Stage.PROPOSAL, "rejected", "选址不当", world.staff)
    project.refresh_from_db()
    assert project.status == ProjectStatus.REJECTED
    with pytest.raises(Conflict):
        stages.require(project, Stage.PROPOSAL)
    with pytest.raises(Conflict):
        approve(world, project, Stage.PROPOSAL)
    # the room is free for another proposal
    projects.propose(world.staff, proposal(world, name="长者食堂（二）"))


def test_rejecting_a_later_stage_keeps_the_project_there(world: World) -> None:
    project = to_call_stage(world)
    stages.decide(project, Stage.CALL, "rejected", "报名不足，重新招募", world.staff)
    project.refresh_from_db()
    assert (project.stage, project.status) == (Stage.CALL, ProjectStatus.OPEN)


def test_only_the_committee_decides(world: World, users: dict[str, Any]) -> None:
    project = projects.propose(world.staff, proposal(world))
    file(world.staff, project, DocumentKind.PROPOSAL)
    with pytest.raises(NotFound):  # another community's staff: as if it did not exist
        stages.decide(project, Stage.PROPOSAL, "approved", "", world.outsider)
    with pytest.raises(NotFound):  # the grid worker does not see the community's projects
        stages.decide(project, Stage.PROPOSAL, "approved", "", users["grid"])
    with pytest.raises(ValidationFailed):
        stages.decide(project, Stage.PROPOSAL, "maybe", "", world.staff)
    with pytest.raises(ValidationFailed):
        stages.decide(project, "launch", "approved", "", world.staff)
    project.refresh_from_db()
    assert project.stage == Stage.PROPOSAL


def test_a_viewer_without_supervise_gets_403(world: World) -> None:
    from .projects_world import staff_user

    viewer = staff_user("branch_like", world.community, role="branch_secretary")
    project = projects.propose(world.staff, proposal(world))
    file(world.staff, project, DocumentKind.PROPOSAL)
    with pytest.raises(PermissionDenied):
        stages.decide(project, Stage.PROPOSAL, "approved", "", viewer)


def test_require_names_the_missing_stage(world: World) -> None:
    project = to_call_stage(world)
    with pytest.raises(Conflict) as refused:
        stages.require(project, Stage.SUPERVISION)
    assert "监管" in refused.value.zh
    stages.require(project, Stage.CALL)
    assert not stages.in_operation(project)
    assert stages.next_stage(Stage.EVALUATION) == Stage.EVALUATION
