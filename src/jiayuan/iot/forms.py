"""Forms of the device pages: list filters, the alarm action dialog and the rule editor.

The rule form only parses; validation of the conditions and the scope check happen in
:func:`jiayuan.iot.queries.save_rule`, the same path the API takes, and its errors are
put back on the form's fields.
"""

from __future__ import annotations

from typing import Any

from django import forms

from jiayuan.core.errors import BilingualError

from .choices import AlarmStatus, DeviceStatus, MessageKind, RuleKind, Severity
from .models import AlarmRule, DeviceType

BLANK: list[tuple[str, Any]] = [("", "全部")]


class Styled(forms.Form):
    """Tabler classes on every widget, so templates render fields as they are."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{css} {widget.attrs.get('class', '')}".strip()


def type_choices() -> list[tuple[str, str]]:
    return BLANK + list(DeviceType.objects.order_by("code").values_list("code", "name"))


class DeviceFilterForm(Styled):
    q = forms.CharField(label="设备编号", required=False, max_length=64)
    type = forms.ChoiceField(label="类型", required=False)
    status = forms.ChoiceField(label="状态", required=False, choices=BLANK + DeviceStatus.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = type_choices()  # type: ignore[attr-defined]


ALARM_STATUS_CHOICES = [("open", "待处理"), *AlarmStatus.choices, ("all", "全部")]


class AlarmFilterForm(Styled):
    status = forms.ChoiceField(label="状态", required=False, choices=ALARM_STATUS_CHOICES)
    severity = forms.ChoiceField(label="级别", required=False, choices=BLANK + Severity.choices)


class AlarmActionForm(Styled):
    """Acknowledge / clear / false alarm: a note, or the reason a false alarm needs."""

    note = forms.CharField(label="说明", required=False, max_length=300)
    reason = forms.CharField(label="误报原因", required=False, max_length=200)


class RuleForm(Styled):
    """The rule editor (告警规则). ``area`` is the id of an area in the user's scope;
    empty means county-wide."""

    code = forms.RegexField(
        label="编码", regex=r"^[a-z0-9_]{2,40}$", max_length=40,
        help_text="小写字母、数字和下划线",
    )  # fmt: skip
    name = forms.CharField(label="名称", max_length=100)
    kind = forms.ChoiceField(label="规则类型", choices=RuleKind.choices)
    device_type = forms.ChoiceField(label="设备类型", required=False)
    area = forms.ChoiceField(label="适用区域", required=False)
    message_kind = forms.ChoiceField(
        label="消息类型", required=False, choices=[("", "任意"), *MessageKind.choices]
    )
    condition = forms.CharField(
        label="触发条件", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "jy-rule-condition"}),
        help_text='规则语言，例如 event == "alarm" 或 lel >= 25',
    )  # fmt: skip
    clear_condition = forms.CharField(
        label="解除条件", required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "jy-rule-condition"}),
    )  # fmt: skip
    duration_s = forms.IntegerField(label="持续时间(秒)", min_value=0, initial=0)
    count = forms.IntegerField(label="次数", min_value=1, initial=1)
    window_s = forms.IntegerField(label="时间窗(秒)", min_value=0, initial=0)
    window_start = forms.TimeField(label="时段开始", required=False)
    window_end = forms.TimeField(label="时段结束", required=False)
    severity = forms.ChoiceField(label="级别", choices=Severity.choices)
    opens_case = forms.BooleanField(label="生成工单", required=False)
    case_category_code = forms.CharField(label="工单类别编码", required=False, max_length=20)
    escalate_after_min = forms.IntegerField(label="未确认升级(分钟)", required=False, min_value=1)
    enabled = forms.BooleanField(label="启用", required=False, initial=True)
    description = forms.CharField(label="说明", required=False, max_length=300)

    def __init__(self, *args: Any, areas: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["device_type"].choices = [("", "任意类型"), *type_choices()[1:]]  # type: ignore[attr-defined]
        self.fields["area"].choices = areas  # type: ignore[attr-defined]

    @classmethod
    def initial_for(cls, rule: AlarmRule, area_id: int | None) -> dict[str, Any]:
        values = {name: getattr(rule, name) for name in cls.base_fields if hasattr(rule, name)}
        values["device_type"] = rule.device_type.code if rule.device_type else ""
        values["area"] = str(area_id) if area_id else ""
        return values

    def changes(self) -> dict[str, Any]:
        """The cleaned values in the shape :func:`queries.save_rule` takes."""
        data = dict(self.cleaned_data)
        data.pop("code", None)
        data.pop("kind", None)
        data["area"] = int(data["area"]) if data.get("area") else None
        return data

    def add_domain_error(self, exc: BilingualError) -> None:
        field = (exc.field or "").split(".")[0]
        self.add_error(field if field in self.fields else None, exc.zh)
