"""Home (首页), the person page (居民详情), the audited reveal of personal numbers, and
resident search."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.core.views import page, scoped_get_or_404
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from . import overview, services
from .area_views import (
    CHILD_COLUMNS,
    COLUMN_LABELS,
    breadcrumbs,
    child_rows,
    map_features,
    mark_linkable,
    scope_roots,
    tag_css,
)
from .forms import SearchForm
from .models import (
    CentralHousehold,
    Force,
    HouseholdTag,
    Person,
    PersonTag,
    Position,
    Residence,
)
from .panels import render_person_panels

SEARCH_LIMIT = 100
AUDIT_LIMIT = 50
# Labels for tag attribute keys (see shared/policies.md); unknown keys show as they are.
ATTRIBUTE_LABELS = {
    "category": "类别",
    "grade": "等级",
    "kind": "类型",
    "enlisted_on": "入伍日期",
    "cause": "致残原因",
    "diagnosed_on": "诊断日期",
    "contribution_years": "缴费年限",
    "level": "等级",
    "organisation": "所在单位",
}
# A term with this many digits may be an ID or phone number: never take it from a URL.
PERSONAL_DIGITS = re.compile(r"\d{6,}")


def home_context(user: Any) -> dict[str, Any]:
    """The counts of the user's scope (the same as ``GET /api/v1/overview``), the age
    structure and links into their areas: what 首页 shows, and what the command app's
    desk (工作台) shows under the day's work."""
    values = overview.counts(user)
    shown = [
        item
        for item in overview.labelled(values)
        # A grid worker has no streets or communities below them: no "0 街道" cards.
        if item[2] or item[0] not in ("streets", "communities", "party_branches", "grids")
    ]
    roots = list(scope_roots(user).order_by("path"))
    sections: list[dict[str, Any]] = []
    features = None
    for root in roots[:12]:
        node, children = descend(user, root)
        if not sections:
            features = map_features(node, children)
        columns = [c for c in CHILD_COLUMNS.get(node.kind, []) if c in ("grids", "residents")]
        sections.append(
            {
                "root": node,
                "children": child_rows(user, children, columns, under=node.path),
                "columns": [(c, COLUMN_LABELS[c]) for c in columns],
            }
        )
    memberships = list(
        user.memberships.filter(active=True).select_related("area")  # type: ignore[union-attr]
    )
    return {
        "counts": shown,
        "sections": sections,
        "memberships": memberships,
        "ages": overview.age_structure(user),
        "features": features,
    }


@page
def home(request: HttpRequest) -> HttpResponse:
    """首页 without the desk: the counts of :func:`home_context`. ``/`` is answered by the
    command app's desk, which leads with the day's work and includes these counts."""
    return render(request, "people/home.html", home_context(request.user))


def descend(user: Any, root: Area, limit: int = 60) -> tuple[Area, list[Area]]:
    """The first area from ``root`` down that has more than one child, and its children:
    a county with one street shows that street's communities."""
    node = root
    while True:
        children = list(Area.objects.visible_to(user).filter(parent=node).order_by("code")[:limit])
        if len(children) != 1 or node.kind == AreaKind.GRID:
            return node, children
        node = children[0]


def tag_attributes(assignment: PersonTag | HouseholdTag) -> list[tuple[str, Any]]:
    """``(label, value)`` pairs of a tag's attribute values, in the tag's declared order."""
    declared: dict[str, str] = {}
    for item in assignment.tag.attributes or []:
        if isinstance(item, dict):
            key = item.get("key") or item.get("code") or item.get("name")
            if key:
                declared[str(key)] = str(item.get("label") or item.get("name") or key)
        else:
            declared[str(item)] = ATTRIBUTE_LABELS.get(str(item), str(item))
    values = assignment.attributes or {}
    order = [k for k in declared if k in values] + [k for k in values if k not in declared]
    return [(declared.get(k) or ATTRIBUTE_LABELS.get(k) or k, values[k]) for k in order]


def address(person: Person) -> str:
    """楼栋 单元 房号, from the dwelling the person lives in."""
    dwelling = person.dwelling
    if dwelling is None:
        return ""
    unit = dwelling.unit
    building = unit.parent
    parts = [building.name if building else "", unit.name, str(dwelling)]
    return " ".join(p for p in parts if p)


