"""API schemas of residents, households, tags, positions and forces.

Person output carries only masked ID and phone numbers; the clear values leave the
server through ``POST /persons/{id}/reveal`` alone (audited).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema

from jiayuan.core.schemas import DEFAULT_LIMIT, MAX_LIMIT, Page

from .choices import (
    Appointment,
    ForceKind,
    Gender,
    HukouType,
    PoliticalStatus,
    PositionRole,
    Relation,
    ResidenceStatus,
    TagScope,
    TagSource,
)
from .models import Force, Household, Person, PersonTag, Position, Tag

TAG_CODE_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
DIVISION_PATTERN = r"^\d{6}$"


class OverviewOut(Schema):
    """Counts under the user's scope (一屏管理的基础数字). Apps above people add their
    own keys (``people.overview.register``), as fields of the schema ``people.api``
    builds from this one when the URLs load."""

    streets: int
    communities: int
    party_branches: int
    grids: int
    central_households: int
    three_heads: int
    forces: int
    residents: int
    households: int
    dwellings: int
    party_members: int


# --- persons -----------------------------------------------------------------------
class PersonOut(Schema):
    """A resident (居民) with masked ID and phone numbers."""

    id: int
    name: str
    id_number_masked: str
    phone_masked: str
    gender: str
    birth_date: dt.date | None
    age: int | None
    ethnicity: str
    political_status: PoliticalStatus
    hukou_code: str
    hukou_type: HukouType
    residence_status: ResidenceStatus
    death_date: dt.date | None
    area: int
    area_name: str
    dwelling: int | None
    household: int | None
    relation: Relation
    tags: list[str] = Field(description="当前有效的标签代码 / codes of the tags held")

    @staticmethod
    def resolve_area(obj: Person) -> int:
        return obj.area_id

    @staticmethod
    def resolve_area_name(obj: Person) -> str:
        return obj.area.name

    @staticmethod
    def resolve_dwelling(obj: Person) -> int | None:
        return obj.dwelling_id

    @staticmethod
    def resolve_household(obj: Person) -> int | None:
        return obj.household_id

    @staticmethod
    def resolve_tags(obj: Person) -> list[str]:
        return [assignment.tag.code for assignment in obj.tags.all()]


class PersonDetail(PersonOut):
    area_path: str
    created_at: dt.datetime
    updated_at: dt.datetime


class PersonFilters(Schema):
    search: str | None = Field(
        None, max_length=50, description="姓名包含，或完整身份证号/手机号 / name, exact ID or phone"
    )
    area: int | None = Field(None, description="所在区域(含下级) / area id, descendants included")
    tag: str | None = Field(None, max_length=40, description="标签代码 / tag code")
    age_min: int | None = Field(None, ge=0, le=150, description="最小年龄 / minimum age")
    age_max: int | None = Field(None, ge=0, le=150, description="最大年龄 / maximum age")
    political_status: PoliticalStatus | None = None
    gender: Gender | None = None
    residence_status: ResidenceStatus | None = None
    living: bool | None = Field(None, description="仅在世/仅已故 / living or deceased only")
    household: int | None = None
    dwelling: int | None = None


class PersonSearchIn(PersonFilters):
    """The person list's filters and paging, sent in a body so that an ID or phone number
    searched for never appears in a URL or an access log."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0)


class PersonIn(Schema):
    """A new resident; birth date and gender come from the ID number."""

    name: str = Field(..., min_length=1, max_length=50)
    id_number: str | None = Field(None, max_length=30)
    phone: str | None = Field(None, max_length=20)
    ethnicity: str = Field("汉族", max_length=20)
    political_status: PoliticalStatus = PoliticalStatus.MASSES
    hukou_code: str | None = Field(None, pattern=DIVISION_PATTERN)
    hukou_type: HukouType = HukouType.URBAN
    residence_status: ResidenceStatus = ResidenceStatus.RESIDENT
    death_date: dt.date | None = None
    area: int = Field(..., description="网格、楼栋或单元 / a grid, building or unit id")
    dwelling: int | None = None
    household: int | None = None
    relation: Relation = Relation.HEAD


