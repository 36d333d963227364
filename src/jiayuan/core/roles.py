"""Roles a user holds at a node of the area tree, and what each role may do there."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COUNTY_ADMIN = "county_admin", _("县级管理员")
    STREET_LEADER = "street_leader", _("街道领导")
    COMMUNITY_STAFF = "community_staff", _("社区工作者")
    GRID_WORKER = "grid_worker", _("网格员")
    BRANCH_SECRETARY = "branch_secretary", _("小区党支部书记")
    THREE_HEAD = "three_head", _("三长")
    RESIDENT = "resident", _("居民")


class Perm(models.TextChoices):
    VIEW = "view", _("查看")
    CHANGE = "change", _("编辑")
    REVEAL_PII = "reveal_pii", _("查看完整身份证号和电话")
    SUPERVISE = "supervise", _("派单、审核与督办")
    MANAGE_USERS = "manage_users", _("管理账号")
    # Community services in the area: collect and claim wishes, run a compound's
    # deliberation (enter paper votes, sign in, publish minutes), manage activities,
    # check volunteers in, book rooms. The branch secretary and the 三长 hold it.
    SERVE = "serve", _("社区服务")


ROLE_PERMS: dict[str, frozenset[str]] = {
    Role.COUNTY_ADMIN: frozenset(
        {Perm.VIEW, Perm.CHANGE, Perm.REVEAL_PII, Perm.SUPERVISE, Perm.MANAGE_USERS, Perm.SERVE}
    ),
    Role.STREET_LEADER: frozenset(
        {Perm.VIEW, Perm.CHANGE, Perm.REVEAL_PII, Perm.SUPERVISE, Perm.SERVE}
    ),
    Role.COMMUNITY_STAFF: frozenset(
        {Perm.VIEW, Perm.CHANGE, Perm.REVEAL_PII, Perm.SUPERVISE, Perm.SERVE}
    ),
    Role.GRID_WORKER: frozenset({Perm.VIEW, Perm.CHANGE, Perm.SERVE}),
    Role.BRANCH_SECRETARY: frozenset({Perm.VIEW, Perm.SERVE}),
    Role.THREE_HEAD: frozenset({Perm.VIEW, Perm.SERVE}),
    # A resident acts on their own records only; they hold no area-wide permission.
    Role.RESIDENT: frozenset(),
}
