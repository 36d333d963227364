"""API of residents and what hangs on them: ``/overview``, ``/persons`` (with reveal and
tag assignments), ``/households``, ``/positions``, ``/forces``, ``/tags``.

Reads start from ``Model.objects.visible_to(user)``; every write goes through
``jiayuan.core.actions`` or the resident actions in ``services`` (audited, scope
re-checked in the transaction). Outside the user's scope everything answers 404; a user
who may see an object but not change it gets 403.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Status
from pydantic import create_model

from jiayuan.core import actions
from jiayuan.core.api import acting_user, get_visible, paginate, require_change, responses
from jiayuan.core.crud import Resource, drop_nulls, filter_fields, register
from jiayuan.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from jiayuan.core.roles import Perm
from jiayuan.core.rules.age import years_before
from jiayuan.core.schemas import Page, PageParams
from jiayuan.core.scoping import has_perm_anywhere
from jiayuan.core.validity import open_on, valid_on
from jiayuan.org.models import Area
from jiayuan.org.queries import filter_under

from . import overview, resources, schemas, services, tagging
from .choices import TagScope, TagSource
from .models import Force, Household, HouseholdTag, Person, PersonTag, Position, Tag
from .resources import check_dates, place_refs
from .schemas import (
    OverviewOut,
    PersonDetail,
    PersonFilters,
    PersonIn,
    PersonOut,
    PersonPatch,
    PersonSearchIn,
    PersonTagIn,
    PersonTagOut,
    PersonTagPatch,
    RecomputeIn,
    RecomputeOut,
    RevealOut,
    TagDetail,
    TagFilters,
    TagHolderFilters,
    TagIn,
    TagOut,
    TagPatch,
)

router = Router()


def overview_schema() -> type[OverviewOut]:
    """``OverviewOut`` with the keys apps above people registered on the overview (the
    community services' counts), known once the apps are ready, before the URLs load."""
    extra: dict[str, Any] = {
        key: (int, 0) for key in overview.all_labels() if key not in OverviewOut.model_fields
    }
    if not extra:
        return OverviewOut
    return create_model("OverviewOut", __base__=OverviewOut, **extra)  # type: ignore[call-overload, no-any-return]


# --- overview ----------------------------------------------------------------------
@router.get("/overview", response=responses(overview_schema()), tags=["overview"])
def get_overview(request: HttpRequest) -> dict[str, int]:
    """Counts under the user's scope: areas, party branches, 三长, forces, residents …

    The same function feeds the home page, so page and API never disagree.
    """
    return overview.counts(acting_user(request))


# --- persons -----------------------------------------------------------------------
def person_queryset(user: Any) -> QuerySet[Person]:
    """Persons the user may see, with what the person schemas read, in three queries."""
    current_tags = (
        PersonTag.objects.filter(valid_on(timezone.localdate()))
        .select_related("tag")
        .order_by("tag__code")
    )
    return (
        Person.objects.visible_to(user)
        .select_related("area")
        .prefetch_related(Prefetch("tags", queryset=current_tags))
    )


def filter_persons(qs: QuerySet[Person], filters: PersonFilters) -> QuerySet[Person]:
    today = timezone.localdate()
    if filters.search:
        qs = services.search(qs, filters.search)
    if filters.area is not None:
        qs = filter_under(qs, filters.area)
    if filters.tag:
        qs = qs.filter(valid_on(today, "tags__"), tags__tag__code=filters.tag)
    if filters.age_min is not None:
        qs = qs.filter(birth_date__lte=years_before(today, filters.age_min))
    if filters.age_max is not None:
        qs = qs.filter(birth_date__gt=years_before(today, filters.age_max + 1))
    return filter_fields(
        qs,
        filters,
        political_status="political_status",
        gender="gender",
        residence_status="residence_status",
        living="death_date__isnull",
        household="household_id",
        dwelling="dwelling_id",
    )


def person_refs(user: Any, data: dict[str, Any], area: Area | None = None) -> dict[str, Any]:
    """Replace ``area``/``dwelling``/``household`` ids in ``data`` by rows the user sees."""
    place_refs(user, data, area)
    if data.get("household") is not None:
        data["household"] = get_visible(Household.objects.all(), user, pk=data["household"])
    if "hukou_code" in data and data["hukou_code"] is None:
        data["hukou_code"] = ""
    return data


@router.get("/persons", response=responses(Page[PersonOut]), tags=["persons"])
def list_persons(
    request: HttpRequest, filters: Query[PersonFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """Residents in the user's scope; ``search`` is a name, or an exact ID or phone number.

    ID and phone numbers are always masked here; see ``POST /persons/{id}/reveal``. To
    search by ID or phone number without putting it in the URL, use
    ``POST /persons/search``.
    """
    return paginate(filter_persons(person_queryset(acting_user(request)), filters), page)


@router.post("/persons/search", response=responses(Page[PersonOut]), tags=["persons"])
def search_persons(request: HttpRequest, body: PersonSearchIn) -> dict[str, Any]:
    """The person list with its filters in the body: use it to search by ID or phone
    number, which then stay out of URLs and access logs."""
    page = PageParams(limit=body.limit, offset=body.offset)
    return paginate(filter_persons(person_queryset(acting_user(request)), body), page)


@router.post("/persons", response=responses(PersonDetail, 201), tags=["persons"])
def create_person(request: HttpRequest, body: PersonIn) -> Status[Person]:
    """Register a resident; the ID number is checked (GB 11643) and stored encrypted."""
    user = acting_user(request)
    data = person_refs(user, body.dict(exclude_none=True))
    require_change(user, data["area"])
    person = services.create_person(actor=user, **data)
    return Status(201, person_queryset(user).get(pk=person.pk))


@router.get("/persons/{person_id}", response=responses(PersonDetail), tags=["persons"])
def get_person(request: HttpRequest, person_id: int) -> Person:
    """One resident, with masked ID and phone numbers."""
    user = acting_user(request)
    return get_visible(person_queryset(user), user, pk=person_id)


@router.patch("/persons/{person_id}", response=responses(PersonDetail), tags=["persons"])
def update_person(request: HttpRequest, person_id: int, body: PersonPatch) -> Person:
    """Change a resident; a new ID number is validated and re-encrypted."""
    user = acting_user(request)
    person = get_visible(Person.objects.select_related("area"), user, pk=person_id)
    require_change(user, person)
    data = drop_nulls(
        body.dict(exclude_unset=True),
        nullable=("id_number", "phone", "hukou_code", "death_date", "dwelling", "household"),
    )
    data = person_refs(user, data, area=person.area)
    if "area" in data:
        require_change(user, data["area"])
    services.update_person(person, actor=user, **data)
    return person_queryset(user).get(pk=person.pk)


@router.post("/persons/{person_id}/reveal", response=responses(RevealOut), tags=["persons"])
def reveal_person(request: HttpRequest, person_id: int, response: HttpResponse) -> dict[str, str]:
    """The clear ID and phone numbers; needs the reveal permission and is audited."""
    user = acting_user(request)
    person = get_visible(Person.objects.all(), user, pk=person_id)
    values = services.reveal(person, actor=user)
    response["Cache-Control"] = "no-store"
    return values


# --- person tags -------------------------------------------------------------------
def _tag_for(code: str, scope: str = TagScope.PERSON) -> Tag:
    tag = Tag.objects.filter(code=code).first()
    if tag is None:
        raise ValidationFailed(f"标签 {code} 不存在", f"there is no tag {code}", field="tag")
    if tag.scope != scope:
        raise ValidationFailed(
            f"标签“{tag.name}”不能用于个人", f"tag {code} is not a person tag", field="tag"
        )
    return tag


def _person_tag(user: Any, person_id: int, code: str) -> PersonTag:
    """The person's assignment of ``code``: the open one, else the latest ended one."""
    person = get_visible(Person.objects.all(), user, pk=person_id)
    row = (
        PersonTag.objects.select_related("tag", "assigned_by")
        .filter(person=person, tag__code=code)
        .order_by(F("valid_until").desc(nulls_first=True), "-pk")
        .first()
    )
    if row is None:
        raise NotFound("该居民没有此标签", "the person does not hold this tag")
    return row


def _by_hand(row: PersonTag) -> None:
    """Computed assignments follow their rule: changed by hand, the next recompute would
    undo it, and their history would lie."""
    if row.source == TagSource.RULE:
        raise Conflict(
            f"标签“{row.tag.name}”由规则计算，不能手工修改",
            "a computed tag follows its rule and cannot be changed by hand",
            field="tag",
        )


@router.get(
    "/persons/{person_id}/tags", response=responses(Page[PersonTagOut]), tags=["person tags"]
)
def list_person_tags(
    request: HttpRequest, person_id: int, page: Query[PageParams]
) -> dict[str, Any]:
    """Every tag a person holds or held, with validity, source and evidence."""
    person = get_visible(Person.objects.all(), acting_user(request), pk=person_id)
    qs = (
        PersonTag.objects.filter(person=person)
        .select_related("tag", "assigned_by")
        .order_by("tag__code", "-valid_from")
    )
    return paginate(qs, page)


@router.post(
    "/persons/{person_id}/tags", response=responses(PersonTagOut, 201), tags=["person tags"]
)
def add_person_tag(request: HttpRequest, person_id: int, body: PersonTagIn) -> Status[PersonTag]:
    """Give a person a tag by hand (来源：人工), recording who and when. Computed tags
    (those with a rule) are not given by hand."""
    user = acting_user(request)
    person = get_visible(Person.objects.all(), user, pk=person_id)
    require_change(user, person)
    tag = _tag_for(body.tag)
    if tag.computed:
        raise ValidationFailed(
            f"标签“{tag.name}”由规则计算，不能手工标注",
            "a computed tag is given by its rule, not by hand",
            field="tag",
        )
    check_dates(body.valid_from, body.valid_until, "valid_until")
    start = body.valid_from or timezone.localdate()
    held = PersonTag.objects.filter(person=person, tag=tag).filter(open_on(start))
    if held.exists():
        raise Conflict(
            f"该居民已有标签“{tag.name}”", "the person already holds this tag", field="tag"
        )
    data = body.dict()
    data.update(person=person, tag=tag, source=TagSource.MANUAL, assigned_by=user)
    return Status(201, actions.create(PersonTag, actor=user, **data))


@router.get(
    "/persons/{person_id}/tags/{code}", response=responses(PersonTagOut), tags=["person tags"]
)
def get_person_tag(request: HttpRequest, person_id: int, code: str) -> PersonTag:
    """One tag a person holds, by tag code."""
    return _person_tag(acting_user(request), person_id, code)


@router.patch(
    "/persons/{person_id}/tags/{code}", response=responses(PersonTagOut), tags=["person tags"]
)
def update_person_tag(
    request: HttpRequest, person_id: int, code: str, body: PersonTagPatch
) -> PersonTag:
    """Change a tag's attributes, validity or evidence."""
    user = acting_user(request)
    row = _person_tag(user, person_id, code)
    require_change(user, row)
    _by_hand(row)
    data = drop_nulls(body.dict(exclude_unset=True), nullable=("valid_from", "valid_until"))
    check_dates(
        data.get("valid_from", row.valid_from),
        data.get("valid_until", row.valid_until),
        "valid_until",
    )
    return actions.update(row, actor=user, **data)


@router.delete(
    "/persons/{person_id}/tags/{code}", response=responses(None, 204), tags=["person tags"]
)
def remove_person_tag(request: HttpRequest, person_id: int, code: str) -> Status[None]:
    """Take a tag away from a person (audited, with the removed values)."""
    user = acting_user(request)
    row = _person_tag(user, person_id, code)
    require_change(user, row)
    _by_hand(row)
    actions.delete(row, actor=user)
    return Status(204, None)


# --- households, positions, forces: plain resources (jiayuan.core.crud) ---------------
for model in (Household, Position, Force):
    register(router, Resource.by_convention(model, schemas, resources))


# --- tag catalogue -----------------------------------------------------------------
def tag_queryset(user: Any) -> QuerySet[Tag]:
    """The catalogue is shared by the whole county; users without any area see none."""
    if not has_perm_anywhere(user, Perm.VIEW):
        return Tag.objects.none()
    return Tag.objects.all()


def _tag(user: Any, code: str) -> Tag:
    tag = tag_queryset(user).filter(code=code).first()
    if tag is None:
        raise NotFound("标签不存在", "no such tag")
    return tag


def holder_counts(user: Any, tag_ids: list[int]) -> dict[int, int]:
    """Holders today of each tag, counted within ``user``'s scope: one grouped query
    (persons and households together), whatever the number of tags."""
    today = timezone.localdate()

    def grouped(model: type[PersonTag] | type[HouseholdTag]) -> QuerySet[Any]:
        return (
            model.objects.visible_to(user)
            .filter(valid_on(today), tag_id__in=tag_ids)
            .order_by()
            .values("tag_id")
            .annotate(n=Count("pk"))
            .values_list("tag_id", "n")
        )

    counts: dict[int, int] = {}
    for tag_id, n in grouped(PersonTag).union(grouped(HouseholdTag), all=True):
        counts[tag_id] = counts.get(tag_id, 0) + n
    return counts


def with_counts(user: Any, tags: list[Tag]) -> list[Tag]:
    counts = holder_counts(user, [t.pk for t in tags])
    for tag in tags:
        tag.holder_count = counts.get(tag.pk, 0)  # type: ignore[attr-defined]
    return tags


@router.get("/tags", response=responses(Page[TagOut]), tags=["tags"])
def list_tags(
    request: HttpRequest, filters: Query[TagFilters], page: Query[PageParams]
) -> dict[str, Any]:
    """The tag catalogue (标签目录) with each tag's rule and how many hold it today within
    your scope."""
    user = acting_user(request)
    qs = tag_queryset(user)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.scope:
        qs = qs.filter(scope=filters.scope)
    if filters.search:
        qs = qs.filter(name__contains=filters.search)
    result = paginate(qs, page)
    result["items"] = with_counts(user, result["items"])
    return result


@router.post("/tags/recompute", response=responses(RecomputeOut), tags=["tags"])
def recompute(request: HttpRequest, body: RecomputeIn) -> dict[str, Any]:
    """Recompute the computed tags now (标签重算) for the residents where you may
    supervise (staff: community, street, county). Audited as your action."""
    user = acting_user(request)
    if not has_perm_anywhere(user, Perm.SUPERVISE):
        raise PermissionDenied("只有具备督办权限的工作人员可以重算标签",
                               "only staff who supervise may recompute tags")  # fmt: skip
    if body.codes is not None:
        known = set(Tag.objects.filter(code__in=body.codes).exclude(rule="").values_list(
            "code", flat=True))  # fmt: skip
        unknown = sorted(set(body.codes) - known)
        if unknown:
            raise ValidationFailed(
                f"不是计算标签：{'、'.join(unknown)}", f"not computed tags: {', '.join(unknown)}",
                field="codes",
            )  # fmt: skip
    day = timezone.localdate()
    persons = Person.objects.visible_to(user, Perm.SUPERVISE)
    summary = tagging.recompute_tags(day, persons, codes=body.codes, actor=user)
    return {"date": day, "tags": summary}


@router.get("/tags/{code}", response=responses(TagDetail), tags=["tags"])
def get_tag(
    request: HttpRequest, code: str, filters: Query[TagHolderFilters], page: Query[PageParams]
) -> Tag:
    """One catalogue tag, by code, with a page of the residents holding it today within
    your scope (masked), each with the evidence of a computed tag and its explanation."""
    user = acting_user(request)
    tag = with_counts(user, [_tag(user, code)])[0]
    rows = (
        PersonTag.objects.visible_to(user)
        .filter(tag=tag)
        .select_related("person__area")
        .order_by("area_path", "person__name", "pk")
    )
    if not filters.ended:
        rows = rows.filter(valid_on(timezone.localdate()))
    if filters.area is not None:
        rows = filter_under(rows, filters.area)
    tag.holder_list = paginate(rows, page)  # type: ignore[attr-defined]
    return tag


@router.post("/tags", response=responses(TagOut, 201), tags=["tags"])
def create_tag(request: HttpRequest, body: TagIn) -> Status[Tag]:
    """Add a tag to the catalogue (county level only); a rule makes it computed."""
    user = acting_user(request)
    # Who may add to the catalogue first: otherwise the 409 below would tell anyone
    # which codes exist (defect 9).
    actions.ensure_in_scope(user, Tag(code=body.code))
    if Tag.objects.filter(code=body.code).exists():
        raise Conflict(f"标签代码 {body.code} 已存在", "the tag code is taken", field="code")
    data = body.dict()
    data["rule"] = data["rule"].strip()
    tagging.check_rule(data["rule"], data["scope"])
    return Status(201, actions.create(Tag, actor=user, **data))


@router.patch("/tags/{code}", response=responses(TagOut), tags=["tags"])
def update_tag(request: HttpRequest, code: str, body: TagPatch) -> Tag:
    """Change a catalogue tag's name, category, attributes, rule or description. A rule
    that does not compile answers 422 with its position and the expected token; a new
    rule takes the next version, and holders follow at the next recompute."""
    user = acting_user(request)
    tag = _tag(user, code)
    return tagging.update_tag(tag, actor=user, **drop_nulls(body.dict(exclude_unset=True)))
