"""Forms of the 政策找人 pages: the rule editor, the door-visit form and the list filter.

Forms only parse shapes. Whether an outcome is allowed now, whether a rule is valid and
whether the failed item is one of the match's check items are decided by
:mod:`jiayuan.policies.services` (and the rule checker); their bilingual errors come back
and :func:`add_domain_error` shows the Chinese text on the field they name.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from jiayuan.core.errors import BilingualError

from .choices import MatchStatus
from .models import Match, Policy
from .services import VISIT_OUTCOMES

# The door-visit outcomes in the order a grid worker meets them.
OUTCOME_ORDER = (
    MatchStatus.VISITED,
    MatchStatus.ACCEPTED,
    MatchStatus.GRANTED,
    MatchStatus.REJECTED,
    MatchStatus.DECLINED,
)
# What the worker reads on each button: the status plus what it means at the door.
OUTCOME_HINTS = {
    MatchStatus.VISITED: "已上门告知，待本人准备材料",
    MatchStatus.ACCEPTED: "材料齐全，已提交受理",
    MatchStatus.GRANTED: "已开始享受待遇",
    MatchStatus.REJECTED: "上门核实后不符合条件",
    MatchStatus.DECLINED: "本人明确表示不申请",
}
# The failed item of a match without check items: the rule's recorded facts were wrong.
FACTS_WRONG = "登记信息与实际不符"


def add_domain_error(form: forms.Form, exc: BilingualError) -> None:
    """Show a domain error in Chinese on the field it names, or above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.zh)


def outcome_choices(match: Match) -> list[tuple[str, str]]:
    allowed = VISIT_OUTCOMES.get(match.status, ())
    return [(s.value, str(s.label)) for s in OUTCOME_ORDER if s in allowed]


class RuleForm(forms.Form):
    """The rule editor: the rule text, checked as it is typed (htmx) and on save."""

    rule = forms.CharField(
        label="资格规则",
        max_length=4000,
        strip=True,
        widget=forms.Textarea(
            attrs={
                "rows": 7,
                "class": "form-control jy-rule-input",
                "spellcheck": "false",
                "autocomplete": "off",
                "autocapitalize": "off",
            }
        ),
    )


class VisitForm(forms.Form):
    """The result of a door visit (上门结果) → ``services.record_visit``."""

    outcome = forms.ChoiceField(label="上门结果", widget=forms.RadioSelect)
    since = forms.DateField(
        label="享受起始日期",
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}),
        help_text="办结时填写：待遇从哪一天开始享受。",
    )
    failed_item = forms.ChoiceField(
        label="不符合的核实事项",
        required=False,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    note = forms.CharField(
        label="情况说明",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )

    def __init__(self, *args: Any, match: Match, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.match = match
        outcome: Any = self.fields["outcome"]
        outcome.choices = outcome_choices(match)
        items = list(match.check_items or []) or [FACTS_WRONG]
        failed: Any = self.fields["failed_item"]
        failed.choices = [("", "请选择"), *((i, i) for i in items)]
        self.fields["since"].initial = timezone.localdate()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        outcome = data.get("outcome")
        if outcome == MatchStatus.GRANTED and not data.get("since"):
            self.add_error("since", "办结时请填写享受待遇的起始日期")
        if outcome == MatchStatus.REJECTED and not data.get("failed_item"):
            self.add_error("failed_item", "请选择不符合的核实事项")
        if outcome != MatchStatus.REJECTED:
            data["failed_item"] = ""
        if outcome != MatchStatus.GRANTED:
            data["since"] = None
        return data


STATUS_FILTERS = [
    ("open", "待办"),
    ("overdue", "已逾期"),
    (MatchStatus.PENDING.value, str(MatchStatus.PENDING.label)),
    (MatchStatus.VISITED.value, str(MatchStatus.VISITED.label)),
    (MatchStatus.ACCEPTED.value, str(MatchStatus.ACCEPTED.label)),
    (MatchStatus.UPCOMING.value, str(MatchStatus.UPCOMING.label)),
    (MatchStatus.GRANTED.value, str(MatchStatus.GRANTED.label)),
    (MatchStatus.REJECTED.value, str(MatchStatus.REJECTED.label)),
    (MatchStatus.DECLINED.value, str(MatchStatus.DECLINED.label)),
    (MatchStatus.CLOSED.value, str(MatchStatus.CLOSED.label)),
    ("all", "全部"),
]


class VisitFilterForm(forms.Form):
    """The door-visit list's filter: status, policy and a name."""

    status = forms.ChoiceField(
        label="状态",
        required=False,
        choices=STATUS_FILTERS,
        widget=forms.Select(attrs={"class": "form-select", "aria-label": "状态"}),
    )
    policy = forms.ModelChoiceField(
        label="政策",
        required=False,
        queryset=Policy.objects.order_by("code"),
        to_field_name="code",
        empty_label="全部政策",
        widget=forms.Select(attrs={"class": "form-select", "aria-label": "政策"}),
    )
    q = forms.CharField(
        label="姓名",
        required=False,
        max_length=20,
        widget=forms.TextInput(
            attrs={"class": "form-control", "placeholder": "居民姓名", "aria-label": "居民姓名"}
        ),
    )
