"""Forms of the request-loop pages: the resident's report (随手拍), staff intake (热线
工单 / 网格巡查), the small form behind each action button, and the list filters.

Forms only parse and check shapes; the domain rules live in ``services`` and come back
as :class:`~jiayuan.core.errors.BilingualError`, which :func:`add_domain_error` puts on
the field it names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet

from jiayuan.core.calendar import MINUTES_PER_WORKDAY
from jiayuan.core.errors import BilingualError
from jiayuan.org.models import Area, Dwelling
from jiayuan.people.models import Person

from .choices import LEVEL_ORDER, Channel, Level, Priority, Satisfaction, Status
from .machine import TRANSITIONS, Transition
from .models import Category, Department, ReturnVisit
from .queries import CaseFilter

MAX_PHOTOS = 6
DAY_MINUTES = MINUTES_PER_WORKDAY  # one working day (8:30–12:00, 13:30–17:30)

# Channels staff type in by hand; the others arrive by their own route.
STAFF_CHANNELS = [
    Channel.HOTLINE,
    Channel.PATROL,
    Channel.DOOR,
    Channel.WECHAT,
    Channel.CONSULTATION,
]

# Where a domain error's ``field`` lands on a page form.
FIELD_ALIASES = {
    "location": "lat",
    "lng": "lat",
    "phone": "reporter_phone",
    "file": "photos",
    "reporter": "resident",
    "proxy": "proxy_name",
}


def add_domain_error(form: forms.Form, exc: BilingualError) -> None:
    """Show a domain error in Chinese on the field it names, or above the form."""
    field = FIELD_ALIASES.get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, exc.zh)


# --- widgets and fields ----------------------------------------------------------------
class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several photos in one input (``<input type=file multiple>``); the type, size and
    EXIF checks are the photo module's (``cases.photos``)."""

    def __init__(self, *args: Any, max_files: int = MAX_PHOTOS, **kwargs: Any) -> None:
        self.max_files = max_files
        attrs = {"accept": "image/jpeg,image/png,image/webp", "class": "form-control"}
        kwargs.setdefault("widget", MultipleFileInput(attrs=attrs))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:  # type: ignore[override]
        single = super().clean
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        cleaned = [single(f, initial) for f in files if f]
        if len(cleaned) > self.max_files:
            raise forms.ValidationError(f"最多上传 {self.max_files} 张照片")
        if self.required and not cleaned:
            raise forms.ValidationError("请上传照片")
        return cleaned


def _text(label: str, *, required: bool = True, max_length: int = 500, rows: int = 3,
          placeholder: str = "") -> forms.CharField:  # fmt: skip
    return forms.CharField(
        label=label,
        required=required,
        max_length=max_length,
        strip=True,
        widget=forms.Textarea(
            attrs={"rows": rows, "class": "form-control", "placeholder": placeholder}
        ),
        error_messages={
            "required": f"请填写{label}",
            "max_length": f"{label}不能超过 %(limit_value)d 字",
        },
    )


def category_choices(*, public_only: bool = False) -> list[Any]:
    """The category tree as grouped choices: a top category with children becomes an
    option group holding its children and itself (as 其他…)."""
    rows = Category.objects.order_by("code")
    if public_only:
        rows = rows.filter(public=True)
    categories = list(rows)
    children: dict[int | None, list[Category]] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c)
    choices: list[Any] = [("", "请选择问题类别")]
    for top in children.get(None, []):
        subs = children.get(top.pk, [])
        if subs:
            group = [(str(c.pk), c.name) for c in subs]
            group.append((str(top.pk), f"其他{top.name}问题"))
            choices.append((top.name, group))
        else:
            choices.append((str(top.pk), top.name))
    return choices


