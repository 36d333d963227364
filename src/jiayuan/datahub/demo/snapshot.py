"""What the agencies know about the demo county: the seeded residents of its first
community, read back from the database (ID numbers decrypted), with the addresses an
agency would print.

The agency files are written from this snapshot, so whatever a seed put in the database
is what 公安, 民政 and 残联 report, and the import finds it again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from jiayuan.core import pii
from jiayuan.core.divisions import COUNTIES, PROVINCES, WENSHANG
from jiayuan.org.choices import AreaKind
from jiayuan.org.models import Area
from jiayuan.people.models import HouseholdTag, Person, PersonTag

ASSISTANCE_TAGS = ("低保", "特困", "低收入")
DISABILITY_TAG = "残疾人"


@dataclass(slots=True)
class Resident:
    """One seeded resident as the agencies see them."""

    pk: int
    name: str
    id_number: str
    birth_date: dt.date
    gender: str
    ethnicity: str
    hukou_code: str
    hukou_type: str
    death_date: dt.date | None
    relation: str
    household: str  # 户号
    household_pk: int | None
    unit_path: str
    community: str  # the community's name
    community_path: str
    address: str  # 现住址, as 公安 prints it

    @property
    def alive(self) -> bool:
        return self.death_date is None


@dataclass
class Snapshot:
    """The residents of the county's first community, and what the agencies hold on
    them (the demo's files stay a few thousand rows whatever the county's size)."""

    street: str  # the street's name
    communities: list[tuple[str, str]]  # the street's (path, name), in path order
    residents: list[Resident]  # by primary key
    # household pk -> (tag code, valid from) of 低保 / 特困 / 低收入
    assistance: dict[int, list[tuple[str, dt.date | None]]] = field(default_factory=dict)
    # person pk -> (category, grade, valid from) of their 残疾人 tag
    disabilities: dict[int, tuple[str, int, dt.date | None]] = field(default_factory=dict)

    def in_community(self, path: str) -> list[Resident]:
        return [r for r in self.residents if r.community_path == path]


def read_snapshot() -> Snapshot:
    """Read the first community of the seeded county (a handful of queries); raises
    ``LookupError`` on an empty database."""
    street = Area.objects.filter(kind=AreaKind.STREET).order_by("path").first()
    if street is None:
        raise LookupError("the demo county is not seeded: no street")
    names = dict(Area.objects.filter(path__startswith=street.path).values_list("path", "name"))
    county = Area.objects.filter(kind=AreaKind.COUNTY).order_by("path").first()
    county_name = county.name if county is not None else "汶上县"
    depth = street.path.count("/") + 1
    communities = sorted((path, name) for path, name in names.items() if path.count("/") == depth)
    if not communities:
        raise LookupError("the demo county is not seeded: no community")
    first = communities[0][0]
    rows = (
        Person.objects.filter(area_path__startswith=first)
        .order_by("pk")
        .values_list(
            "pk", "name", "id_number_enc", "birth_date", "gender", "ethnicity", "hukou_code",
            "hukou_type", "death_date", "relation", "household__number", "household_id",
            "area_path", "dwelling__number",
        )
    )  # fmt: skip
    residents = []
    for (pk, name, enc, birth, gender, ethnicity, hukou, hukou_type, death, relation,
         household, household_pk, unit, dwelling) in rows:  # fmt: skip
        parts = unit.split("/")
        community_path = "/".join(parts[:3]) + "/"
        residents.append(
            Resident(
                pk=pk, name=name, id_number=pii.decrypt(enc) if enc else "", birth_date=birth,
                gender=gender, ethnicity=ethnicity, hukou_code=hukou, hukou_type=hukou_type,
                death_date=death, relation=relation, household=household or "",
                household_pk=household_pk, unit_path=unit,
                community=names.get(community_path, ""), community_path=community_path,
                address=current_address(county_name, names, unit, dwelling or ""),
            )
        )  # fmt: skip
    snap = Snapshot(street=street.name, communities=communities, residents=residents)
    for household, code, since in HouseholdTag.objects.filter(
        area_path__startswith=first, tag__code__in=ASSISTANCE_TAGS, valid_until=None
    ).values_list("household_id", "tag__code", "valid_from"):
        snap.assistance.setdefault(household, []).append((code, since))
    for person, attrs, since in PersonTag.objects.filter(
        area_path__startswith=first, tag__code=DISABILITY_TAG, valid_until=None
    ).values_list("person_id", "attributes", "valid_from"):
        snap.disabilities[person] = (
            str(attrs.get("category", "肢体")),
            int(attrs.get("grade", 4)),
            since,
        )
    return snap


def current_address(county: str, names: dict[str, str], unit: str, dwelling: str) -> str:
    """汶上县中都街道翔宇社区和谐雅居1号楼1单元101室: street, community, zone, building,
    unit (the grid is no part of a postal address) and the dwelling."""
    parts = unit.strip("/").split("/")
    # county / street / community / zone / grid / building / unit
    wanted = [1, 2, 3, 5, 6]
    pieces = [names.get("/".join(parts[: i + 1]) + "/", "") for i in wanted if i < len(parts)]
    room = f"{dwelling}室" if dwelling else ""
    return f"山东省济宁市{county}{''.join(pieces)}{room}"


def hukou_address(resident: Resident, village: str) -> str:
    """户籍地址: the current address for people registered in the county, otherwise a
    village of their home division."""
    code = resident.hukou_code
    if code == WENSHANG or not code:
        return resident.address
    province = PROVINCES.get(code[:2], "")
    county = COUNTIES.get(code, "")
    return f"{province}{county}{village}"
