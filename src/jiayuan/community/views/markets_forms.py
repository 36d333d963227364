"""Forms of the markets pages: a market, a stall, the visitor counts, a co-building unit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from jiayuan.core.forms import add_error  # noqa: F401 - the forms' one home

from ..choices import StallHolder, UnitKind

TEXT = {"class": "form-control"}
SELECT = {"class": "form-select"}


class MarketForm(forms.Form):
    title = forms.CharField(label="集市名称", max_length=120, widget=forms.TextInput(TEXT))
    area = forms.TypedChoiceField(label="举办社区/小区", coerce=int, widget=forms.Select(SELECT))
    position = forms.TypedChoiceField(
        label="服务阵地",
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.Select(SELECT),
    )
    place = forms.CharField(
        label="地点", max_length=200, required=False, widget=forms.TextInput(TEXT)
    )
    day = forms.DateField(
        label="日期", widget=forms.DateInput({"type": "date", **TEXT}, format="%Y-%m-%d")
    )
    start = forms.TimeField(
        label="开始", widget=forms.TimeInput({"type": "time", **TEXT}, format="%H:%M")
    )
    end = forms.TimeField(
        label="结束", widget=forms.TimeInput({"type": "time", **TEXT}, format="%H:%M")
    )

    def __init__(
        self,
        *args: Any,
        areas: list[tuple[int, str]],
        positions: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = areas  # type: ignore[attr-defined]
        self.fields["position"].choices = [("", "（不在阵地）"), *positions]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        day, start, end = data.get("day"), data.get("start"), data.get("end")
        if day and start and end:
            if end <= start:
                self.add_error("end", "结束时间须晚于开始时间")
            elif not dt.date(2000, 1, 1) <= day <= dt.date(9000, 1, 1):
                self.add_error("day", "日期超出范围")
            else:
                data["starts_at"] = timezone.make_aware(dt.datetime.combine(day, start))
                data["ends_at"] = timezone.make_aware(dt.datetime.combine(day, end))
        return data


class StallForm(forms.Form):
    holder_kind = forms.ChoiceField(
        label="摊主类型", choices=StallHolder.choices, widget=forms.Select(SELECT)
    )
    unit = forms.TypedChoiceField(
        label="共建单位", coerce=int, required=False, empty_value=None, widget=forms.Select(SELECT)
    )
    holder_name = forms.CharField(
        label="摊主名称",
        max_length=100,
        required=False,
        help_text="共建单位的摊位可不填(用单位名称)",
        widget=forms.TextInput(TEXT),
    )
    items = forms.MultipleChoiceField(
        label="服务项目", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(
        self, *args: Any, units: list[tuple[int, str]], items: list[tuple[str, Any]], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", "（非共建单位）"), *units]  # type: ignore[attr-defined]
        self.fields["items"].choices = items  # type: ignore[attr-defined]


class UnitForm(forms.Form):
    name = forms.CharField(label="单位名称", max_length=100, widget=forms.TextInput(TEXT))
    kind = forms.ChoiceField(label="类型", choices=UnitKind.choices, widget=forms.Select(SELECT))
    area = forms.TypedChoiceField(label="结对社区", coerce=int, widget=forms.Select(SELECT))
    contact_name = forms.CharField(
        label="联系人", max_length=50, required=False, widget=forms.TextInput(TEXT)
    )
    contact_phone = forms.CharField(
        label="联系电话",
        max_length=20,
        required=False,
        widget=forms.TextInput({"inputmode": "tel", **TEXT}),
    )

    def __init__(self, *args: Any, areas: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = areas  # type: ignore[attr-defined]