class PersonPatch(Schema):
    """Changed fields only; ``null`` clears the ID, phone, death date, dwelling or
    household."""

    name: str | None = Field(None, min_length=1, max_length=50)
    id_number: str | None = Field(None, max_length=30)
    phone: str | None = Field(None, max_length=20)
    ethnicity: str | None = Field(None, max_length=20)
    political_status: PoliticalStatus | None = None
    hukou_code: str | None = Field(None, pattern=DIVISION_PATTERN)
    hukou_type: HukouType | None = None
    residence_status: ResidenceStatus | None = None
    death_date: dt.date | None = None
    area: int | None = None
    dwelling: int | None = None
    household: int | None = None
    relation: Relation | None = None


class RevealOut(Schema):
    """The clear ID and phone numbers of one person (each reveal is audited)."""

    id_number: str
    phone: str


# --- households --------------------------------------------------------------------
class HouseholdOut(Schema):
    """A household (户)."""

    id: int
    number: str
    area: int
    dwelling: int | None
    head: int | None
    head_name: str | None
    member_count: int
    area_path: str

    @staticmethod
    def resolve_area(obj: Household) -> int:
        return obj.area_id

    @staticmethod
    def resolve_dwelling(obj: Household) -> int | None:
        return obj.dwelling_id

    @staticmethod
    def resolve_head(obj: Household) -> int | None:
        return obj.head_id

    @staticmethod
    def resolve_head_name(obj: Household) -> str | None:
        return obj.head.name if obj.head_id and obj.head else None

    @staticmethod
    def resolve_member_count(obj: Household) -> int:
        count = getattr(obj, "member_count", None)
        return int(count) if count is not None else obj.members.count()


class HouseholdFilters(Schema):
    area: int | None = Field(None, description="所在区域(含下级) / area id, descendants included")
    dwelling: int | None = None
    search: str | None = Field(None, max_length=24, description="户号包含 / number contains")


class HouseholdIn(Schema):
    number: str = Field(..., min_length=1, max_length=24)
    area: int
    dwelling: int | None = None
    head: int | None = None


class HouseholdPatch(Schema):
    number: str | None = Field(None, min_length=1, max_length=24)
    area: int | None = None
    dwelling: int | None = None
    head: int | None = None


# --- positions ---------------------------------------------------------------------
class PositionOut(Schema):
    """A person holding a role at an area node (职务)."""

    id: int
    person: int
    person_name: str
    area: int
    area_name: str
    role: PositionRole
    appointed: str
    start: dt.date | None
    end: dt.date | None
    area_path: str

    @staticmethod
    def resolve_person(obj: Position) -> int:
        return obj.person_id

    @staticmethod
    def resolve_person_name(obj: Position) -> str:
        return obj.person.name

    @staticmethod
    def resolve_area(obj: Position) -> int:
        return obj.area_id

    @staticmethod
    def resolve_area_name(obj: Position) -> str:
        return obj.area.name


class PositionFilters(Schema):
    area: int | None = Field(None, description="所在区域(含下级) / area id, descendants included")
    role: PositionRole | None = None
    person: int | None = None
    active: bool | None = Field(None, description="仅在任/仅离任 / current or past only")


class PositionIn(Schema):
    person: int
    area: int
    role: PositionRole
    appointed: Appointment | None = None
    start: dt.date | None = None
    end: dt.date | None = None


class PositionPatch(Schema):
    role: PositionRole | None = None
    appointed: Appointment | None = None
    start: dt.date | None = None
    end: dt.date | None = None


# --- forces ------------------------------------------------------------------------
class ForceOut(Schema):
    """A co-governance force (共治力量)."""

    id: int
    person: int
    person_name: str
    kind: ForceKind
    area: int
    area_name: str
    skills: list[Any]
    on_duty: bool
    organisation: str
    area_path: str

    @staticmethod
    def resolve_person(obj: Force) -> int:
        return obj.person_id

    @staticmethod
    def resolve_person_name(obj: Force) -> str:
        return obj.person.name

    @staticmethod
    def resolve_area(obj: Force) -> int:
        return obj.area_id

    @staticmethod
    def resolve_area_name(obj: Force) -> str:
        return obj.area.name


class ForceFilters(Schema):
    area: int | None = Field(None, description="所在区域(含下级) / area id, descendants included")
    kind: ForceKind | None = None
    person: int | None = None
    on_duty: bool | None = None


class ForceIn(Schema):
    person: int
    area: int
    kind: ForceKind
    skills: list[str] = Field(default_factory=list)
    on_duty: bool = True
    organisation: str = Field("", max_length=100)


class ForcePatch(Schema):
    area: int | None = None
    kind: ForceKind | None = None
    skills: list[str] | None = None
    on_duty: bool | None = None
    organisation: str | None = Field(None, max_length=100)


