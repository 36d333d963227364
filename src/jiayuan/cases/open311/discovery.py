"""Discovery and services: which endpoints exist, which categories are public, and
each one's definition (its attributes)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse

from ..attributes import DATATYPES
from ..models import Category
from .formats import CHANGESET, SPECIFICATION, Open311Error, Reply, open311_view


# --- services -----------------------------------------------------------------------------
def public_categories() -> QuerySet[Category]:
    return Category.objects.filter(public=True).select_related("parent", "department")


def _category(code: str) -> Category:
    category = public_categories().filter(code=code).first()
    if category is None:
        raise Open311Error(404, (f"服务类型 {code} 不存在", f"service_code {code!r} not found"))
    return category


def _positive(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def definition(category: Category) -> list[dict[str, Any]]:
    """The category's attributes in the specification's shape, in their order."""
    out: list[dict[str, Any]] = []
    for i, raw in enumerate(category.attributes or []):
        if not isinstance(raw, dict) or not raw.get("code"):
            continue
        datatype = raw.get("datatype") if raw.get("datatype") in DATATYPES else "string"
        values = []
        for v in raw.get("values") or []:
            if isinstance(v, dict):
                values.append({"key": str(v.get("key", "")), "name": str(v.get("name", ""))})
            else:
                values.append({"key": str(v), "name": str(v)})
        out.append(
            {
                "variable": bool(raw.get("variable", True)),
                "code": str(raw["code"]),
                "datatype": datatype,
                "required": bool(raw.get("required", False)),
                "datatype_description": raw.get("datatype_description") or None,
                "order": _positive(raw.get("order"), i + 1),
                "description": str(raw.get("description", "")),
                "values": values,
            }
        )
    return sorted(out, key=lambda a: a["order"])


def service_entry(category: Category) -> dict[str, Any]:
    group = category.parent.name if category.parent is not None else category.name
    keywords = [category.name, group]
    if category.department is not None:
        keywords.append(category.department.name)
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description or category.name,
        "metadata": bool(definition(category)),
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys(keywords)),
        "group": group,
    }


@open311_view("GET")
def discovery(request: HttpRequest) -> Reply:
    here = reverse("open311-discovery", kwargs={"fmt": "xml"})
    base = request.build_absolute_uri(here.removesuffix("/discovery.xml"))
    return Reply(
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": "家园社区治理平台管理员 / the Jiayuan platform administrator",
            "key_service": (
                "api_key 由平台管理员签发（jiayuan open311-key create 名称） / "
                "api keys are issued by the administrator (jiayuan open311-key create NAME)"
            ),
            "endpoints": [
                {
                    "specification": SPECIFICATION,
                    "url": base,
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@open311_view("GET")
def service_list(request: HttpRequest) -> Reply:
    return Reply("services", [service_entry(c) for c in public_categories()])


@open311_view("GET")
def service_definition(request: HttpRequest, code: str) -> Reply:
    category = _category(code)
    return Reply(
        "service_definition", {"service_code": category.code, "attributes": definition(category)}
    )
