"""Compound deliberation (小区事大家议, 1+3+N, 民事民议民决): matter types with their
thresholds, topics, proposals, meetings with a roster and sign-in, the census, votes,
the resolution and its follow-up tasks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jiayuan.core.models import ScopedModel
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Household, Person

from ..choices import (
    CensusBasis,
    MeetingStatus,
    RosterGroup,
    TaskStatus,
    TopicStatus,
    VoteChoice,
)
from .places import ServicePosition


class MatterType(models.Model):
    """A kind of matter put to the vote, with its thresholds as data.

    Shares are written as fractions (``"2/3"``); ``*_strict`` says whether the share
    must be exceeded (过半数: more than half) or only reached (三分之二以上: in Chinese
    law 以上 includes the number itself, Civil Code art. 1259). ``by_area`` counts the
    floor area of the exclusive parts beside the headcount (the double majority of
    Civil Code art. 278); ``legal_basis`` cites the article and item."""

    code = models.CharField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    legal_basis = models.CharField(_("依据"), max_length=200, blank=True)
    census_basis = models.CharField(
        _("表决单位"), max_length=12, choices=CensusBasis.choices, default=CensusBasis.OWNERS
    )
    by_area = models.BooleanField(_("同时按专有部分面积计"), default=True)
    participation_share = models.CharField(_("参与表决比例"), max_length=10, default="2/3")
    participation_strict = models.BooleanField(_("参与比例须超过"), default=False)
    pass_share = models.CharField(_("同意比例"), max_length=10, default="1/2")
    pass_strict = models.BooleanField(_("同意比例须超过"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("表决事项类型")
        verbose_name_plural = _("表决事项类型")

    def __str__(self) -> str:
        return self.name


class Topic(ScopedModel):
    """A compound's topic (议题): raised, discussed, decided, followed up."""

    zone = models.ForeignKey(Area, on_delete=models.PROTECT, related_name="topics")
    spot = models.ForeignKey(
        ServicePosition, null=True, blank=True, on_delete=models.SET_NULL, related_name="topics"
    )
    title = models.CharField(_("议题"), max_length=120)
    description = models.TextField(_("说明"), blank=True)
    matter_type = models.ForeignKey(MatterType, on_delete=models.PROTECT, related_name="topics")
    status = models.CharField(
        _("状态"), max_length=12, choices=TopicStatus.choices, default=TopicStatus.PROPOSED
    )
    raised_by = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    voting_opens_at = models.DateTimeField(_("表决开始"), null=True, blank=True)
    voting_closes_at = models.DateTimeField(_("表决截止"), null=True, blank=True)
    case_number = models.CharField(_("诉求编号"), max_length=32, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "area_path"])]
        verbose_name = _("议题")
        verbose_name_plural = _("议题")

    def __str__(self) -> str:
        return self.title

    def derive_area_path(self) -> str:
        return self.zone.path


class Proposal(models.Model):
    """A proposal under a topic (方案)."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="proposals")
    title = models.CharField(_("方案"), max_length=120)
    body = models.TextField(_("内容"), blank=True)
    author = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(_("提出人"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("提出时间"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("方案")
        verbose_name_plural = _("方案")

    def __str__(self) -> str:
        return self.title


class Meeting(ScopedModel):
    """A deliberation meeting (议事会) at a spot: agenda, sign-in, quorum, minutes."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="meetings")
    spot = models.ForeignKey(
        ServicePosition, null=True, blank=True, on_delete=models.SET_NULL, related_name="meetings"
    )
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    agenda = models.TextField(_("议程"), blank=True)
    quorum = models.PositiveIntegerField(_("法定人数"), default=0)
    status = models.CharField(
        _("状态"), max_length=12, choices=MeetingStatus.choices, default=MeetingStatus.PLANNED
    )
    minutes = models.TextField(_("会议纪要"), blank=True)
    minutes_published_at = models.DateTimeField(_("纪要公开时间"), null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("议事会议")
        verbose_name_plural = _("议事会议")

    def __str__(self) -> str:
        return f"{self.topic} {self.starts_at:%Y-%m-%d}"

    def derive_area_path(self) -> str:
        return self.topic.area_path


class RosterMember(models.Model):
    """Someone on a meeting's roster (1+3+N), signed in or not."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="roster")
    group = models.CharField(_("身份"), max_length=20, choices=RosterGroup.choices)
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(_("姓名/单位"), max_length=100)
    signed_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)

    class Meta:
        ordering = ["group", "id"]
        verbose_name = _("参会人员")
        verbose_name_plural = _("参会人员")

    def __str__(self) -> str:
        return self.name


class CensusEntry(models.Model):
    """One voter of a topic's census (表决名册): a household, or an owner's exclusive
    part (a dwelling) with its floor area. Taken once when voting opens."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="census")
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dwelling = models.ForeignKey(
        Dwelling, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    voter = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    label = models.CharField(_("户/房号"), max_length=60)
    floor_area = models.DecimalField(_("专有部分面积"), max_digits=9, decimal_places=2, default=0)

    class Meta:
        ordering = ["label", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "household"], name="community_census_one_household"
            ),
            models.UniqueConstraint(
                fields=["topic", "dwelling"], name="community_census_one_dwelling"
            ),
        ]
        verbose_name = _("表决名册")
        verbose_name_plural = _("表决名册")

    def __str__(self) -> str:
        return self.label


class Vote(models.Model):
    """One vote of a census entry: never replaced (one per entry, by a constraint)."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="votes")
    entry = models.ForeignKey(CensusEntry, on_delete=models.CASCADE, related_name="votes")
    proposal = models.ForeignKey(
        Proposal, null=True, blank=True, on_delete=models.SET_NULL, related_name="votes"
    )
    choice = models.CharField(_("意见"), max_length=8, choices=VoteChoice.choices)
    cast_by = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paper = models.BooleanField(_("纸质票"), default=False)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cast_at = models.DateTimeField(_("投票时间"), default=timezone.now)

    class Meta:
        ordering = ["cast_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["topic", "entry"], name="community_vote_one_per_entry")
        ]
        verbose_name = _("表决票")
        verbose_name_plural = _("表决票")

    def __str__(self) -> str:
        return f"{self.entry_id}:{self.choice}"


class Resolution(models.Model):
    """The outcome of a topic's vote (决议), with the tally it was decided on."""

    topic = models.OneToOneField(Topic, on_delete=models.CASCADE, related_name="resolution")
    passed = models.BooleanField(_("通过"))
    tally = models.JSONField(_("计票"), default=dict)
    text = models.TextField(_("决议内容"), blank=True)
    decided_at = models.DateTimeField(_("决议时间"), default=timezone.now)

    class Meta:
        verbose_name = _("决议")
        verbose_name_plural = _("决议")

    def __str__(self) -> str:
        return f"{self.topic_id} {'通过' if self.passed else '未通过'}"


class FollowUpTask(models.Model):
    """A task that carries out a resolution, tracked in public (进度公开)."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("任务"), max_length=120)
    owner = models.CharField(_("责任方"), max_length=100, blank=True)
    due_on = models.DateField(_("完成时限"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    progress = models.PositiveSmallIntegerField(_("进度(%)"), default=0)
    note = models.CharField(_("进展说明"), max_length=300, blank=True)
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = _("落实任务")
        verbose_name_plural = _("落实任务")

    def __str__(self) -> str:
        return self.title
