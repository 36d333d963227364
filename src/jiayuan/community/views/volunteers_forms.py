"""Forms of the volunteers' pages: a team, a volunteer's registration, an activity, a
closing report, an hours correction, and a resident found by ID number or name."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from jiayuan.core.errors import NotFound, ValidationFailed
from jiayuan.core.forms import add_error  # noqa: F401 - the forms' one home
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import scope_q
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people import services as people_services
from jiayuan.people.models import Person

from .. import volunteering as vol
from ..choices import ActivityKind, TeamColour
from ..models import Room, ServicePosition, Team

TEXT = {"class": "form-control"}
SELECT = {"class": "form-select"}


def areas_for(user: Any, kinds: tuple[str, ...]) -> QuerySet[Area]:
    """Areas of ``kinds`` where ``user`` serves (Perm.SERVE), in tree order."""
    return Area.objects.filter(scope_q(user, Perm.SERVE, field="path"), kind__in=kinds).order_by(
        "path"
    )


def split_labels(text: str) -> list[str]:
    """``"理发, 量血压；陪聊"`` → ``["理发", "量血压", "陪聊"]``."""
    for sep in "，、；;":
        text = text.replace(sep, ",")
    return [part.strip() for part in text.split(",") if part.strip()]


def find_person(user: Any, term: str, field: str) -> Person:
    """The one resident of the user's scope matching ``term`` (ID number, phone or name)."""
    found = list(people_services.search(Person.objects.visible_to(user), term)[:2])
    if not found:
        raise NotFound("在您的管辖范围内没有找到该居民", "no such person", field=field)
    if len(found) > 1:
        raise ValidationFailed(
            "找到多位同名居民，请输入身份证号",
            "several persons match; give the ID number",
            field=field,
        )
    return found[0]


