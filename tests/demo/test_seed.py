"""The demo county: the tiny world every test runs in, and the county plan's figures."""

from __future__ import annotations

import itertools
from collections import Counter
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import F
from shapely.geometry import Point, shape
from shapely.ops import unary_union

from jiayuan.core import idnumber
from jiayuan.core.models import AuditEntry
from jiayuan.core.roles import Role
from jiayuan.demo.plan import plan_world
from jiayuan.demo.records import AS_OF, DEMO_USERNAMES
from jiayuan.demo.seed import counts_of, seed_demo
from jiayuan.org.models import Area, Membership, PartyOrganization
from jiayuan.people.choices import THREE_HEADS, PoliticalStatus, PositionRole
from jiayuan.people.models import (
    CentralHousehold,
    Household,
    Person,
    PersonTag,
    Position,
    Residence,
    Tag,
)

User = get_user_model()
db = pytest.mark.django_db


# --- tiling --------------------------------------------------------------------------------
@db
@pytest.mark.parametrize(
    ("parent_kind", "child_kind"),
    [("county", "street"), ("street", "community"), ("community", "zone"), ("zone", "grid")],
)
def test_children_tile_their_parent_without_gaps_or_overlaps(
    parent_kind: str, child_kind: str
) -> None:
    parents = list(Area.objects.filter(kind=parent_kind))
    assert parents
    for parent in parents:
        outer = shape(parent.boundary)
        inner = [shape(a.boundary) for a in parent.children.filter(kind=child_kind)]
        assert inner, f"{parent.name} has no {child_kind}"
        for geom in inner:
            assert geom.within(outer) or geom.equals(outer)
        for a, b in itertools.combinations(inner, 2):
            assert a.intersection(b).area == 0, f"overlap inside {parent.name}"
        assert unary_union(inner).symmetric_difference(outer).area < 1e-12, f"gap in {parent.name}"


@db
def test_every_bounded_area_has_its_centroid_inside_and_buildings_sit_in_their_grid() -> None:
    for area in Area.objects.filter(kind__in=["county", "street", "community", "zone", "grid"]):
        assert area.centroid is not None
        assert shape(area.boundary).contains(Point(area.centroid_lng, area.centroid_lat))
    for building in Area.objects.filter(kind="building").select_related("parent"):
        assert building.boundary is None
        point = Point(building.centroid_lng, building.centroid_lat)
        assert shape(building.parent.boundary).contains(point), building.path


@db
def test_the_tree_is_county_street_community_zone_grid_building_unit() -> None:
    order = ["county", "street", "community", "zone", "grid", "building", "unit"]
    county = Area.objects.get(kind="county")
    assert (county.code, county.name, county.path) == ("370830", "汶上县", "370830/")
    for area in Area.objects.exclude(kind="county").select_related("parent"):
        assert order.index(area.kind) == order.index(area.parent.kind) + 1
        assert area.path == f"{area.parent.path}{area.code}/"
        assert area.depth == area.parent.depth + 1
    assert Area.objects.get(kind="street").name == "中都街道"
    assert Area.objects.filter(kind="community").count() == 2


# --- persons -------------------------------------------------------------------------------
@db
def test_every_id_number_is_valid_unique_and_agrees_with_the_person() -> None:
    seen: set[str] = set()
    for person in Person.objects.all():
        value = person.reveal_id_number()
        parsed = idnumber.parse(value)
        assert value not in seen
        seen.add(value)
        assert (parsed.birth_date, parsed.gender) == (person.birth_date, person.gender)
        assert person.id_number_masked == value[:6] + "********" + value[-4:]
        assert person.id_number_enc and value not in person.id_number_enc
    assert 450 <= len(seen) <= 600


@db
def test_households_have_one_head_and_every_person_a_residence() -> None:
    for household in Household.objects.prefetch_related("members"):
        members = list(household.members.all())
        heads = [m for m in members if m.relation == "head"]
        assert household.head in heads and len(heads) == 1
        assert {m.dwelling_id for m in members} == {household.dwelling_id}
    assert Residence.objects.count() == Person.objects.count()
    assert not Residence.objects.exclude(person__dwelling=F("dwelling")).exists()