class CategoryField(forms.ChoiceField):
    """A category from the tree (grouped ``<select>``), cleaned to a :class:`Category`."""

    def __init__(self, *, public_only: bool = False, **kwargs: Any) -> None:
        self.public_only = public_only
        kwargs.setdefault("label", "问题类别")
        kwargs.setdefault("error_messages", {"required": "请选择问题类别"})
        super().__init__(choices=[], widget=forms.Select(attrs={"class": "form-select"}), **kwargs)

    def load(self) -> None:
        self.choices = category_choices(public_only=self.public_only)

    def clean(self, value: Any) -> Category:  # type: ignore[override]
        key = super().clean(value)
        rows = Category.objects.filter(pk=int(key))
        if self.public_only:
            rows = rows.filter(public=True)
        category = rows.first()
        if category is None:
            raise forms.ValidationError("请选择问题类别")
        return category


def _coordinate(label: str, low: float, high: float) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        required=False,
        min_value=low,
        max_value=high,
        widget=forms.HiddenInput(),
        error_messages={"invalid": "位置无效", "min_value": "位置无效", "max_value": "位置无效"},
    )


class ReporterMixin(forms.Form):
    """Who reports: a name and a phone, or anonymous."""

    reporter_name = forms.CharField(
        label="姓名",
        required=False,
        max_length=50,
        strip=True,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "name"}),
        error_messages={"max_length": "姓名不能超过 50 字"},
    )
    reporter_phone = forms.CharField(
        label="手机号",
        required=False,
        max_length=20,
        strip=True,
        widget=forms.TextInput(
            attrs={"class": "form-control", "inputmode": "tel", "autocomplete": "tel"}
        ),
    )
    anonymous = forms.BooleanField(
        label="匿名反映",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    require_contact = True

    def clean_reporter_phone(self) -> str:
        from jiayuan.people.services import validate_phone

        raw = self.cleaned_data.get("reporter_phone", "")
        try:
            return validate_phone(raw)
        except BilingualError as exc:
            raise forms.ValidationError(exc.zh) from exc

    def check_contact(self, data: dict[str, Any]) -> None:
        if data.get("anonymous"):
            data["reporter_name"] = ""
            data["reporter_phone"] = ""
            return
        if not self.require_contact:
            return
        if not data.get("reporter_name") and "reporter_name" not in self.errors:
            self.add_error("reporter_name", "请填写姓名，或选择匿名反映")
        if not data.get("reporter_phone") and "reporter_phone" not in self.errors:
            self.add_error("reporter_phone", "请填写手机号，以便告知您办理结果；或选择匿名反映")


# --- intake ----------------------------------------------------------------------------
class ReportForm(ReporterMixin):
    """随手拍: a resident's report from the public page (no login)."""

    category = CategoryField(public_only=True)
    description = _text("问题描述", max_length=1000, rows=4,
                        placeholder="请描述问题：什么地方、什么情况、持续多久")  # fmt: skip
    photos = PhotosField(label="现场照片", max_files=3)
    lat = _coordinate("纬度", -90, 90)
    lng = _coordinate("经度", -180, 180)
    address = forms.CharField(
        label="位置说明",
        required=False,
        max_length=200,
        strip=True,
        widget=forms.TextInput(
            attrs={"class": "form-control", "placeholder": "如：3号楼东侧路灯（选填）"}
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].load()  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("lat") is None or data.get("lng") is None) and "lat" not in self.errors:
            self.add_error("lat", "请在地图上点选问题位置，或使用当前定位")
        self.check_contact(data)
        return data


class IntakeForm(ReporterMixin):
    """Staff intake: a 12345 hotline order, a grid worker's patrol finding (网格巡查), a
    door-knocking visit … located on the map or at a dwelling."""

    require_contact = False

    channel = forms.ChoiceField(
        label="来源渠道",
        choices=[(c.value, c.label) for c in STAFF_CHANNELS],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    category = CategoryField()
    priority = forms.ChoiceField(
        label="紧急程度",
        choices=Priority.choices,
        initial=Priority.NORMAL,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    description = _text("诉求内容", max_length=2000, rows=4)
    source_ref = forms.CharField(
        label="工单编号",
        required=False,
        max_length=40,
        strip=True,
        widget=forms.TextInput(
            attrs={"class": "form-control", "placeholder": "12345 工单号（选填）"}
        ),
    )
    photos = PhotosField(label="现场照片")
    lat = _coordinate("纬度", -90, 90)
    lng = _coordinate("经度", -180, 180)
    grid = forms.ModelChoiceField(
        label="网格",
        queryset=Area.objects.none(),
        required=False,
        empty_label="（按地图选点定位）",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    dwelling = forms.ModelChoiceField(
        label="房屋",
        queryset=Dwelling.objects.none(),
        required=False,
        empty_label="（不指定房屋）",
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": "请选择所选网格内的房屋"},
    )
    address = forms.CharField(
        label="地址",
        required=False,
        max_length=200,
        strip=True,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    # 红色代办: a party member, one of the 三长 or a 党员中心户 files for a resident.
    red_proxy = forms.BooleanField(
        label="红色代办（代居民提交）",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    resident = forms.ModelChoiceField(
        label="代办的居民",
        queryset=Person.objects.none(),
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control", "placeholder": "居民档案编号"}),
        error_messages={"invalid_choice": "找不到该居民，或不在您的服务范围内"},
    )
    proxy_name = forms.CharField(
        label="代办人",
        required=False,
        max_length=50,
        strip=True,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "默认为本人"}),
    )

    def __init__(
        self,
        *args: Any,
        user: Any,
        grids: QuerySet[Area],
        residents: QuerySet[Person] | None = None,
        proxy_only: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.proxy_only = proxy_only
        self.fields["category"].load()  # type: ignore[attr-defined]
        self.fields["grid"].queryset = grids  # type: ignore[attr-defined]
        if residents is not None:
            self.fields["resident"].queryset = residents  # type: ignore[attr-defined]
        if proxy_only:
            # 三长 and 党员中心户 file only for the residents they look after, always as
            # 红色代办, at the resident's home: a short list to choose from.
            self.fields["red_proxy"].initial = True
            self.fields["red_proxy"].disabled = True
            self.fields["resident"].required = True
            self.fields["resident"].error_messages["required"] = "请选择代办的居民"
            self.fields["resident"].widget = forms.Select(attrs={"class": "form-select"})
            self.fields["resident"].empty_label = "请选择居民"  # type: ignore[attr-defined]
            self.fields["resident"].label_from_instance = resident_label  # type: ignore[attr-defined]
        initial_grid = self.initial.get("grid")
        grid_id = self.data.get("grid") if self.is_bound else getattr(initial_grid, "pk", None)
        if grid_id and str(grid_id).isdigit():
            grid = grids.filter(pk=int(grid_id)).first()
            if grid is not None:
                self.fields["dwelling"].queryset = dwellings_of(user, grid)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        has_point = data.get("lat") is not None and data.get("lng") is not None
        at_home = data.get("resident") is not None and data["resident"].dwelling_id is not None
        if not has_point and not data.get("dwelling") and not data.get("grid") and not at_home:
            if "lat" not in self.errors:
                self.add_error("lat", "请在地图上点选位置，或选择网格和房屋")
        if data.get("red_proxy") and not data.get("resident") and not data.get("reporter_name"):
            if "resident" not in self.errors:
                self.add_error("resident", "红色代办请选择或填写代办的居民")
        self.check_contact(data)
        return data


def resident_label(person: Person) -> str:
    """A resident in the 三长's list: name and home, never an ID or phone number."""
    home = str(person.dwelling) if person.dwelling_id is not None else ""
    return f"{person.name}（{home}）" if home else person.name


def dwellings_of(user: Any, grid: Area) -> QuerySet[Dwelling]:
    return (
        Dwelling.objects.visible_to(user)
        .filter(area_path__startswith=grid.path)
        .select_related("unit__parent")
        .order_by("area_path", "floor", "number")
    )


# --- one small form per action ---------------------------------------------------------
class ActionForm(forms.Form):
    """The form behind an action button: its fields become ``perform`` parameters."""

    version = forms.IntegerField(widget=forms.HiddenInput(), required=False)

    def __init__(self, *args: Any, case: Any = None, **kwargs: Any) -> None:
        self.case = case
        super().__init__(*args, **kwargs)

    def params(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.cleaned_data.items()
            if k not in ("version", "photos") and v not in (None, "")
        }


class DispatchForm(ActionForm):
    handler_id = forms.TypedChoiceField(
        label="办理人", coerce=int, required=False, empty_value=None,
        widget=forms.Select(attrs={"class": "form-select"}),
    )  # fmt: skip
    reason = _text("派单说明", required=False, max_length=500)

    def __init__(self, *args: Any, handlers: Iterable[tuple[int, str]] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["handler_id"].choices = [("", "按层级自动派给默认办理人"), *handlers]  # type: ignore[attr-defined]


class TransferForm(ActionForm):
    level = forms.ChoiceField(label="转至层级", widget=forms.Select(attrs={"class": "form-select"}))
    department_id = forms.TypedChoiceField(
        label="职能部门", coerce=int, required=False, empty_value=None,
        widget=forms.Select(attrs={"class": "form-select"}),
    )  # fmt: skip
    reason = _text("转办原因", max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        own = self.case.level if self.case else Level.GRID
        # the same level (another handler) or down; up is 提级帮办, departments below
        levels = [
            lv
            for lv in reversed(Level)
            if LEVEL_ORDER.index(lv) <= LEVEL_ORDER.index(own) and lv != Level.DEPARTMENT
        ]
        self.fields["level"].choices = [  # type: ignore[attr-defined]
            (lv.value, f"{lv.label}（同级转办）" if lv == own else lv.label) for lv in levels
        ]
        self.fields["level"].initial = own
        self.fields["department_id"].choices = [  # type: ignore[attr-defined]
            ("", "不转部门"),
            *[(d.pk, d.name) for d in Department.objects.order_by("code")],
        ]

    def params(self) -> dict[str, Any]:
        params = super().params()
        if params.get("department_id"):
            params.pop("level", None)
        return params


class EscalateForm(ActionForm):
    level = forms.ChoiceField(
        label="提级至", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )
    reason = _text("提级原因", max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = LEVEL_ORDER.index(self.case.level) if self.case else 0
        self.fields["level"].choices = [  # type: ignore[attr-defined]
            ("", "上一层级"),
            *[(lv.value, lv.label) for lv in Level if LEVEL_ORDER.index(lv) > current],
        ]


class DelayForm(ActionForm):
    minutes = forms.TypedChoiceField(
        label="延期时长",
        coerce=int,
        choices=[(DAY_MINUTES * d, f"{d} 个工作日") for d in (1, 2, 3, 5, 10)],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    reason = _text("延期原因", max_length=500)


class HandleForm(ActionForm):
    result = _text("办理结果", max_length=2000, rows=4,
                   placeholder="写明怎么处理的、结果如何，将答复给反映人")  # fmt: skip
    photos = PhotosField(label="办理结果照片")


class ApproveForm(ActionForm):
    note = _text("答复居民的说明", required=False, max_length=300,
                 placeholder="留空则以办理结果答复")  # fmt: skip


class VisitForm(ActionForm):
    satisfaction = forms.ChoiceField(
        label="满意度",
        choices=Satisfaction.choices,
        widget=forms.RadioSelect(attrs={"class": "form-selectgroup-input"}),
        error_messages={"required": "请选择满意度"},
    )
    by = forms.ChoiceField(
        label="回访方式",
        choices=[(ReturnVisit.By.PHONE, "电话回访"), (ReturnVisit.By.DOOR, "上门回访")],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    comment = _text("回访记录", required=False, max_length=500)


class MergeForm(ActionForm):
    into = forms.CharField(
        label="重复的诉求编号",
        max_length=20,
        strip=True,
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "WS20260101-0001"}),
        error_messages={"required": "请填写要合并到的诉求编号"},
    )
    reason = _text("说明", required=False, max_length=500)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        hints = list(getattr(self.case, "duplicate_of_hint", []) or [])
        if hints and not self.is_bound:
            self.fields["into"].initial = hints[0]


# Fields shared by every action that names them on its row of the transition table.
FIELD_BUILDERS: dict[str, Callable[[Transition], forms.Field]] = {
    "reason": lambda row: _text("原因", required=row.needs_reason, max_length=500),
}
# Actions whose form needs more than the shared fields: choices read from the case
# (handlers, levels, departments), initial values, photos, or labels of their own.
SPECIAL_FORMS: dict[str, type[ActionForm]] = {
    "dispatch": DispatchForm,
    "transfer": TransferForm,
    "escalate": EscalateForm,
    "request_delay": DelayForm,
    "handle": HandleForm,
    "approve": ApproveForm,
    "visit": VisitForm,
    "merge": MergeForm,
}


def form_for(row: Transition) -> type[ActionForm]:
    """The form behind an action's button, from its row of the transition table: its
    special form if it has one, else a form of the shared fields the row names (so an
    action that asks only for a reason needs no form class of its own)."""
    if row.action in SPECIAL_FORMS:
        return SPECIAL_FORMS[row.action]
    attrs: dict[str, Any] = {
        name: FIELD_BUILDERS[name](row) for name in row.fields if name in FIELD_BUILDERS
    }
    return type(f"{row.action.title().replace('_', '')}Form", (ActionForm,), attrs)


ACTION_FORMS: dict[str, type[ActionForm]] = {
    action: form_for(row) for action, row in TRANSITIONS.items()
}


# --- the resident's verdict ------------------------------------------------------------
class PublicVisitForm(forms.Form):
    satisfaction = forms.ChoiceField(
        label="您对办理结果满意吗？",
        choices=Satisfaction.choices,
        widget=forms.RadioSelect(attrs={"class": "form-selectgroup-input"}),
        error_messages={"required": "请选择满意度", "invalid_choice": "请选择满意度"},
    )
    comment = _text("还有什么想说的", required=False, max_length=300, rows=2)


# --- list filters ----------------------------------------------------------------------
class CaseFilterForm(forms.Form):
    """Filters of the 全部 tab (GET)."""

    q = forms.CharField(
        label="搜索",
        required=False,
        max_length=40,
        strip=True,
        widget=forms.TextInput(
            attrs={
                "class": "form-control",
                "placeholder": "编号 / 标题 / 内容 / 地址 / 手机号",
                "type": "search",
            }
        ),
    )
    status = forms.ChoiceField(
        label="状态",
        required=False,
        choices=[("", "全部状态"), ("open", "未办结"), *Status.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    category = forms.ChoiceField(
        label="类别", required=False, widget=forms.Select(attrs={"class": "form-select"})
    )
    channel = forms.ChoiceField(
        label="渠道",
        required=False,
        choices=[("", "全部渠道"), *Channel.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    level = forms.ChoiceField(
        label="层级",
        required=False,
        choices=[("", "全部层级"), *Level.choices],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    overdue = forms.BooleanField(
        label="仅看超时",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a top category lists its cases and its sub-categories' (queries.category_q);
        # a sub-category, indented under it, only its own
        rows = Category.objects.order_by("code").values_list("code", "name", "parent_id")
        self.fields["category"].choices = [  # type: ignore[attr-defined]
            ("", "全部类别"),
            *[(code, name if parent is None else f"　{name}") for code, name, parent in rows],
        ]

    def filters(self) -> CaseFilter:
        """The cleaned form as the filter the API takes (:func:`queries.filter_cases`)."""
        data = self.cleaned_data
        status = data.get("status") or ""
        return CaseFilter(
            q=data.get("q") or None,
            status=[status] if status and status != "open" else None,
            open_only=status == "open",
            category=data.get("category") or None,
            channel=data.get("channel") or None,
            level=data.get("level") or None,
            overdue=bool(data.get("overdue")),
        )
