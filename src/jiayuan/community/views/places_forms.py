"""Forms of the places pages: a room booking (once or recurring) and the filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from jiayuan.core.errors import BilingualError

from ..choices import PositionKind

REPEATS = [
    ("", "不重复"),
    ("DAILY", "每天"),
    ("WEEKLY", "每周"),
    ("MONTHLY", "每月"),
    ("RULE", "自定义规则(RRULE)"),
]
BOOTSTRAP = {"class": "form-control"}


class BookingForm(forms.Form):
    """A booking of a room: a day, a span, and optionally a repetition until a date (or an
    RFC 5545 rule typed in)."""

    title = forms.CharField(label="用途", max_length=100, widget=forms.TextInput(BOOTSTRAP))
    organiser = forms.CharField(
        label="组织方", max_length=100, required=False, widget=forms.TextInput(BOOTSTRAP)
    )
    day = forms.DateField(
        label="日期", widget=forms.DateInput({"type": "date", **BOOTSTRAP}, format="%Y-%m-%d")
    )
    start = forms.TimeField(
        label="开始", widget=forms.TimeInput({"type": "time", **BOOTSTRAP}, format="%H:%M")
    )
    end = forms.TimeField(
        label="结束", widget=forms.TimeInput({"type": "time", **BOOTSTRAP}, format="%H:%M")
    )
    attendees = forms.IntegerField(
        label="预计人数",
        min_value=0,
        max_value=100_000,
        initial=0,
        widget=forms.NumberInput(BOOTSTRAP),
    )
    repeat = forms.ChoiceField(
        label="重复", choices=REPEATS, required=False, widget=forms.Select({"class": "form-select"})
    )
    until = forms.DateField(
        label="重复至",
        required=False,
        widget=forms.DateInput({"type": "date", **BOOTSTRAP}, format="%Y-%m-%d"),
    )
    rule = forms.CharField(
        label="重复规则",
        max_length=200,
        required=False,
        help_text="如 FREQ=WEEKLY;BYDAY=TU;UNTIL=20270301，须有 COUNT 或 UNTIL",
        widget=forms.TextInput({"placeholder": "FREQ=WEEKLY;BYDAY=TU;COUNT=10", **BOOTSTRAP}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        day, start, end = data.get("day"), data.get("start"), data.get("end")
        if day and not dt.date(2000, 1, 1) <= day <= dt.date(9000, 1, 1):
            self.add_error("day", "日期超出范围")
            return data
        if day and start and end:
            data["starts_at"] = timezone.make_aware(dt.datetime.combine(day, start))
            end_day = day if end > start else day + dt.timedelta(days=1)
            if end == dt.time(0, 0):
                end_day = day + dt.timedelta(days=1)
            elif end <= start:
                self.add_error("end", "结束时间须晚于开始时间")
            data["ends_at"] = timezone.make_aware(dt.datetime.combine(end_day, end))
        repeat = data.get("repeat") or ""
        until = data.get("until")
        if repeat in ("DAILY", "WEEKLY", "MONTHLY"):
            if until is None:
                self.add_error("until", "重复预约请填写“重复至”日期")
            elif until.year > 9000:
                self.add_error("until", "日期超出范围")
            else:
                data["rule_text"] = f"FREQ={repeat};UNTIL={until:%Y%m%d}T235959"
        elif repeat == "RULE":
            if not data.get("rule"):
                self.add_error("rule", "请填写重复规则")
            data["rule_text"] = data.get("rule") or ""
        else:
            data["rule_text"] = ""
        return data


def add_error(form: forms.Form, exc: BilingualError) -> None:
    """A domain refusal shown on the field it names (or on the whole form)."""
    names = {
        "starts_at": "day",
        "ends_at": "end",
        "rule": "rule",
        "title": "title",
        "attendees": "attendees",
        "organiser": "organiser",
    }
    field = names.get(exc.field or "")
    if field == "rule" and form.cleaned_data.get("repeat") != "RULE":
        field = "until"
    form.add_error(field, exc.zh)


class PlaceFilter(forms.Form):
    kind = forms.ChoiceField(
        label="类型",
        choices=[("", "全部类型"), *PositionKind.choices],
        required=False,
        widget=forms.Select({"class": "form-select"}),
    )
    q = forms.CharField(
        label="名称",
        max_length=50,
        required=False,
        widget=forms.TextInput({"placeholder": "名称或地址", **BOOTSTRAP}),
    )


def parse_day(value: str | None, default: dt.date) -> dt.date:
    """``?date=2027-03-02`` → a date within 2000 … 2100, else ``default``."""
    try:
        day = dt.date.fromisoformat(value or "")
    except ValueError:
        return default
    return day if dt.date(2000, 1, 1) <= day <= dt.date(2100, 1, 1) else default