@db
def test_adults_have_mobiles_and_the_population_looks_like_a_county() -> None:
    people = list(Person.objects.all())
    ages = [p.age_on(AS_OF) or 0 for p in people]
    older = sum(a >= 60 for a in ages) / len(ages)
    assert 0.12 < older < 0.30
    assert any(a >= 80 for a in ages) and any(a < 6 for a in ages)
    for person, age in zip(people, ages, strict=True):
        if 18 <= age < 75:
            assert person.phone_masked, person.pk
            assert person.reveal_phone()[:1] == "1" and len(person.reveal_phone()) == 11
    statuses = Counter(p.political_status for p in people)
    assert statuses[PoliticalStatus.PARTY_MEMBER] >= 20
    assert statuses[PoliticalStatus.LEAGUE_MEMBER] > 0


# --- party structure, 三长, central households -----------------------------------------
@db
def test_party_organisation_at_every_level() -> None:
    for kind, org_kind in [
        ("street", "working_committee"),
        ("community", "committee"),
        ("zone", "branch"),
        ("grid", "group"),
    ]:
        areas = set(Area.objects.filter(kind=kind).values_list("pk", flat=True))
        orgs = set(
            PartyOrganization.objects.filter(kind=org_kind).values_list("area_id", flat=True)
        )
        assert areas == orgs, kind


@db
def test_three_heads_one_per_zone_building_and_unit_living_there() -> None:
    heads = Position.objects.filter(role__in=THREE_HEADS, end=None).select_related("person", "area")
    per_kind = Counter((h.role, h.area.kind) for h in heads)
    assert per_kind == {
        (PositionRole.ZONE_HEAD, "zone"): Area.objects.filter(kind="zone").count(),
        (PositionRole.BUILDING_HEAD, "building"): Area.objects.filter(kind="building").count(),
        (PositionRole.UNIT_HEAD, "unit"): Area.objects.filter(kind="unit").count(),
    }
    assert len({h.area_id for h in heads}) == heads.count()
    for head in heads:
        assert head.person.area_path.startswith(head.area.path), head


@db
def test_central_households_are_party_members_serving_households_of_their_grid() -> None:
    rows = CentralHousehold.objects.select_related("person", "grid").prefetch_related("households")
    assert rows.count() == 10
    for row in rows:
        assert row.grid.kind == "grid"
        assert row.person.is_party_member
        assert row.person.area_path.startswith(row.grid.path)
        served = list(row.households.all())
        assert 1 <= len(served) <= 12
        assert all(h.area_path.startswith(row.grid.path) for h in served)


@db
def test_each_grid_has_a_full_time_grid_worker() -> None:
    grids = set(Area.objects.filter(kind="grid").values_list("pk", flat=True))
    workers = Position.objects.filter(role=PositionRole.GRID_WORKER).values_list(
        "area_id", flat=True
    )
    assert sorted(workers) == sorted(grids)


# --- tags ----------------------------------------------------------------------------------
@db
def test_tag_catalogue_carries_the_attributes_policies_need() -> None:
    tags = {t.code: t for t in Tag.objects.all()}
    assert tags["残疾人"].attributes == ["category", "grade"]
    assert tags["退役军人"].attributes == ["kind", "enlisted_on"]
    assert tags["残疾军人"].attributes == ["cause", "grade"]
    assert tags["城乡居民养老保险"].attributes == ["contribution_years"]
    assert {c for c, t in tags.items() if t.scope == "household"} == {
        "低保",
        "特困",
        "低收入",
        "计生特殊家庭",
    }
    for row in PersonTag.objects.filter(tag__code="残疾人"):
        assert row.attributes["category"] in (
            "视力",
            "听力",
            "言语",
            "肢体",
            "智力",
            "精神",
            "多重",
        )
        assert row.attributes["grade"] in (1, 2, 3, 4)


@db
def test_living_situation_tags_follow_the_household() -> None:
    alone = PersonTag.objects.filter(tag__code="独居老人").select_related("person")
    assert alone.exists()
    for row in alone:
        assert row.person.age_on(AS_OF) >= 60
        assert row.person.household.members.filter(death_date=None).count() == 1
    for row in PersonTag.objects.filter(tag__code="空巢老人").select_related("person"):
        ages = [m.age_on(AS_OF) for m in row.person.household.members.filter(death_date=None)]
        assert len(ages) >= 2 and min(ages) >= 60
    # computed by the rule (age >= 80), never handed out by hand
    oldest = PersonTag.objects.filter(tag__code="高龄老人").select_related("person")
    assert oldest.exists() and {r.source for r in oldest} == {"rule"}
    assert all(r.person.age_on(AS_OF) >= 80 for r in oldest)


