"""The knowledge base's pages: the list by topic with search (/assistant/kb/), an entry
(/assistant/kb/<key>/), and the editor (/assistant/kb/<key>/edit/, /assistant/kb/new/)
for those who may change the catalogue (:func:`jiayuan.core.actions.may_change`, as the
policies' editor). A save bumps the version, names the editor and writes the audit
entry (:func:`jiayuan.core.actions.update` / ``create``); 预览 first shows which test
questions would change answer (:mod:`.kb_preview`)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from jiayuan.core import actions
from jiayuan.core.errors import BilingualError, PermissionDenied
from jiayuan.core.views import page

from .. import asking
from ..choices import Origin, SourceLevel, Topic
from ..models import Entry
from . import kb_preview

KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")
MAX_QUESTIONS = 30


def _require_staff(user: Any) -> None:
    if not asking.is_staff(user):
        raise PermissionDenied("只有工作人员可以查看知识库", "staff only")


def _entry(key: str) -> Entry:
    entry = Entry.objects.select_related("policy", "updated_by").filter(key=key[:60]).first()
    if entry is None:
        raise Http404("知识条目不存在")
    return entry


def _clean_text(value: str) -> str:
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise forms.ValidationError("含有无法识别的字符")
    return value.strip()


class EntryForm(forms.Form):
    key = forms.CharField(label="编号", max_length=60, required=False,
                          help_text="小写字母、数字和连字符，如 yibao-dengdaiqi")  # fmt: skip
    title = forms.CharField(label="标题", max_length=100)
    topic = forms.ChoiceField(label="类别", choices=Topic.choices)
    questions = forms.CharField(label="问法（每行一个）", widget=forms.Textarea(attrs={"rows": 5}),
                                max_length=4000)  # fmt: skip
    answer = forms.CharField(
        label="答复", widget=forms.Textarea(attrs={"rows": 6}), max_length=4000
    )
    source = forms.CharField(label="依据文件", max_length=200)
    article = forms.CharField(label="条款", max_length=100, required=False)
    source_level = forms.ChoiceField(label="发布层级", choices=SourceLevel.choices)
    office = forms.CharField(label="咨询办理部门", max_length=100, required=False)
    hours = forms.CharField(label="办公时间", max_length=100, required=False)
    local_figures = forms.CharField(
        label="本地数额（每行：名称|说明|数值|单位，数值留空表示未知）", required=False,
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
    )  # fmt: skip
    valid_from = forms.DateField(label="生效日期", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip
    valid_until = forms.DateField(label="失效日期", required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))  # fmt: skip
    enabled = forms.BooleanField(label="启用", required=False)

    def __init__(self, *args: Any, new: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new = new
        if not new:
            del self.fields["key"]
        for field in self.fields.values():
            widget = field.widget
            css = "form-control"
            if isinstance(widget, forms.Select):
                css = "form-select"
            elif isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            widget.attrs.setdefault("class", css)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name, value in list(data.items()):
            if isinstance(value, str):
                try:
                    data[name] = _clean_text(value)
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        if self.new:
            key = data.get("key", "")
            if not KEY_RE.match(key or ""):
                self.add_error("key", "编号只能用小写字母、数字和连字符（2–60位）")
            elif Entry.objects.filter(key=key).exists():
                self.add_error("key", "该编号已存在")
        lines = [q.strip() for q in data.get("questions", "").splitlines() if q.strip()]
        if not lines:
            self.add_error("questions", "至少填写一个问法")
        elif len(lines) > MAX_QUESTIONS:
            self.add_error("questions", f"问法不能超过 {MAX_QUESTIONS} 个")
        data["question_list"] = lines
        try:
            data["figure_list"] = parse_figures(data.get("local_figures", ""))
        except ValueError as exc:
            self.add_error("local_figures", str(exc))
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end <= start:
            self.add_error("valid_until", "失效日期应晚于生效日期")
        return data


def parse_figures(text: str) -> list[dict[str, Any]]:
    """``名称|说明|数值|单位`` lines as local figures (an empty value: unknown, ``None``)."""
    out: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4 or not re.match(r"^[a-z][a-z0-9_]{0,29}$", parts[0]):
            raise ValueError(f"第 {n} 行应为 名称|说明|数值|单位，名称用小写字母")
        value: str | None = parts[2] or None
        if value is not None:
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise ValueError(f"第 {n} 行的数值不是数字") from None
            if not number.is_finite() or abs(number) > Decimal("1e12"):
                raise ValueError(f"第 {n} 行的数值超出范围")
        out.append({"name": parts[0], "label": parts[1], "value": value, "unit": parts[3]})
    return out


def figures_text(figures: list[Any]) -> str:
    rows = []
    for f in figures or []:
        if isinstance(f, dict):
            value = "" if f.get("value") is None else str(f.get("value"))
            rows.append(f"{f.get('name', '')}|{f.get('label', '')}|{value}|{f.get('unit', '')}")
    return "\n".join(rows)


def initial_of(entry: Entry) -> dict[str, Any]:
    return {
        "title": entry.title, "topic": entry.topic,
        "questions": "\n".join(str(q) for q in entry.questions or []),
        "answer": entry.answer, "source": entry.source, "article": entry.article,
        "source_level": entry.source_level, "office": entry.office, "hours": entry.hours,
        "local_figures": figures_text(entry.local_figures),
        "valid_from": entry.valid_from, "valid_until": entry.valid_until,
        "enabled": entry.enabled,
    }  # fmt: skip


def changes_of(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": data["title"], "topic": data["topic"], "questions": data["question_list"],
        "answer": data["answer"], "source": data["source"], "article": data.get("article", ""),
        "source_level": data["source_level"], "office": data.get("office", ""),
        "hours": data.get("hours", ""), "local_figures": data["figure_list"],
        "valid_from": data.get("valid_from"), "valid_until": data.get("valid_until"),
        "enabled": bool(data.get("enabled")),
    }  # fmt: skip


# --- pages -------------------------------------------------------------------------------
@page
def kb_list(request: HttpRequest) -> HttpResponse:
    """知识库: the entries by topic, searchable by title, key and question."""
    from ..api.kb import search

    user = request.user
    _require_staff(user)
    topic = request.GET.get("topic", "")[:20]
    text = request.GET.get("q", "")[:50]
    entries = list(search(Entry.objects.all(), topic=topic, text=text).order_by("topic", "key"))
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        groups.setdefault(str(e.get_topic_display()), []).append(e)
    context = {
        "groups": groups,
        "count": len(entries),
        "topics": Topic.choices,
        "topic": topic,
        "q": text,
        "may_edit": actions.may_change(user, Entry()),
    }
    return render(request, "assistant/kb_list.html", context)


@page
def kb_detail(request: HttpRequest, key: str) -> HttpResponse:
    """One entry: its answer, question variants, source and local figures."""
    _require_staff(request.user)
    entry = _entry(key)
    context = {"entry": entry, "may_edit": actions.may_change(request.user, entry)}
    return render(request, "assistant/kb_detail.html", context)


@page
def kb_edit(request: HttpRequest, key: str | None = None) -> HttpResponse:
    """Edit an entry (or write a new one); 预览 shows which test questions would change
    answer, 保存 writes a new version."""
    user = request.user
    _require_staff(user)
    entry = _entry(key) if key is not None else None
    actions.ensure_in_scope(user, entry if entry is not None else Entry())
    new = entry is None
    initial = initial_of(entry) if entry is not None else {"enabled": True}
    form = EntryForm(request.POST or None, new=new, initial=initial)
    result: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changes = changes_of(form.cleaned_data)
            if "preview" in request.POST:
                edited = Entry(key=form.cleaned_data.get("key") or (entry.key if entry else ""),
                               **changes)  # fmt: skip
                result = kb_preview.preview(edited, entry.key if entry else None)
            else:
                try:
                    saved = _save(entry, form.cleaned_data, changes, user)
                except BilingualError as exc:
                    form.add_error(None, exc.zh)
                    status = exc.status
                else:
                    messages.success(request, f"已保存“{saved.title}”第 {saved.version} 版。")
                    return redirect("assistant:kb_detail", saved.key)
        else:
            status = 422
    context = {"form": form, "entry": entry, "new": new, "preview": result}
    return render(request, "assistant/kb_edit.html", context, status=status)


def _save(entry: Entry | None, data: dict[str, Any], changes: dict[str, Any], user: Any) -> Entry:
    if entry is None:
        return actions.create(
            Entry, actor=user, note="知识库新增条目", key=data["key"], origin=Origin.STAFF,
            owner=user, updated_by=user, **changes,
        )  # fmt: skip
    return actions.update(
        entry, actor=user, note="知识库编辑条目", version=entry.version + 1, updated_by=user,
        **changes,
    )  # fmt: skip
