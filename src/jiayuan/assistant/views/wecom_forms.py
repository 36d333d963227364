"""Forms of the broadcasts and robots pages. They parse; the rules live in
:mod:`jiayuan.assistant.wecom.broadcasts` and :mod:`~jiayuan.assistant.wecom.robots`."""

from __future__ import annotations

from typing import Any

from django import forms

from ..choices import BroadcastKind

TEXT = {"class": "form-control"}
SELECT = {"class": "form-select"}
WHEN = [("draft", "先存为草稿"), ("now", "立即发送"), ("at", "定时发送")]


class BroadcastForm(forms.Form):
    area = forms.TypedChoiceField(label="宣讲范围", coerce=int, widget=forms.Select(SELECT))
    policy = forms.TypedChoiceField(
        label="来自政策（可选）", coerce=int, required=False, empty_value=None,
        help_text="选择政策后，标题和内容留空即按政策的简介、待遇和受理部门生成",
        widget=forms.Select(SELECT),
    )  # fmt: skip
    kind = forms.ChoiceField(
        label="消息类型", choices=BroadcastKind.choices, widget=forms.Select(SELECT)
    )
    title = forms.CharField(
        label="标题", max_length=100, required=False, widget=forms.TextInput(TEXT)
    )
    content = forms.CharField(
        label="内容", max_length=4096, required=False,
        help_text="文本不超过 2048 字节（约 680 个汉字），Markdown 不超过 4096 字节",
        widget=forms.Textarea({**TEXT, "rows": 6}),
    )  # fmt: skip
    card_url = forms.URLField(
        label="卡片详情链接（模板卡片必填）", max_length=300, required=False,
        assume_scheme="https", widget=forms.URLInput(TEXT),
    )  # fmt: skip
    when = forms.ChoiceField(label="发送", choices=WHEN, widget=forms.Select(SELECT))
    scheduled_at = forms.DateTimeField(
        label="发送时间（定时发送）", required=False,
        widget=forms.DateTimeInput({**TEXT, "type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )  # fmt: skip

    def __init__(
        self,
        *args: Any,
        areas: list[tuple[int, str]],
        policies: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = areas  # type: ignore[attr-defined]
        self.fields["policy"].choices = [("", "（不选）"), *policies]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") == "at" and not data.get("scheduled_at"):
            self.add_error("scheduled_at", "请填写发送时间")
        return data


class RobotForm(forms.Form):
    area = forms.TypedChoiceField(label="所在社区/小区", coerce=int, widget=forms.Select(SELECT))
    name = forms.CharField(label="名称", max_length=60, widget=forms.TextInput(TEXT))
    chat_name = forms.CharField(
        label="群名称", max_length=60, required=False, widget=forms.TextInput(TEXT)
    )
    webhook_key = forms.CharField(
        label="Webhook 地址或密钥", max_length=300,
        help_text="在群里添加机器人后复制其 Webhook 地址粘贴于此；保存后只显示首尾四位",
        widget=forms.PasswordInput({**TEXT, "autocomplete": "off"}),
    )  # fmt: skip

    def __init__(self, *args: Any, areas: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = areas  # type: ignore[attr-defined]
