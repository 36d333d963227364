"""Forms of the registry pages: a partner, a qualification, a contact, a document and the
committee's decision on a dismissal proposal. They parse; the rules live in
:mod:`jiayuan.partners.registry` and :mod:`jiayuan.partners.credit`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from ..choices import DocumentKind, PartnerKind

TEXT = {"class": "form-control"}
SELECT = {"class": "form-select"}
DATE = {"type": "date", **TEXT}
EARLIEST = dt.date(1950, 1, 1)
LATEST = dt.date(2100, 12, 31)


def _date(label: str, *, required: bool = False) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, widget=forms.DateInput(DATE, format="%Y-%m-%d")
    )


class _Dates(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, value in list(data.items()):
            if isinstance(value, dt.date) and not EARLIEST <= value <= LATEST:
                self.add_error(name, "日期超出范围")
        return data


class PartnerForm(_Dates):
    kind = forms.ChoiceField(label="类型", choices=PartnerKind.choices, widget=forms.Select(SELECT))
    name = forms.CharField(label="名称", max_length=100, widget=forms.TextInput(TEXT))
    area = forms.TypedChoiceField(label="登记社区/街道", coerce=int, widget=forms.Select(SELECT))
    uscc = forms.CharField(
        label="统一社会信用代码", max_length=40, required=False,
        help_text="18 位；社会组织、诚信商户必填，社区能人可改为关联居民档案，志愿团队可不填",
        widget=forms.TextInput({**TEXT, "autocomplete": "off", "spellcheck": "false"}),
    )  # fmt: skip
    person = forms.IntegerField(
        label="居民档案编号（社区能人）", required=False, min_value=1, max_value=2**63 - 1,
        widget=forms.NumberInput(TEXT),
    )  # fmt: skip
    legal_representative = forms.CharField(
        label="法定代表人/负责人", max_length=50, required=False, widget=forms.TextInput(TEXT)
    )
    address = forms.CharField(
        label="地址", max_length=200, required=False, widget=forms.TextInput(TEXT)
    )
    services = forms.CharField(
        label="服务内容", max_length=2000, required=False,
        widget=forms.Textarea({**TEXT, "rows": 3}),
    )  # fmt: skip
    joined_on = _date("加入日期")

    def __init__(self, *args: Any, areas: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = areas  # type: ignore[attr-defined]


class QualificationForm(_Dates):
    name = forms.CharField(label="资质名称", max_length=100, widget=forms.TextInput(TEXT))
    number = forms.CharField(
        label="证书编号", max_length=64, required=False, widget=forms.TextInput(TEXT)
    )
    issuer = forms.CharField(
        label="发证机关", max_length=100, required=False, widget=forms.TextInput(TEXT)
    )
    issued_on = _date("发证日期")
    expires_on = _date("有效期至")


class ContactForm(forms.Form):
    name = forms.CharField(label="姓名", max_length=50, widget=forms.TextInput(TEXT))
    role = forms.CharField(
        label="职务", max_length=50, required=False, widget=forms.TextInput(TEXT)
    )
    phone = forms.CharField(
        label="电话", max_length=20, required=False,
        widget=forms.TextInput({**TEXT, "autocomplete": "off", "inputmode": "tel"}),
    )  # fmt: skip
    primary = forms.BooleanField(
        label="主要联系人",
        required=False,
        widget=forms.CheckboxInput({"class": "form-check-input"}),
    )


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(
        label="类别", choices=DocumentKind.choices, initial=DocumentKind.LICENSE,
        widget=forms.Select(SELECT),
    )  # fmt: skip
    title = forms.CharField(label="标题", max_length=120, widget=forms.TextInput(TEXT))
    file = forms.FileField(
        label="文件", help_text="PDF、JPEG、PNG 或 Word/Excel/PowerPoint（docx/xlsx/pptx），≤20 MB",
        widget=forms.ClearableFileInput(
            {**TEXT, "accept": ".pdf,.jpg,.jpeg,.png,.docx,.xlsx,.pptx"}
        ),
    )  # fmt: skip


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="党委决定",
        choices=[("decided", "决定清退（协议终止、场地收回、档案冻结）"), ("rejected", "决定保留")],
        widget=forms.RadioSelect({"class": "form-check-input"}),
    )
    reasons = forms.CharField(
        label="理由", max_length=2000, widget=forms.Textarea({**TEXT, "rows": 4})
    )
