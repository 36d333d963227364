"""Incremental matching gives the matches a full pass gives (issue 10).

From one state of the tiny county (a full run on ``D0``), random changes are applied to
residents, their tags, households and benefits, then a later run on ``D`` is made twice
from the same state: incrementally (only the persons that may have changed) and in
full. Both must leave the same matches, with the same explanations. The days between
the runs go up to a year and a half, so people turn 60, 65 and 80, tags and benefits
start and end, and recheck intervals run out between them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiayuan.people.models import Household, HouseholdTag, Person, PersonTag, Tag
from jiayuan.policies import matching
from jiayuan.policies.choices import MatchStatus
from jiayuan.policies.matching import (
    age_thresholds,
    crossing_windows,
    explain,
    inputs_json_sql,
    run_matching,
)
from jiayuan.policies.models import Match, MatchEvent, PersonChange, Policy, ReceivedBenefit
from jiayuan.policies.reads import MEMBERS, TAG, reads_of
from jiayuan.policies.registry import compile_policy_rule

pytestmark = pytest.mark.django_db
D0 = dt.date(2026, 11, 28)
PERSON_TAGS = ("残疾人", "高龄老人", "独居老人", "工伤护理费", "退役军人", "在职党员")
HOUSEHOLD_TAGS = ("低保", "特困", "低收入")
# ages, residence, household tags, person tags and tag attributes (the Python path)
CODES = [
    "gaoling-jintie", "laonian-gongjiao", "laonian-tijian", "kunnan-laoren-butie",
    "tekun-gongyang", "canji-shenghuo-butie", "zhongdu-canji-huli", "dibao",
]  # fmt: skip
LONG_AGO = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def settle_the_seed() -> None:
    """The session's seed is minutes old, within the run's margin: date it back, as a
    county's data is, so that only what a test changes counts as changed."""
    for model in (Person, PersonTag, HouseholdTag, ReceivedBenefit):
        model.objects.update(created_at=LONG_AGO)
    PersonChange.objects.all().delete()


def snapshot() -> set[tuple[Any, ...]]:
    return {
        (m.policy_id, m.person_id, m.status, m.kind, m.ref_date, m.eligible_on, m.close_reason,
         repr(sorted(m.inputs.items())), tuple(m.check_items))
        for m in Match.objects.all()
    }  # fmt: skip


def apply(change: tuple[Any, ...], persons: list[int], households: list[int]) -> None:
    what, i, j, days = change
    pid = persons[i % len(persons)]
    on = D0 + dt.timedelta(days=days)
    if what == "death":
        Person.objects.filter(pk=pid).update(death_date=on)
    elif what == "birth":
        # near a threshold: 59, 64, 79 years before a day around the runs
        years = (59, 64, 79, 15)[j % 4]
        born = on.replace(year=on.year - years) if (on.month, on.day) != (2, 29) else on
        Person.objects.filter(pk=pid).update(birth_date=born)
    elif what == "away":
        Person.objects.filter(pk=pid).update(residence_status=("away", "resident")[j % 2])
    elif what == "move":
        Person.objects.filter(pk=pid).update(household_id=households[j % len(households)])
    elif what == "tag":
        tag = Tag.objects.get(code=PERSON_TAGS[j % len(PERSON_TAGS)])
        attrs = {"category": "肢体", "grade": 1 + j % 4} if tag.code == "残疾人" else {}
        PersonTag.objects.filter(person_id=pid, tag=tag, valid_until__isnull=True).delete()
        PersonTag.objects.create(
            person_id=pid, tag=tag, attributes=attrs, valid_from=on, area_path="",
            valid_until=on + dt.timedelta(days=30 + j * 7) if j % 2 else None,
        )  # fmt: skip
    elif what == "untag":
        row = PersonTag.objects.filter(person_id=pid).order_by("pk").first()
        if row is not None and j % 2:
            row.delete()
        elif row is not None:
            PersonTag.objects.filter(pk=row.pk).update(valid_until=on)
    elif what == "household":
        hid = households[j % len(households)]
        tag = Tag.objects.get(code=HOUSEHOLD_TAGS[j % len(HOUSEHOLD_TAGS)])
        found = HouseholdTag.objects.filter(household_id=hid, tag=tag)
        if found.exists():
            found.update(valid_until=on) if j % 2 else found.delete()
        else:
            HouseholdTag.objects.create(household_id=hid, tag=tag, valid_from=on, area_path="")
    elif what == "benefit":
        policy = Policy.objects.order_by("code")[j % Policy.objects.count()]
        ReceivedBenefit.objects.create(
            person_id=pid, policy=policy, since=on, area_path="",
            until=on + dt.timedelta(days=60) if j % 2 else None,
        )  # fmt: skip
    elif what == "settle":
        m = Match.objects.filter(person_id=pid, status=MatchStatus.PENDING).first()
        if m is not None:
            Match.objects.filter(pk=m.pk).update(
                status=MatchStatus.DECLINED, closed_at=m.created_at - dt.timedelta(days=days)
            )