class TeamForm(forms.Form):
    area = forms.ModelChoiceField(
        Area.objects.none(), label="所在社区", widget=forms.Select(SELECT)
    )
    name = forms.CharField(label="名称", max_length=100, widget=forms.TextInput(TEXT))
    colour = forms.ChoiceField(
        label="色系", choices=TeamColour.choices, widget=forms.Select(SELECT)
    )
    description = forms.CharField(
        label="简介", max_length=2000, required=False, widget=forms.Textarea(TEXT | {"rows": 2})
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["area"]
        field.queryset = areas_for(user, (AreaKind.COMMUNITY,))


class VolunteerForm(forms.Form):
    person = forms.CharField(
        label="居民",
        max_length=50,
        widget=forms.TextInput(
            TEXT | {"placeholder": "身份证号 / 手机号 / 姓名", "autocomplete": "off"}
        ),
    )
    guardian = forms.CharField(
        label="监护人（未满18周岁必填）",
        max_length=50,
        required=False,
        widget=forms.TextInput(
            TEXT | {"placeholder": "监护人身份证号 / 姓名", "autocomplete": "off"}
        ),
    )
    teams = forms.ModelMultipleChoiceField(
        Team.objects.none(),
        label="服务队",
        required=False,
        widget=forms.SelectMultiple(SELECT | {"size": 4}),
    )
    skills = forms.CharField(
        label="技能",
        max_length=400,
        required=False,
        widget=forms.TextInput(TEXT | {"placeholder": "如：理发，量血压"}),
    )
    availability = forms.CharField(
        label="可服务时间",
        max_length=400,
        required=False,
        widget=forms.TextInput(TEXT | {"placeholder": "如：周末上午"}),
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["teams"]
        field.queryset = vol.teams_for(user, Perm.SERVE).order_by("area_path", "colour", "name")


class VolunteerEditForm(forms.Form):
    teams = forms.ModelMultipleChoiceField(
        Team.objects.none(),
        label="服务队",
        required=False,
        widget=forms.SelectMultiple(SELECT | {"size": 4}),
    )
    skills = forms.CharField(
        label="技能", max_length=400, required=False, widget=forms.TextInput(TEXT)
    )
    availability = forms.CharField(
        label="可服务时间", max_length=400, required=False, widget=forms.TextInput(TEXT)
    )
    active = forms.BooleanField(
        label="在册", required=False, widget=forms.CheckboxInput({"class": "form-check-input"})
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["teams"]
        field.queryset = vol.teams_for(user, Perm.SERVE).order_by("area_path", "colour", "name")


class ActivityForm(forms.Form):
    title = forms.CharField(label="活动名称", max_length=120, widget=forms.TextInput(TEXT))
    kind = forms.ChoiceField(
        label="类型", choices=ActivityKind.choices, widget=forms.Select(SELECT)
    )
    area = forms.ModelChoiceField(
        Area.objects.none(), label="所在社区/小区", widget=forms.Select(SELECT)
    )
    team = forms.ModelChoiceField(
        Team.objects.none(), label="服务队", required=False, widget=forms.Select(SELECT)
    )
    position = forms.ModelChoiceField(
        ServicePosition.objects.none(),
        label="服务阵地",
        required=False,
        widget=forms.Select(SELECT),
    )
    room = forms.ModelChoiceField(
        Room.objects.none(), label="预约活动室", required=False, widget=forms.Select(SELECT)
    )
    place = forms.CharField(
        label="地点", max_length=200, required=False, widget=forms.TextInput(TEXT)
    )
    target_groups = forms.CharField(
        label="服务对象",
        max_length=400,
        required=False,
        widget=forms.TextInput(TEXT | {"placeholder": "如：高龄老人，留守儿童"}),
    )
    starts_at = forms.DateTimeField(
        label="开始时间", widget=forms.DateTimeInput(TEXT | {"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label="结束时间", widget=forms.DateTimeInput(TEXT | {"type": "datetime-local"})
    )
    capacity = forms.IntegerField(
        label="名额",
        min_value=1,
        max_value=vol.MAX_CAPACITY,
        initial=30,
        widget=forms.NumberInput(TEXT),
    )
    hours = forms.DecimalField(
        label="志愿时长(小时)",
        min_value=Decimal("0.1"),
        max_value=vol.MAX_HOURS,
        max_digits=4,
        decimal_places=1,
        initial=Decimal("2"),
        widget=forms.NumberInput(TEXT | {"step": "0.1"}),
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["area"].queryset = areas_for(user, (AreaKind.COMMUNITY, AreaKind.ZONE))
        fields["team"].queryset = vol.teams_for(user, Perm.SERVE).order_by("area_path", "name")
        fields["position"].queryset = ServicePosition.objects.filter(
            scope_q(user, Perm.SERVE), active=True
        ).order_by("area_path", "name")
        fields["room"].queryset = (
            Room.objects.filter(scope_q(user, Perm.SERVE), bookable=True)
            .select_related("position")
            .order_by("area_path", "name")
        )
        fields["room"].label_from_instance = lambda r: f"{r.position.name} · {r.name}"
        if not self.is_bound:
            start = (timezone.localtime() + dt.timedelta(days=1)).replace(
                hour=9, minute=0, second=0, microsecond=0
            )
            self.initial.setdefault("starts_at", start.strftime("%Y-%m-%dT%H:%M"))
            self.initial.setdefault(
                "ends_at", (start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
            )


class CloseForm(forms.Form):
    report = forms.CharField(
        label="活动小结", max_length=4000, required=False, widget=forms.Textarea(TEXT | {"rows": 3})
    )


class CorrectionForm(forms.Form):
    hours = forms.DecimalField(
        label="更正时长(小时，负数为扣减)",
        min_value=-vol.MAX_CORRECTION,
        max_value=vol.MAX_CORRECTION,
        max_digits=6,
        decimal_places=1,
        widget=forms.NumberInput(TEXT | {"step": "0.1"}),
    )
    reason = forms.CharField(label="更正原因", max_length=200, widget=forms.TextInput(TEXT))


class PersonForm(forms.Form):
    person = forms.CharField(
        label="居民",
        max_length=50,
        widget=forms.TextInput(
            TEXT | {"placeholder": "身份证号 / 手机号 / 姓名", "autocomplete": "off"}
        ),
    )
