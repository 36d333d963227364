"""Report templates (报表模板): the standard forms shipped in ``standard.yaml`` and the
templates users save.

The standard forms are data: :func:`listing` compares the saved standard rows with the
YAML on every read (the rows are read anyway) and writes only when they differ, so the
first read after a deploy loads them, later reads cost nothing, and loading twice
changes nothing. A user sees the standard forms and their own templates.
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Any

import yaml
from django.db import transaction
from django.db.models import Q, QuerySet

from jiayuan.core.errors import NotFound, PermissionDenied
from jiayuan.core.roles import Perm
from jiayuan.core.rules import RuleError
from jiayuan.core.scoping import has_perm_anywhere
from jiayuan.datahub.models import ReportTemplate

from .query import ReportError, parse_spec

STANDARD_FILE = Path(__file__).with_name("standard.yaml")
SPEC_KEYS = ("dataset", "rows", "columns", "measures", "filter")


@functools.cache
def standard_forms() -> dict[str, dict[str, Any]]:
    """``{code: {"name", "spec"}}`` of the shipped standard forms."""
    entries = yaml.safe_load(STANDARD_FILE.read_text(encoding="utf-8"))
    return {e["code"]: {"name": e["name"], "spec": normal_spec(e["spec"])} for e in entries}


def normal_spec(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "dataset": spec.get("dataset", ""),
        "rows": list(spec.get("rows") or []),
        "columns": list(spec.get("columns") or []),
        "measures": list(spec.get("measures") or []),
        "filter": spec.get("filter") or "",
    }


def require_reader(user: Any) -> None:
    """Reports are for staff who see some part of the area tree."""
    if not has_perm_anywhere(user, Perm.VIEW):
        raise PermissionDenied("没有查看报表的权限", "no permission to view reports")


def visible(user: Any) -> QuerySet[ReportTemplate]:
    return ReportTemplate.objects.filter(Q(standard=True) | Q(owner_id=user.pk))


def _in_sync(rows: list[ReportTemplate]) -> bool:
    saved = {r.code: {"name": r.name, "spec": r.spec} for r in rows if r.standard}
    return saved == standard_forms()


def sync() -> int:
    """Make the standard rows equal the YAML; the number of rows written or removed."""
    forms = standard_forms()
    changed = 0
    with transaction.atomic():
        rows = ReportTemplate.objects.select_for_update().filter(
            Q(standard=True) | Q(code__in=forms)
        )
        saved = {r.code: r for r in rows}
        missing = [
            ReportTemplate(code=code, name=form["name"], standard=True, spec=form["spec"])
            for code, form in forms.items()
            if code not in saved
        ]
        # Another process may load the same forms at the same moment: its rows win.
        changed += len(ReportTemplate.objects.bulk_create(missing, ignore_conflicts=True))
        for code, form in forms.items():
            row = saved.get(code)
            if row is None:
                continue
            wanted = (form["name"], form["spec"], True, None)
            if (row.name, row.spec, row.standard, row.owner_id) != wanted:
                row.name, row.spec, row.standard, row.owner = form["name"], form["spec"], True, None
                row.save()
                changed += 1
        stale = [c for c, r in saved.items() if r.standard and c not in forms]
        changed += ReportTemplate.objects.filter(code__in=stale).delete()[0]
    return changed


def listing(user: Any) -> list[ReportTemplate]:
    """The templates ``user`` sees: the standard forms in the YAML's order, then the
    user's own by name; loads the YAML when needed."""
    require_reader(user)
    rows = list(visible(user).order_by("-standard", "name", "code"))
    if not _in_sync(rows):
        sync()
        rows = list(visible(user).order_by("-standard", "name", "code"))
    order = {code: i for i, code in enumerate(standard_forms())}  # the YAML's order
    rows.sort(key=lambda r: (not r.standard, order.get(r.code, 0)))
    return rows


def answered(rows: list[ReportTemplate]) -> int:
    """How many standard forms the one table answers: those whose spec runs here."""
    n = 0
    for row in rows:
        if not row.standard:
            continue
        try:
            parse_spec(row.spec)
        except (ReportError, RuleError):
            continue
        n += 1
    return n


def get(user: Any, code: str) -> ReportTemplate:
    require_reader(user)
    if code in standard_forms():
        listing(user)  # the standard form exists once it is read
    row = visible(user).filter(code=code).first()
    if row is None:
        raise NotFound("报表模板不存在", "no such report template")
    return row


def save(user: Any, name: str, spec: dict[str, Any]) -> ReportTemplate:
    """A user's own template; the spec is checked as a report would run it."""
    require_reader(user)
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ReportError("模板名称应为1–80个字", "the name must be 1 to 80 characters",
                          field="name")  # fmt: skip
    checked = parse_spec(spec)
    stored = {k: v for k, v in checked.as_dict().items() if k in SPEC_KEYS}
    return ReportTemplate.objects.create(
        code=f"my-{secrets.token_hex(5)}", name=name, standard=False, spec=stored, owner=user
    )