# --- accounts ------------------------------------------------------------------------------
@db
def test_demo_accounts_and_their_memberships() -> None:
    def only(username: str) -> Membership:
        user = User.objects.get(username=username)
        assert user.check_password(settings.DEMO_PASSWORD)
        assert not user.is_superuser
        return user.memberships.select_related("area").get()

    admin = only("admin")
    assert (admin.role, admin.area.kind) == (Role.COUNTY_ADMIN, "county")
    assert User.objects.get(username="admin").is_staff
    street = only("street")
    assert (street.role, street.area.name) == (Role.STREET_LEADER, "中都街道")
    community = only("community")
    first_community = Area.objects.filter(kind="community").order_by("path").first()
    assert (community.role, community.area) == (Role.COMMUNITY_STAFF, first_community)
    grid = only("grid")
    first_grid = Area.objects.filter(kind="grid", path__startswith=first_community.path).first()
    assert (grid.role, grid.area) == (Role.GRID_WORKER, first_grid)
    branch = only("branch")
    assert (branch.role, branch.area) == (Role.BRANCH_SECRETARY, first_grid.parent)
    head = only("head")
    assert head.role == Role.THREE_HEAD and head.area.parent == first_grid
    head_person = Person.objects.get(user__username="head")
    assert Position.objects.filter(
        person=head_person, area=head.area, role=PositionRole.BUILDING_HEAD
    ).exists()
    resident = only("resident")
    assert resident.role == Role.RESIDENT
    assert Person.objects.get(user__username="resident").area_path.startswith(first_grid.path)
    assert Position.objects.filter(
        person__user__username="branch", area=first_grid.parent, role=PositionRole.SECRETARY
    ).exists()
    assert Position.objects.filter(
        person__user__username="grid", area=first_grid, role=PositionRole.GRID_WORKER
    ).exists()


@db
def test_admin_uses_the_admin_site_without_being_a_superuser(client: Any) -> None:
    admin = User.objects.get(username="admin")
    assert admin.is_staff and not admin.is_superuser
    assert admin.has_perm("people.change_person") and admin.has_perm("people.reveal_pii")
    assert not User.objects.get(username="grid").is_staff
    client.force_login(admin)
    assert client.get("/admin/people/tag/").status_code == 200
    assert client.get("/admin/org/membership/").status_code == 200


@db
def test_demo_accounts_command_prints_each_account_with_the_password() -> None:
    out = StringIO()
    call_command("demo_accounts", stdout=out)
    text = out.getvalue()
    for username in DEMO_USERNAMES:
        assert f"\n{username} " in text
    assert settings.DEMO_PASSWORD in text and "中都街道" in text


# --- audit ---------------------------------------------------------------------------------
@db
def test_every_seeded_row_is_audited_without_secrets() -> None:
    for model in (Area, Person, Household, Residence, Position, CentralHousehold, PersonTag):
        label = model._meta.label_lower
        logged = AuditEntry.objects.filter(object_type=label, action="create", note="seed-demo")
        assert logged.count() == model.objects.count(), label
    person = Person.objects.exclude(phone_enc="").first()
    entry = AuditEntry.objects.for_object(person).get(action="create")
    assert entry.actor_name == "system"
    assert entry.changes["id_number"] == person.id_number_masked
    assert person.reveal_id_number() not in str(entry.changes)
    user_entry = AuditEntry.objects.get(object_type="auth.user", object_id=str(
        User.objects.get(username="admin").pk))  # fmt: skip
    assert "password" not in user_entry.changes


@db
def test_each_household_head_is_audited_once_with_its_diff() -> None:
    # the heads are set after the persons exist, through actions.bulk_update_each
    entries = AuditEntry.objects.filter(
        object_type="people.household", action="update", note="seed-demo"
    )
    heads = dict(Household.objects.values_list("pk", "head_id"))
    assert entries.count() == len(heads)
    for entry in entries:
        assert entry.changes == {"head_id": [None, heads[int(entry.object_id)]]}


@db
def test_seeded_door_visits_leave_what_record_visit_leaves() -> None:
    from jiayuan.policies.models import Match, MatchEvent, ReceivedBenefit

    visited = Match.objects.exclude(visited_at=None)
    assert visited.exists()
    for match in visited:
        events = MatchEvent.objects.filter(match=match, status=match.status)
        assert events.count() == 1, match.pk
        entry = AuditEntry.objects.for_object(match).get(action="update", note="上门走访")
        assert entry.changes["status"] == ["pending", match.status]
        if match.status == "granted":
            benefit = ReceivedBenefit.objects.get(match=match)
            assert events.get().data == {"benefit": benefit.pk}
            assert (benefit.person_id, benefit.policy_id) == (match.person_id, match.policy_id)
            assert benefit.area_path == match.area_path and benefit.source == "visit"
            assert AuditEntry.objects.for_object(benefit).filter(action="create").count() == 1
        if match.status in ("granted", "rejected", "declined"):
            assert match.closed_at is not None


