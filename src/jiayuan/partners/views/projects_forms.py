"""Forms of the projects pages: a proposal, a stage decision, a document, an open call,
an application, a panel member's scores, the selection and the agreement's terms. They
parse; the actions in :mod:`jiayuan.partners` check."""

from __future__ import annotations

from typing import Any

from django import forms

from jiayuan.core.forms import add_error  # noqa: F401 - the forms' one home
from jiayuan.core.roles import ROLE_PERMS, Perm
from jiayuan.org.models import Area, Membership
from jiayuan.org.paths import paths_above

from ..choices import Decision, PriceClass
from ..projects import GROUPS, STAGE_KINDS

TEXT = {"class": "form-control"}
SELECT = {"class": "form-select"}
WEEKDAYS = [
    (str(i), w) for i, w in enumerate(("周一", "周二", "周三", "周四", "周五", "周六", "周日"), 1)
]
CRITERIA_ROWS = 5


class ProjectForm(forms.Form):
    name = forms.CharField(label="项目名称", max_length=100, widget=forms.TextInput(TEXT))
    content = forms.CharField(
        label="服务内容", max_length=4000, widget=forms.Textarea({**TEXT, "rows": 3})
    )
    area = forms.ChoiceField(label="社区", widget=forms.Select(SELECT))
    space = forms.ChoiceField(label="场地（阵地或活动室）", widget=forms.Select(SELECT))
    days = forms.MultipleChoiceField(
        label="使用日", choices=WEEKDAYS, required=False, widget=forms.CheckboxSelectMultiple
    )
    start = forms.TimeField(
        label="开始",
        required=False,
        widget=forms.TimeInput({"type": "time", **TEXT}, format="%H:%M"),
    )
    end = forms.TimeField(
        label="结束",
        required=False,
        widget=forms.TimeInput({"type": "time", **TEXT}, format="%H:%M"),
    )
    price_class = forms.ChoiceField(
        label="价格类别", choices=PriceClass.choices, widget=forms.Select(SELECT)
    )
    price_cap = forms.CharField(
        label="限价(元)",
        required=False,
        max_length=40,
        widget=forms.TextInput(TEXT),
        help_text="免费项目不填；低偿、微利项目必填",
    )
    target_groups = forms.MultipleChoiceField(
        label="服务对象（一老一小）",
        choices=[(g, g) for g in GROUPS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    budget = forms.CharField(
        label="预算(元)", required=False, max_length=40, widget=forms.TextInput(TEXT)
    )
    fund = forms.ChoiceField(label="资金来源", required=False, widget=forms.Select(SELECT))

    def __init__(
        self,
        *args: Any,
        areas: list[Area],
        spaces: list[tuple[str, str]],
        funds: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = [(str(a.pk), a.name) for a in areas]  # type: ignore[attr-defined]
        self.fields["space"].choices = [("", "—"), *spaces]  # type: ignore[attr-defined]
        self.fields["fund"].choices = [("", "不使用资金"), *funds]  # type: ignore[attr-defined]

    def hours(self) -> dict[str, Any]:
        data = self.cleaned_data
        if not data.get("days") or not data.get("start") or not data.get("end"):
            return {}
        span = [data["start"].strftime("%H:%M"), data["end"].strftime("%H:%M")]
        return {day: [span] for day in data["days"]}

    def project_input(self) -> Any:
        from ..projects import ProjectInput

        data = self.cleaned_data
        kind, _sep, pk = (data.get("space") or "").partition(":")
        return ProjectInput(
            name=data["name"],
            content=data["content"],
            area_id=data["area"],
            position_id=pk if kind == "position" else None,
            room_id=pk if kind == "room" else None,
            hours=self.hours(),
            price_class=data["price_class"],
            price_cap=data.get("price_cap") or None,
            target_groups=list(data.get("target_groups") or []),
            budget=data.get("budget") or None,
            fund_id=data.get("fund") or None,
        )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="决定", choices=Decision.choices, widget=forms.Select(SELECT)
    )
    reasons = forms.CharField(
        label="理由", required=False, max_length=2000, widget=forms.Textarea({**TEXT, "rows": 2})
    )


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label="类别", widget=forms.Select(SELECT))
    title = forms.CharField(label="标题", max_length=120, widget=forms.TextInput(TEXT))
    file = forms.FileField(label="文件（PDF、JPEG/PNG、Word/Excel）", widget=forms.FileInput(TEXT))

    def __init__(self, *args: Any, stage: str, operating: bool = False, **kwargs: Any) -> None:
        from ..choices import DocumentKind

        super().__init__(*args, **kwargs)
        kinds = list(STAGE_KINDS[stage])
        if operating and DocumentKind.AGREEMENT not in kinds:
            kinds.insert(0, DocumentKind.AGREEMENT)
        self.fields["kind"].choices = [(k, DocumentKind(k).label) for k in kinds]  # type: ignore[attr-defined]


def panel_candidates(path: str) -> list[Any]:
    """The users who see a project at ``path`` (VIEW at it or above): its possible panel."""
    from django.contrib.auth import get_user_model

    above = paths_above(path)
    roles = [r for r, perms in ROLE_PERMS.items() if Perm.VIEW in perms]
    ids = Membership.objects.filter(active=True, area_path__in=above, role__in=roles).values(
        "user_id"
    )
    return list(get_user_model().objects.filter(pk__in=ids, is_active=True).order_by("username"))


class CallForm(forms.Form):
    title = forms.CharField(label="公告标题", max_length=120, widget=forms.TextInput(TEXT))
    text = forms.CharField(
        label="公告内容",
        required=False,
        max_length=4000,
        widget=forms.Textarea({**TEXT, "rows": 3}),
    )
    closes_at = forms.DateTimeField(
        label="报名截止",
        widget=forms.DateTimeInput({"type": "datetime-local", **TEXT}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    panel = forms.MultipleChoiceField(label="评审组", widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, candidates: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = [(str(u.pk), u.get_full_name() or u.username) for u in candidates]
        self.fields["panel"].choices = names  # type: ignore[attr-defined]
        for i in range(1, CRITERIA_ROWS + 1):
            self.fields[f"label_{i}"] = forms.CharField(
                label=f"评分项 {i}", required=False, max_length=50, widget=forms.TextInput(TEXT)
            )
            self.fields[f"weight_{i}"] = forms.CharField(
                label=f"权重 {i}", required=False, max_length=10, widget=forms.TextInput(TEXT)
            )

    def criteria(self) -> list[dict[str, Any]]:
        rows = []
        for i in range(1, CRITERIA_ROWS + 1):
            label = self.cleaned_data.get(f"label_{i}") or ""
            weight = self.cleaned_data.get(f"weight_{i}") or ""
            if label or weight:
                rows.append({"key": f"c{i}", "label": label, "weight": weight})
        return rows

    def criteria_rows(self) -> list[tuple[Any, Any]]:
        return [(self[f"label_{i}"], self[f"weight_{i}"]) for i in range(1, CRITERIA_ROWS + 1)]


class ApplicationForm(forms.Form):
    partner = forms.ChoiceField(label="合伙人", widget=forms.Select(SELECT))
    plan = forms.CharField(
        label="服务方案", max_length=4000, widget=forms.Textarea({**TEXT, "rows": 2})
    )
    offered_price = forms.CharField(
        label="报价(元)", required=False, max_length=40, widget=forms.TextInput(TEXT)
    )

    def __init__(self, *args: Any, partners: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["partner"].choices = [(str(p.pk), p.name) for p in partners]  # type: ignore[attr-defined]


class SelectionForm(forms.Form):
    application = forms.ChoiceField(label="选定", required=False, widget=forms.Select(SELECT))
    reasons = forms.CharField(
        label="理由（未选得分最高者时必填）",
        required=False,
        max_length=2000,
        widget=forms.Textarea({**TEXT, "rows": 2}),
    )

    def __init__(self, *args: Any, ranked: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["application"].choices = [  # type: ignore[attr-defined]
            (
                str(r.application.pk),
                f"第{r.rank}名 {r.application.partner.name}（{r.total_decimal}）",
            )
            for r in ranked
        ]


class PublishForm(forms.Form):
    title = forms.CharField(
        label="公示标题", required=False, max_length=120, widget=forms.TextInput(TEXT)
    )
    file = forms.FileField(label="公示文件", widget=forms.FileInput(TEXT))


class TermsForm(forms.Form):
    starts_on = forms.DateField(
        label="开始日期", widget=forms.DateInput({"type": "date", **TEXT}, format="%Y-%m-%d")
    )
    ends_on = forms.DateField(
        label="到期日期", widget=forms.DateInput({"type": "date", **TEXT}, format="%Y-%m-%d")
    )
    obligations = forms.CharField(
        label="双方义务", max_length=4000, widget=forms.Textarea({**TEXT, "rows": 3})
    )
    price_cap = forms.CharField(
        label="限价(元)",
        required=False,
        max_length=40,
        widget=forms.TextInput(TEXT),
        help_text="不高于项目限价；不填则同项目限价",
    )
    exit_conditions = forms.CharField(
        label="退出条件", max_length=2000, widget=forms.Textarea({**TEXT, "rows": 2})
    )
    warning_threshold = forms.CharField(
        label="预警信用分", required=False, max_length=10, widget=forms.TextInput(TEXT)
    )
    dismissal_threshold = forms.CharField(
        label="清退信用分", required=False, max_length=10, widget=forms.TextInput(TEXT)
    )
