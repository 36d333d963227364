"""The one table's datasets over residents and households (居民, 家庭户), and the area
and age dimensions the apps above reuse (cases, devices and matches are placed in the
same area tree).

Registered from :class:`~jiayuan.people.apps.PeopleConfig` (see ``core.reporting``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    When,
)
from django.db.models import Value as V
from django.db.models.functions import Coalesce, Length, Substr
from django.db.models.lookups import GreaterThanOrEqual, In

from jiayuan.core import reporting
from jiayuan.core.reporting import Context, Dimension, Measure, choices_dimension
from jiayuan.core.rules.age import years_before
from jiayuan.core.validity import valid_on
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area

from .choices import PARTY, Gender, HukouType, PoliticalStatus, Relation, ResidenceStatus
from .models import Household, Person, Tag
from .rules_fields import alive_on, household_registry, person_registry

AREA_LEVELS = (
    (AreaKind.STREET, "street", "街道"),
    (AreaKind.COMMUNITY, "community", "社区"),
    (AreaKind.ZONE, "zone", "小区/片区"),
    (AreaKind.GRID, "grid", "网格"),
)
# Age bands, ascending: (code, label, lowest age, first age of the next band)
AGE_BANDS: tuple[tuple[str, str, int, int | None], ...] = (
    ("0-6", "0–6岁", 0, 7),
    ("7-17", "7–17岁", 7, 18),
    ("18-34", "18–34岁", 18, 35),
    ("35-59", "35–59岁", 35, 60),
    ("60-69", "60–69岁", 60, 70),
    ("70-79", "70–79岁", 70, 80),
    ("80+", "80岁及以上", 80, None),
)


def area_prefix(field: str, kind: str) -> Any:
    """The path of the ``kind`` area above each row (its prefix of that length), or
    ``None`` for rows placed above that level (a case held by the street has no grid).

    The seed's codes have one width per level (``370830/001/001/``), read from the
    tree; a tree with mixed widths gets one branch per width, each checked against the
    paths of that width."""
    paths = list(Area.objects.filter(kind=kind).values_list("path", flat=True))
    widths = sorted({len(p) for p in paths})
    if not widths:
        return V(None, output_field=CharField())
    if len(widths) == 1:
        w = widths[0]
        return Case(
            When(GreaterThanOrEqual(Length(F(field)), w), then=Substr(F(field), 1, w)),
            default=V(None),
            output_field=CharField(),
        )
    whens = [
        When(
            In(Substr(F(field), 1, w), [p for p in paths if len(p) == w]),
            then=Substr(F(field), 1, w),
        )
        for w in widths
    ]
    return Case(*whens, default=V(None), output_field=CharField())


def area_names(codes: list[str]) -> dict[str, str]:
    return dict(Area.objects.filter(path__in=codes).values_list("path", "name"))


def area_dimensions(field: str = "area_path") -> list[Dimension]:
    """街道, 社区, 小区/片区, 网格 of the row's area path, in tree order."""

    def expression(kind: str) -> Callable[[Context], Any]:
        return lambda ctx: area_prefix(field, kind)

    return [
        Dimension(code, label, expression(kind), labels=area_names, null_label=f"{label}以上")
        for kind, code, label in AREA_LEVELS
    ]


def age_band_dimension(birth: str = "birth_date") -> Dimension:
    def expression(ctx: Context) -> Any:
        whens = []
        for code, _label, _low, upper in AGE_BANDS:
            if upper is None:
                whens.append(When(Q(**{f"{birth}__isnull": False}), then=V(code)))
            else:
                whens.append(
                    When(Q(**{f"{birth}__gt": years_before(ctx.today, upper)}), then=V(code))
                )
        return Case(*whens, default=V(None), output_field=CharField())

    values = [(code, label) for code, label, _low, _up in AGE_BANDS]
    return Dimension("age_band", "年龄段", expression, values=values)


def _valid_tags(alias: str, relation: str, category: str | None = None) -> Any:
    def build(ctx: Context) -> dict[str, FilteredRelation]:
        valid = valid_on(ctx.today, prefix=f"{relation}__")
        if category is not None:
            ids = list(Tag.objects.filter(category=category).values_list("pk", flat=True))
            valid &= Q(**{f"{relation}__tag__in": ids})
        return {alias: FilteredRelation(relation, condition=valid)}

    return build


def tag_names(codes: list[str]) -> dict[str, str]:
    return {
        str(pk): name for pk, name in Tag.objects.filter(pk__in=codes).values_list("pk", "name")
    }


def tag_dimension(code: str, label: str, relation: str, category: str | None = None) -> Dimension:
    """The tags a row holds on the day (a row counts once under each of its tags; rows
    without such a tag are not in the report). Each dimension joins the tags under its
    own alias, so two tag dimensions of one report (特殊人群 × 家庭类型) do not mix."""
    alias = f"rt_{code}"
    return Dimension(
        code,
        label,
        lambda ctx: F(f"{alias}__tag_id"),
        labels=tag_names,
        sort=int,
        relations=_valid_tags(alias, relation, category),
    )


def person_dataset() -> reporting.Dataset:
    party = [str(v) for v in PARTY]
    return reporting.Dataset(
        code="persons",
        label="居民",
        queryset=lambda ctx: Person.objects.filter(alive_on(ctx.today)),
        dimensions=[
            *area_dimensions(),
            choices_dimension("gender", "性别", "gender", Gender),
            age_band_dimension(),
            choices_dimension("political_status", "政治面貌", "political_status", PoliticalStatus),
            choices_dimension("hukou_type", "户籍类型", "hukou_type", HukouType),
            choices_dimension("residence", "居住状态", "residence_status", ResidenceStatus),
            choices_dimension("relation", "与户主关系", "relation", Relation),
            reporting.column_dimension("ethnicity", "民族", "ethnicity"),
            tag_dimension("special_group", "特殊人群", "tags", "特殊人群"),
            tag_dimension("tag", "人员标签", "tags"),
            tag_dimension("household_type", "家庭类型", "household__tags"),
        ],
        measures=[
            Measure("persons", "人数"),
            Measure("households", "户数", "distinct", expression=lambda ctx: F("household_id")),
            Measure(
                "party_members",
                "党员人数",
                "count_if",
                condition=lambda ctx: Q(political_status__in=party),
            ),
            Measure(
                "elderly",
                "60岁及以上人数",
                "count_if",
                condition=lambda ctx: Q(birth_date__lte=years_before(ctx.today, 60)),
            ),
            Measure(
                "minors",
                "未成年人数",
                "count_if",
                condition=lambda ctx: Q(birth_date__gt=years_before(ctx.today, 18)),
            ),
        ],
        registry=person_registry,
    )  # fmt: skip


def household_dataset() -> reporting.Dataset:
    def members(ctx: Context) -> Any:
        counted = (
            Person.objects.filter(alive_on(ctx.today), household=OuterRef("pk"))
            .order_by()
            .values("household")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(counted), V(0))

    return reporting.Dataset(
        code="households",
        label="家庭户",
        queryset=lambda ctx: Household.objects.all(),
        dimensions=[
            *area_dimensions(),
            tag_dimension("household_type", "家庭类型", "tags"),
        ],
        measures=[
            Measure("households", "户数"),
            Measure("members", "在世成员人数", "sum", expression=members),
        ],
        registry=household_registry,
    )


reporting.register(person_dataset(), household_dataset())
