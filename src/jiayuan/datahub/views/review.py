"""Pages of the review queue (待核对): the list of pairs in the user's area, and one
pair side by side (the incoming row masked, the resident, the score of each feature)
with the merge, distinct and undo buttons (POST forms with the CSRF token). Views are
thin: the decisions are :mod:`jiayuan.datahub.resolution`'s."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jiayuan.core.errors import BilingualError
from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed
from jiayuan.core.views import page
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .. import provenance, resolution
from ..api_review import queue
from ..models import ReviewStatus
from ..provenance import PERSON, PERSON_FIELDS

PER_PAGE = 30
STATUS_CSS: dict[str, str] = {
    ReviewStatus.PENDING: "bg-orange-lt",
    ReviewStatus.MERGED: "bg-green-lt",
    ReviewStatus.DISTINCT: "bg-blue-lt",
    ReviewStatus.UNDONE: "bg-secondary-lt",
}
FEATURES = (("name", "姓名"), ("birth_date", "出生日期"), ("address", "现住址"))
GENDER = {"male": "男", "female": "女"}


@page
def review_index(request: HttpRequest) -> HttpResponse:
    """待核对记录: pending pairs first by score; ``?status=`` shows the decided ones."""
    status = request.GET.get("status", ReviewStatus.PENDING)
    if status not in ReviewStatus.values and status != "all":
        status = ReviewStatus.PENDING
    qs = queue(request.user, None if status == "all" else status)
    paginator = Paginator(qs, PER_PAGE)
    current = paginator.get_page(request.GET.get("page"))
    for pair in current:
        pair.status_css = STATUS_CSS.get(pair.status, "")  # type: ignore[attr-defined]
    statuses = [("pending", "待核对"), ("merged", "已合并"), ("distinct", "非同一人"),
                ("undone", "已撤销"), ("all", "全部")]  # fmt: skip
    context = {"page": current, "status": status, "statuses": statuses}
    return render(request, "datahub/review/index.html", context)


def _rows(pair: Any) -> list[dict[str, Any]]:
    """The side-by-side table: each field of the incoming row beside the resident's."""
    person = pair.person
    incoming = pair.incoming
    existing = {
        "name": person.name,
        "id_number": person.id_number_masked,
        "birth_date": person.birth_date.isoformat() if person.birth_date else "",
        "gender": GENDER.get(person.gender, ""),
        "address": person.area_path,
    }
    rows = []
    for key, label in FEATURES:
        feature = pair.details.get(key, {})
        rows.append({
            "label": label,
            "incoming": incoming.get(key, ""),
            "existing": feature.get("existing", existing.get(key, "")) if key != "address"
            else pair.place_label,
            "score": feature.get("score"),
            "short": key == "birth_date",
        })  # fmt: skip
    rows.append({"label": "身份证号", "incoming": incoming.get("id_raw") or "（无）",
                 "existing": existing["id_number"] or "（无）", "score": None,
                 "short": True})  # fmt: skip
    rows.append({"label": "性别", "incoming": GENDER.get(incoming.get("gender", ""), ""),
                 "existing": existing["gender"], "score": None, "short": True})  # fmt: skip
    household = person.household
    held = {
        "ethnicity": person.ethnicity,
        "household": household.number if household is not None else "",
        "hukou_address": hukou_address(person),
    }
    for key in ("ethnicity", "household", "hukou_address"):
        if incoming.get(key) or held[key]:
            rows.append({"label": PERSON_FIELDS.get(key, key), "incoming": incoming.get(key, ""),
                         "existing": held[key], "score": None,
                         "short": key != "hukou_address"})  # fmt: skip
    return rows


def hukou_address(person: Any) -> str:
    """The resident's 户籍地址: the record does not store it, provenance holds it (the
    value adopted among the sources that sent one)."""
    return provenance.held_value(PERSON, person.pk, "hukou_address")


def place_label(person: Any) -> str:
    """The resident's address as the tree names it (社区 小区 楼栋 单元 室): one query
    for the areas above the resident's, the way agencies write addresses."""
    parts = person.area_path.rstrip("/").split("/")
    prefixes = ["/".join(parts[:i]) + "/" for i in range(3, len(parts) + 1)]
    names = Area.objects.filter(path__in=prefixes).exclude(kind=AreaKind.GRID)
    text = "".join(names.order_by("depth").values_list("name", flat=True))
    home = person.dwelling
    return f"{text}{home.number}室" if home is not None else text


@page
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One pair side by side with its feature scores and the decision buttons."""
    user = request.user
    pair = resolution.get_pair(user, pk)
    pair.status_css = STATUS_CSS.get(pair.status, "")  # type: ignore[attr-defined]
    pair.place_label = place_label(pair.person)  # type: ignore[attr-defined]
    may = path_allowed(user, pair.area_path, Perm.CHANGE)
    context = {
        "pair": pair,
        "rows": _rows(pair),
        "may_merge": may and pair.status == ReviewStatus.PENDING,
        "may_undo": may and pair.status == ReviewStatus.MERGED,
        "threshold": resolution.REVIEW_THRESHOLD,
        "weights": resolution.WEIGHTS,
        "gender_same": pair.details.get("gender", {}).get("same", True),
    }
    return render(request, "datahub/review/detail.html", context)


DECISIONS = {
    "merge": (resolution.merge, "已合并到居民档案（可撤销）"),
    "distinct": (resolution.distinct, "已确认为不同的人"),
    "undo": (resolution.undo, "已撤销合并，居民信息已恢复"),
}


@require_POST
@page
def review_decide(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    """POST merge / distinct / undo; a refused decision shows its reason on the pair."""
    if decision not in DECISIONS:
        raise Http404
    action, done = DECISIONS[decision]
    try:
        action(request.user, pk)
    except BilingualError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.zh)
    else:
        messages.success(request, done)
    return redirect(reverse("datahub:review", args=[pk]))