changes = st.lists(
    st.tuples(
        st.sampled_from(
            ["death", "birth", "away", "move", "tag", "untag", "household", "benefit", "settle"]
        ),
        st.integers(0, 10_000),
        st.integers(0, 50),
        st.integers(-400, 500),
    ),
    max_size=12,
)


@pytest.fixture
def world() -> tuple[list[int], list[int]]:
    # the state both runs start from: a full run on D0 (the seed matched on its own day)
    settle_the_seed()
    run_matching(D0, codes=CODES, full=True)
    # many persons near the interesting ages, a few others
    persons = list(
        Person.objects.filter(birth_date__lte=dt.date(1967, 12, 31)).order_by("pk")
        .values_list("pk", flat=True)[:300]
    ) + list(Person.objects.order_by("-pk").values_list("pk", flat=True)[:50])  # fmt: skip
    households = list(Household.objects.order_by("pk").values_list("pk", flat=True)[:200])
    return persons, households


@settings(
    max_examples=6,
    deadline=None,
    database=None,  # no .hypothesis directory in the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(changes=changes, gap=st.sampled_from([1, 1, 2, 7, 31, 200, 400]))
def test_incremental_and_full_runs_give_the_same_matches(
    world: tuple[list[int], list[int]], changes: list[tuple[Any, ...]], gap: int
) -> None:
    persons, households = world
    day = D0 + dt.timedelta(days=gap)
    with transaction.atomic():
        # given: random changes after the D0 run
        for change in changes:
            apply(change, persons, households)
        # when: the next run, incrementally, then (from the same state) in full
        point = transaction.savepoint()
        incremental = run_matching(day, codes=CODES)
        after_incremental = snapshot()
        transaction.savepoint_rollback(point)
        full = run_matching(day, codes=CODES, full=True)
        after_full = snapshot()
        transaction.set_rollback(True)
    # then
    modes = {entry["mode"] for entry in incremental.summary.values()}
    assert modes == {"incremental"}
    # nothing else was read: far from everyone was re-evaluated on a short gap
    if gap <= 7:
        scopes = [entry["scope"] for entry in incremental.summary.values()]
        assert max(scopes) < Person.objects.count() // 2
    assert after_incremental == after_full
    # the open counts shown per policy agree too
    assert {c: e["open"] for c, e in incremental.summary.items()} == {
        c: e["open"] for c, e in full.summary.items()
    }


def test_an_incremental_run_reads_only_the_changed_and_the_crossing(grid_unit_id: int) -> None:
    # given: a full run, then one resident created and one turning 80 the next day
    settle_the_seed()
    run_matching(D0, codes=["gaoling-jintie"], full=True)
    turning = Person.objects.create(
        name="明日八十", area_id=grid_unit_id, birth_date=dt.date(1946, 11, 29),
        hukou_code="370830",
    )  # fmt: skip
    PersonChange.objects.all().delete()
    Person.objects.filter(pk=turning.pk).update(created_at=LONG_AGO)
    newcomer = Person.objects.create(
        name="新来的", area_id=grid_unit_id, birth_date=dt.date(1950, 1, 1), hukou_code="370830"
    )
    # when
    run = run_matching(D0 + dt.timedelta(days=1), codes=["gaoling-jintie"])
    # then: only a handful of persons were looked at, and both were found
    entry = run.summary["gaoling-jintie"]
    assert entry["mode"] == "incremental"
    assert entry["scope"] < Person.objects.count() // 10
    found = set(
        Match.objects.filter(policy__code="gaoling-jintie", run=run).values_list(
            "person_id", flat=True
        )
    )
    assert turning.pk in found
    # the newcomer (76) was read and is not eligible; laonian-youdai did not run
    assert not Match.objects.filter(person=newcomer, policy__code="laonian-youdai").exists()


@pytest.fixture
def grid_unit_id() -> int:
    unit = Person.objects.order_by("pk").values_list("area_id", flat=True).first()
    assert unit is not None
    return unit


def test_an_edited_rule_makes_the_next_pass_full() -> None:
    run_matching(D0, codes=["gaoling-jintie"], full=True)
    again = run_matching(D0, codes=["gaoling-jintie"])
    assert again.summary["gaoling-jintie"]["mode"] == "incremental"
    Policy.objects.filter(code="gaoling-jintie").update(
        rule='not deceased and age >= 81 and hukou.startswith("37")', version=99
    )
    edited = run_matching(D0, codes=["gaoling-jintie"])
    assert edited.summary["gaoling-jintie"]["mode"] == "full"
    # a run going back in time is full too
    earlier = run_matching(D0 - dt.timedelta(days=3), codes=["gaoling-jintie"])
    assert earlier.summary["gaoling-jintie"]["mode"] == "full"


def test_updates_and_deletes_are_logged_by_the_database() -> None:
    # given: rows changed without Django's save(): no signal, no updated_at
    person = Person.objects.exclude(household=None).order_by("pk").first()
    assert person is not None
    PersonChange.objects.all().delete()
    # when
    Person.objects.filter(pk=person.pk).update(death_date=D0)
    tag = PersonTag.objects.order_by("pk").first()
    assert tag is not None
    PersonTag.objects.filter(pk=tag.pk).delete()
    # then: each row says what changed (the person's column, the household's members,
    # the tag)
    logged = set(PersonChange.objects.values_list("person_id", "household_id", "changed", "ref_id"))
    assert logged == {
        (person.pk, None, "death_date", None),
        (None, person.household_id, "members", None),
        (tag.person_id, None, "tag", tag.tag_id),
    }


def test_an_update_that_changes_no_value_is_not_logged() -> None:
    person = Person.objects.exclude(household=None).order_by("pk").first()
    assert person is not None
    PersonChange.objects.all().delete()
    Person.objects.filter(pk=person.pk).update(
        residence_status=person.residence_status, birth_date=person.birth_date
    )
    assert not PersonChange.objects.exists()
    # a move logs the person's household and both households' members
    other = Household.objects.exclude(pk=person.household_id).order_by("pk").first()
    assert other is not None
    Person.objects.filter(pk=person.pk).update(household=other)
    assert set(PersonChange.objects.values_list("person_id", "household_id", "changed")) == {
        (person.pk, None, "household_id"),
        (None, person.household_id, "members"),
        (None, other.pk, "members"),
    }


def run_on(day: dt.date, codes: list[str]) -> dict[str, Any]:
    """The scope of each policy's incremental pass; then what it read is dated back (the
    next run reads again what changed within its margin before this one)."""
    run = run_matching(day, codes=codes)
    assert {e["mode"] for e in run.summary.values()} == {"incremental"}
    settle_the_seed()
    MatchEvent.objects.update(at=LONG_AGO)
    return {code: entry["scope"] for code, entry in run.summary.items()}


def test_a_change_to_an_input_a_rule_does_not_read_leaves_its_scope_empty() -> None:
    # given: a full run, then a resident moving away, then a disability tag
    settle_the_seed()
    codes = ["gaoling-jintie", "laonian-tijian", "canji-gongjiao", "yibao-zizhu"]
    run_matching(D0, codes=codes, full=True)
    # the seed's matches were settled minutes ago, within the run's margin: long ago
    MatchEvent.objects.update(at=LONG_AGO)
    person = Person.objects.filter(residence_status="resident").order_by("pk").first()
    assert person is not None
    Person.objects.filter(pk=person.pk).update(residence_status="away")
    # when: the next run on the same day (no date crosses)
    scopes = run_on(D0, codes)
    # then: only 老年人健康体检 (reads the residence) re-reads the person
    assert scopes == {"gaoling-jintie": 0, "laonian-tijian": 1, "canji-gongjiao": 0,
                      "yibao-zizhu": 0}  # fmt: skip
    # a person tag concerns the rules reading that tag, not a household tag's rules
    PersonTag.objects.create(
        person=person, tag=Tag.objects.get(code="残疾人"), valid_from=D0, area_path="",
        attributes={"category": "肢体", "grade": 2},
    )  # fmt: skip
    assert run_on(D0, codes) == {"gaoling-jintie": 0, "laonian-tijian": 0,
                                 "canji-gongjiao": 1, "yibao-zizhu": 0}  # fmt: skip
    # a household tag concerns the household's members under rules reading it
    assert person.household_id is not None
    HouseholdTag.objects.create(
        household_id=person.household_id, tag=Tag.objects.get(code="特困"), valid_from=D0,
        area_path="",
    )  # fmt: skip
    members = Person.objects.filter(household_id=person.household_id).count()
    assert run_on(D0, codes) == {"gaoling-jintie": 0, "laonian-tijian": 0,
                                 "canji-gongjiao": 0, "yibao-zizhu": members}  # fmt: skip
    # a death concerns every rule (each reads ``deceased``)
    Person.objects.filter(pk=person.pk).update(death_date=D0)
    assert set(run_on(D0, codes).values()) == {1}


def test_what_a_rule_reads_comes_from_its_leaves() -> None:
    rule = compile_policy_rule(
        'not deceased and age >= 60 and household.has_tag("低保") and has_tag("残疾人") '
        'and receives("gaoling-jintie")'
    )
    reads = reads_of(rule, "dibao")
    assert reads.columns == {"death_date", "birth_date", "household_id"}
    assert reads.tags == {"残疾人"} and reads.household_tags == {"低保"}
    assert reads.benefits == {"gaoling-jintie", "dibao"} and not reads.members
    assert not reads.person("residence_status", None)
    assert not reads.person(TAG, "独居老人") and reads.person(TAG, "残疾人")
    assert not reads.household(MEMBERS, None) and reads.household(TAG, "低保")
    # the household's composition: size, living alone
    assert reads_of(compile_policy_rule("lives_alone"), "x").members
    assert reads_of(compile_policy_rule("household.size >= 3"), "x").members
    # a row logged before the log said what changed concerns every rule
    assert reads.person("", None) and reads.household("", None)


def test_recorded_inputs_written_by_the_database_are_the_python_ones() -> None:
    # every shipped rule the database encodes: the JSON it writes is read_inputs' own
    checked = 0
    for policy in Policy.objects.order_by("code"):
        rule = compile_policy_rule(policy.rule)
        if inputs_json_sql(rule, "s") is None or rule.fixed_check_items is None:
            continue
        Match.objects.filter(policy=policy).delete()
        version = matching.rule_version(policy)
        persons = matching._candidates(policy, rule, D0).order_by("pk")[:40]
        ids = list(persons.values_list("pk", flat=True))
        chosen = Person.objects.filter(pk__in=ids)
        made = matching._insert(policy, rule, version, {}, D0, chosen, None, "pending")
        assert made == len(ids)
        columns = rule.input_columns(D0)
        rows = chosen.annotate(**columns).values("pk", *columns)
        expected = {row["pk"]: rule.read_inputs(row) for row in rows}
        for m in Match.objects.filter(policy=policy):
            assert m.inputs == expected[m.person_id], (policy.code, m.person_id)
            assert explain(m).matched
        checked += 1
    assert checked >= 10, connection.vendor


def test_age_thresholds_come_from_the_rule() -> None:
    rule = compile_policy_rule('not deceased and age >= 80 and hukou.startswith("37")')
    assert age_thresholds(rule) == {0, 80, 81}
    assert age_thresholds(compile_policy_rule("age + 5 >= 60")) is None
    assert crossing_windows(D0, D0 + dt.timedelta(days=1), 30) == [
        (D0, D0 + dt.timedelta(days=1)),
        (D0 + dt.timedelta(days=30), D0 + dt.timedelta(days=31)),
    ]
    # a long gap: the two spans merge
    assert crossing_windows(D0, D0 + dt.timedelta(days=40), 30) == [
        (D0, D0 + dt.timedelta(days=70))
    ]


def test_arrivals_written_by_the_database_are_the_python_ones(grid_unit_id: int) -> None:
    # given: upcoming matches of every policy that looks ahead: residents turning 60, 65
    # and 80 within days
    settle_the_seed()
    for years, days in ((60, 3), (65, 5), (80, 9)):
        born = (D0 + dt.timedelta(days=days)).replace(year=D0.year - years)
        Person.objects.create(
            name=f"将满{years}岁", area_id=grid_unit_id, birth_date=born, hukou_code="370830"
        )
    run_matching(D0, full=True)
    upcoming = list(
        Match.objects.filter(status=MatchStatus.UPCOMING)
        .order_by("policy_id", "eligible_on", "pk")
        .values_list("policy_id", "eligible_on", "pk")
    )
    groups: dict[tuple[int, dt.date], list[int]] = {}
    for policy_id, on, pk in upcoming:
        groups.setdefault((policy_id, on), []).append(pk)
    assert len({policy_id for policy_id, _ in groups}) >= 3

    def arrive(by_python: bool) -> set[tuple[Any, ...]]:
        point = transaction.savepoint()
        for (policy_id, on), ids in groups.items():
            policy = Policy.objects.get(pk=policy_id)
            rule = compile_policy_rule(policy.rule)
            version = matching.rule_version(policy)
            params = matching.parameters_on(policy, on)
            if by_python:
                matching._arrive_in_python(policy, rule, version, params, on, ids)
            else:
                matching._arrive(policy, rule, version, params, on, ids)
        arrived = Match.objects.filter(pk__in=[pk for _, _, pk in upcoming])
        out = {
            (m.pk, m.status, m.kind, m.ref_date, m.due_on, m.rule_version_id,
             repr(sorted(m.inputs.items())), tuple(m.check_items), repr(m.parameters))
            for m in arrived
        }  # fmt: skip
        assert all(explain(m).matched for m in arrived)
        transaction.savepoint_rollback(point)
        return out

    # when: the database writes the arrivals, then (from the same state) Python
    with transaction.atomic():
        by_database = arrive(by_python=False)
        by_python = arrive(by_python=True)
    # then
    assert {row[1] for row in by_database} == {MatchStatus.PENDING}
    assert by_database == by_python