@page
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """居民详情: masked numbers (reveal button if permitted), tags, household, residence
    history, positions and the audit timeline."""
    user = request.user
    person = scoped_get_or_404(
        Person.objects.visible_to(user).select_related(
            "area", "dwelling__unit__parent", "household__dwelling"
        ),
        pk=pk,
    )
    tags = [
        (t, tag_attributes(t), tag_css(t.tag.category))
        for t in PersonTag.objects.visible_to(user).filter(person=person).select_related("tag")
    ]
    household_tags: list[tuple[HouseholdTag, list[tuple[str, Any]], str]] = []
    members: list[Person] = []
    if person.household_id:
        household_tags = [
            (t, tag_attributes(t), tag_css(t.tag.category))
            for t in HouseholdTag.objects.visible_to(user)
            .filter(household_id=person.household_id)
            .select_related("tag")
        ]
        members = list(
            Person.objects.visible_to(user)
            .filter(household_id=person.household_id)
            .exclude(pk=person.pk)
            .order_by("relation", "birth_date")
        )
    residences = list(
        Residence.objects.visible_to(user)
        .filter(person=person)
        .select_related("dwelling__unit__parent", "household")
        .order_by("-since", "-pk")
    )
    positions = list(
        Position.objects.visible_to(user)
        .filter(person=person)
        .select_related("area")
        .order_by("end", "-start")
    )
    served_by = list(
        CentralHousehold.objects.visible_to(user)
        .filter(households=person.household_id)
        .select_related("person")
        if person.household_id
        else []
    )
    for c in served_by:
        mark_linkable(user, c.person)
    is_central = CentralHousehold.objects.visible_to(user).filter(person=person).first()
    forces = list(Force.objects.visible_to(user).filter(person=person).select_related("area"))
    audit = list(
        AuditEntry.objects.for_object(person).visible_to(user).select_related("actor")[:AUDIT_LIMIT]
    )
    allowed_area = path_allowed(user, person.area.path)
    context = {
        "person": person,
        "address": address(person),
        "can_reveal": path_allowed(user, person.area_path, Perm.REVEAL_PII),
        "tags": tags,
        "household_tags": household_tags,
        "members": members,
        "residences": residences,
        "positions": positions,
        "served_by": served_by,
        "central": is_central,
        "forces": forces,
        "audit": [(entry, audit_summary(entry)) for entry in audit],
        "crumbs": [*breadcrumbs(user, person.area), (person.area, allowed_area)],
        # cards the apps above people contribute (政策匹配 …), see people/panels.py
        "panels": render_person_panels(request, person),
    }
    return render(request, "people/person.html", context)


# Labels of audited values that are not model fields (masked PII from ``audit_extra``).
EXTRA_FIELD_LABELS = {"id_number": "身份证号", "phone": "电话", "user_id": "关联账号"}
ACTION_COLORS: dict[str, str] = {
    AuditEntry.Action.CREATE: "bg-green",
    AuditEntry.Action.UPDATE: "bg-blue",
    AuditEntry.Action.DELETE: "bg-red",
    AuditEntry.Action.REVEAL: "bg-orange",
}


def field_label(name: str) -> str:
    if name in EXTRA_FIELD_LABELS:
        return EXTRA_FIELD_LABELS[name]
    for field in Person._meta.concrete_fields:
        if name in (field.name, field.attname):
            return str(field.verbose_name)
    return name


def is_reference(name: str) -> bool:
    """Foreign keys are audited as ids, which mean nothing on a page."""
    return any(name == f.attname and f.is_relation for f in Person._meta.concrete_fields)


def audit_summary(entry: AuditEntry) -> dict[str, Any]:
    """What an audit entry says, for the person page's timeline."""
    changes = entry.changes or {}
    lines: list[str] = []
    if entry.action == AuditEntry.Action.UPDATE:
        for name, pair in list(changes.items())[:6]:
            if is_reference(name):
                lines.append(f"{field_label(name)}：已变更")
            elif isinstance(pair, list) and len(pair) == 2:
                before, after = ("—" if v in (None, "") else v for v in pair)
                lines.append(f"{field_label(name)}：{before} → {after}")
    elif entry.action == AuditEntry.Action.REVEAL:
        fields = changes.get("fields") or []
        lines.append("查看了完整的" + "、".join(field_label(f) for f in fields))
    return {
        "color": ACTION_COLORS.get(entry.action, "bg-secondary"),
        "lines": lines,
    }


@never_cache
@require_POST
@page
def person_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """查看完整信息: the clear ID and phone numbers, audited by ``services.reveal``."""
    person = scoped_get_or_404(Person.objects.visible_to(request.user), pk=pk)
    clear = services.reveal(person, actor=request.user)
    return render(request, "people/partials/pii.html", {"person": person, "clear": clear})


@never_cache
@page
def search(request: HttpRequest) -> HttpResponse:
    """居民搜索 over the user's scope. The form posts, so numbers stay out of URLs; a
    ``?q=`` link is honoured for names only."""
    term = ""
    notice = ""
    if request.method == "POST":
        form = SearchForm(request.POST)
        if form.is_valid():
            term = form.cleaned_data["q"]
    else:
        form = SearchForm()
        linked = request.GET.get("q", "").strip()[:50]
        if PERSONAL_DIGITS.search(linked):
            notice = "为保护个人信息，证件号码和手机号请在搜索框中输入查询。"
        elif linked:
            term = linked
            form = SearchForm(initial={"q": linked})
    results: list[Person] = []
    total = 0
    if term:
        found = services.search(Person.objects.visible_to(request.user), term)
        found = found.select_related("area", "dwelling__unit__parent").order_by(
            "name", "area_path", "pk"
        )
        total = found.count()
        results = list(found[:SEARCH_LIMIT])
    where = places(results)
    context = {
        "form": form,
        "term": term,
        "searched": bool(term),
        "results": [(p, address(p), where.get(p.pk, "")) for p in results],
        "total": total,
        "limit": SEARCH_LIMIT,
        "notice": notice,
    }
    return render(request, "people/search.html", context)


def places(persons: list[Person]) -> dict[int, str]:
    """``person pk → "社区 · 网格"`` for a page of results, in one query."""
    prefixes: set[str] = set()
    for p in persons:
        parts = p.area_path.rstrip("/").split("/")
        prefixes.update("/".join(parts[:i]) + "/" for i in range(1, len(parts) + 1))
    if not prefixes:
        return {}
    names = dict(
        Area.objects.filter(
            Q(path__in=prefixes), Q(kind__in=[AreaKind.COMMUNITY, AreaKind.GRID])
        ).values_list("path", "name")
    )
    result = {}
    for p in persons:
        found = [name for path, name in sorted(names.items()) if p.area_path.startswith(path)]
        result[p.pk] = " · ".join(found)
    return result