# --- determinism and the plan ---------------------------------------------------------------
def test_same_seed_same_world_other_seed_other_world() -> None:
    one, two, other = plan_world("tiny", 7), plan_world("tiny", 7), plan_world("tiny", 8)

    def people(world: Any) -> list[tuple[str, str, str]]:
        return [(p.name, p.id_number, p.phone) for p in world.persons]

    assert people(one) == people(two)
    assert [a.boundary for a in one.areas] == [a.boundary for a in two.areas]
    assert [(t.owner, t.tag, t.attributes) for t in one.person_tags] == [
        (t.owner, t.tag, t.attributes) for t in two.person_tags
    ]
    assert people(one) != people(other)


@db
def test_the_database_holds_the_plan_for_seed_7() -> None:
    plan = plan_world("tiny", 7)
    planned = sorted((p.name, p.id_number) for p in plan.persons)
    stored = sorted((p.name, p.reveal_id_number()) for p in Person.objects.all())
    assert stored == planned


def test_county_plan_reproduces_the_published_figures_exactly() -> None:
    world = plan_world("county", 7)
    counts = counts_of(world)
    assert {k: counts[k] for k in ("streets", "communities", "party_branches", "grids")} == {
        "streets": 2,
        "communities": 26,
        "party_branches": 96,
        "grids": 270,
    }
    assert counts["central_households"] == 2619
    assert (counts["zones"], counts["buildings"], counts["units"]) == (96, 1512, 3023)
    assert counts["three_heads"] == 4631
    assert counts["forces"] >= 5700
    assert 140_000 <= counts["residents"] <= 160_000
    per_street = Counter(a.path[:11] for a in world.areas if a.kind == "community")
    assert per_street == {"370830/001/": 14, "370830/002/": 12}
    secretaries = Counter(
        x.appointed for x in world.positions if x.role == "secretary" and x.area.count("/") == 4
    )
    assert secretaries == {"concurrent": 65, "seconded": 14, "elected": 17}
    n = counts["residents"]
    ages = [p.age() for p in world.persons]
    assert 0.17 < sum(a >= 60 for a in ages) / n < 0.25
    assert 0.02 < sum(a >= 80 for a in ages) / n < 0.045
    assert 0.05 < counts["party_members"] / n < 0.09
    tags = Counter(t.tag for t in world.person_tags)
    assert 0.05 < tags["残疾人"] / n < 0.07
    assert 0.01 < tags["退役军人"] / n < 0.02
    household_tags = Counter(t.tag for t in world.household_tags)
    assert 0.02 < household_tags["低保"] / counts["households"] < 0.04
    assert 0.002 < household_tags["特困"] / counts["households"] < 0.008


# --- seeding twice, createuser ------------------------------------------------------------
@db
def test_if_empty_skips_a_seeded_database() -> None:
    before = Area.objects.count()
    assert seed_demo("tiny", 7, progress=False, if_empty=True) == {"skipped": True}
    assert Area.objects.count() == before


@db
def test_createuser_grants_a_role_at_an_area_by_full_code() -> None:
    grid = Area.objects.filter(kind="grid").order_by("path").last()
    person = Person.objects.filter(area_path__startswith=grid.path, user=None).first()
    out = StringIO()
    call_command(
        "createuser",
        "wang",
        "--role",
        "grid_worker",
        "--area",
        grid.full_code,
        "--password",
        "a-long-password",
        "--person-id",
        str(person.pk),
        stdout=out,
    )
    user = User.objects.get(username="wang")
    assert user.check_password("a-long-password")
    assert [(m.role, m.area_id) for m in user.memberships.all()] == [("grid_worker", grid.pk)]
    person.refresh_from_db()
    assert person.user == user
    assert Person.objects.visible_to(user).filter(pk=person.pk).exists()
    assert AuditEntry.objects.filter(object_type="org.membership", note="createuser").exists()


@db
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--role", "mayor", "--area", "370830/"], "--role"),
        (["--role", "grid_worker", "--area", "999999"], "--area"),
        (["--role", "grid_worker", "--area", "370830/", "--person-id", "0"], "--person-id"),
    ],
)
def test_createuser_names_the_bad_argument_in_both_languages(args: list[str], named: str) -> None:
    with pytest.raises(CommandError) as caught:
        call_command("createuser", "li", *args)
    message = str(caught.value)
    assert named in message and " / " in message
    assert not User.objects.filter(username="li").exists()