# --- tags --------------------------------------------------------------------------
class TagOut(Schema):
    """A tag of the catalogue (标签): 高龄老人, 残疾人, 低保 … A tag with a ``rule`` is
    computed (``computed``); ``holders`` counts who holds it today within your scope."""

    id: int
    code: str
    name: str
    category: str
    scope: TagScope
    attributes: list[Any]
    rule: str
    rule_version: int
    computed: bool
    description: str
    holders: int | None = Field(None, description="当前持有人数(本人权限范围内) / holders")

    @staticmethod
    def resolve_holders(obj: Tag) -> int | None:
        return getattr(obj, "holder_count", None)


class TagHolderOut(Schema):
    """Someone holding a tag, masked, with validity, source, evidence and (computed tags)
    the explanation re-derived from the recorded inputs."""

    id: int
    person: int
    name: str
    id_number_masked: str
    age: int | None
    area_name: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    source: TagSource
    evidence: dict[str, Any]
    assigned_at: dt.datetime
    explanation: str | None

    @staticmethod
    def resolve_person(obj: PersonTag) -> int:
        return obj.person_id

    @staticmethod
    def resolve_name(obj: PersonTag) -> str:
        return obj.person.name

    @staticmethod
    def resolve_id_number_masked(obj: PersonTag) -> str:
        return obj.person.id_number_masked

    @staticmethod
    def resolve_age(obj: PersonTag) -> int | None:
        return obj.person.age

    @staticmethod
    def resolve_area_name(obj: PersonTag) -> str:
        return obj.person.area.name

    @staticmethod
    def resolve_explanation(obj: PersonTag) -> str | None:
        from .tagging import explain

        outcome = explain(obj)
        return None if outcome is None else outcome.explain()


class TagDetail(TagOut):
    """One tag with a page of its holders (``limit``/``offset``)."""

    holder_list: Page[TagHolderOut]


class TagHolderFilters(Schema):
    ended: bool = Field(False, description="含已失效的持有记录 / include ended holdings")
    area: int | None = Field(None, description="所在区域(含下级) / area id, descendants included")


class RecomputeIn(Schema):
    codes: list[str] | None = Field(None, description="只重算这些标签 / only these tags")


class RecomputeOut(Schema):
    """``{code: {"added", "ended", "holders"}}`` for the persons in your scope."""

    date: dt.date
    tags: dict[str, dict[str, int]]


class TagFilters(Schema):
    category: str | None = Field(None, max_length=20)
    scope: TagScope | None = None
    search: str | None = Field(None, max_length=40, description="名称包含 / name contains")


class TagIn(Schema):
    code: str = Field(..., pattern=TAG_CODE_PATTERN)
    name: str = Field(..., min_length=1, max_length=40)
    category: str = Field(..., min_length=1, max_length=20)
    scope: TagScope = TagScope.PERSON
    attributes: list[Any] = Field(default_factory=list)
    rule: str = ""
    description: str = ""


class TagPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=40)
    category: str | None = Field(None, min_length=1, max_length=20)
    attributes: list[Any] | None = None
    rule: str | None = None
    description: str | None = None


class PersonTagOut(Schema):
    """A tag held by a person (个人标签), with validity, source and evidence."""

    id: int
    person: int
    tag: str
    tag_name: str
    category: str
    attributes: dict[str, Any]
    valid_from: dt.date | None
    valid_until: dt.date | None
    source: TagSource
    evidence: dict[str, Any]
    assigned_by: str | None = Field(None, description="人工标注人 / who assigned it by hand")
    assigned_at: dt.datetime

    @staticmethod
    def resolve_person(obj: PersonTag) -> int:
        return obj.person_id

    @staticmethod
    def resolve_assigned_by(obj: PersonTag) -> str | None:
        user = obj.assigned_by
        return None if user is None else user.get_username()

    @staticmethod
    def resolve_tag(obj: PersonTag) -> str:
        return obj.tag.code

    @staticmethod
    def resolve_tag_name(obj: PersonTag) -> str:
        return obj.tag.name

    @staticmethod
    def resolve_category(obj: PersonTag) -> str:
        return obj.tag.category


class PersonTagIn(Schema):
    tag: str = Field(..., max_length=40, description="标签代码 / tag code")
    attributes: dict[str, Any] = Field(default_factory=dict)
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)


class PersonTagPatch(Schema):
    attributes: dict[str, Any] | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    evidence: dict[str, Any] | None = None
