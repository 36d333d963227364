"""The 政策找人 pages against the seeded tiny county: the catalogue and a policy's page,
the rule editor and its live check, a match's explanation, the door-visit list and its
form, the person page's 政策匹配 card, the dashboard — each for the demo accounts, scoped.

Matches come from a real matching run over the seeded county (rolled back after each
test), never from hand-made rows, so the pages show what a run really records.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from jiayuan.core.roles import Role
from jiayuan.org.models import Area, Membership
from jiayuan.people.models import Person
from jiayuan.policies import matching
from jiayuan.policies.choices import MatchStatus
from jiayuan.policies.models import Match, Policy, ReceivedBenefit, RuleVersion
from jiayuan.policies.registry import compile_policy_rule

pytestmark = pytest.mark.django_db

CODE = "gaoling-jintie"
ID_NUMBER = re.compile(r"\d{17}[\dX]")


@pytest.fixture
def as_user() -> Callable[[str | None], Client]:
    def make(username: str | None) -> Client:
        client = Client()
        if username is not None:
            client.force_login(get_user_model().objects.get(username=username))
        return client

    return make


def user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def grid_of(username: str) -> Area:
    return (
        Membership.objects.select_related("area")
        .get(user__username=username, role=Role.GRID_WORKER)
        .area
    )


@pytest.fixture
def matched(db: Any) -> list[Match]:
    """Pending 高龄津贴 tasks in the ``grid`` user's grid, found by a real matching run.

    Given: two residents of the grid are 81 (born 81 years ago, Shandong hukou, not yet
    receiving the allowance) — the tiny county's first grid has no one that old."""
    grid = grid_of("grid")
    today = timezone.localdate()
    people = list(
        Person.objects.filter(area_path__startswith=grid.path, death_date__isnull=True)
        .exclude(id_number_masked="")
        .order_by("pk")[:2]
    )
    for p in people:
        Person.objects.filter(pk=p.pk).update(
            birth_date=today.replace(year=today.year - 81), hukou_code="370830"
        )
    ReceivedBenefit.objects.filter(person__in=people, policy__code=CODE).delete()
    Match.objects.filter(person__in=people, policy__code=CODE).delete()
    matching.run_matching(today, codes=[CODE])
    found = list(
        Match.objects.filter(
            policy__code=CODE, area_path__startswith=grid.path, status=MatchStatus.PENDING
        ).order_by("pk")
    )
    assert len(found) >= 2
    return found


def other_grid_match() -> Match:
    grid = grid_of("grid")
    match = (
        Match.objects.exclude(area_path__startswith=grid.path)
        .filter(status=MatchStatus.PENDING)
        .order_by("pk")
        .first()
    )
    assert match is not None
    return match


def text(response: Any) -> str:
    return response.content.decode()


# --- access ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["policies:index", "policies:visits", "policies:dashboard"]
)  # fmt: skip
def test_pages_need_login_and_a_scope(as_user: Any, name: str) -> None:
    # given an anonymous visitor and a resident account (no area-wide permission)
    url = reverse(name)
    # then
    assert as_user(None).get(url).status_code == 302
    assert as_user("resident").get(url).status_code == 403
    assert as_user("grid").get(url).status_code == 200


# --- the catalogue ------------------------------------------------------------------------------
def test_index_lists_every_policy_with_counts_in_scope(as_user: Any, matched: list[Match]) -> None:
    # when
    response = as_user("grid").get(reverse("policies:index"))
    # then every policy is listed, with the open tasks of the grid only
    body = text(response)
    assert body.count('data-policy="') == Policy.objects.count() == 20
    grid = grid_of("grid")
    open_here = Match.objects.filter(
        policy__code=CODE, area_path__startswith=grid.path, status=MatchStatus.PENDING
    ).count()
    row = re.search(rf'data-policy="{CODE}".*?data-testid="open-count">(.*?)</td>', body, re.S)
    assert row is not None
    assert re.sub(r"<[^>]+>", "", row.group(1)).strip() == str(open_here)
    assert "高龄津贴" in body and "政策目录" in body


def test_detail_shows_basis_parameters_unknown_values_and_check_items(as_user: Any) -> None:
    # when
    body = text(as_user("community").get(reverse("policies:detail", args=[CODE])))
    # then the legal basis, the parameters with 未知 for the unknown amounts and their note
    assert "山东省老年人权益保障条例" in body and "第三十六条" in body
    assert "80–89周岁月标准" in body
    assert 'data-testid="unknown-value">未知' in body
    assert "由县级主管部门确定" in body
    assert "无需上门核实" in body  # 高龄津贴 has no verify(…)
    assert "hukou.startswith(&quot;37&quot;)" in body
    # a policy with verify(…) lists its check items
    body = text(as_user("community").get(reverse("policies:detail", args=["tekun-gongyang"])))
    assert "※ 无劳动能力" in body and "※ 无生活来源" in body


def test_detail_counts_matches_in_the_users_scope(as_user: Any, matched: list[Match]) -> None:
    community = Membership.objects.get(user__username="community", role=Role.COMMUNITY_STAFF).area
    expected = (
        Match.objects.filter(policy__code=CODE, area_path__startswith=community.path)
        .exclude(status=MatchStatus.UPCOMING)
        .count()
    )
    body = text(as_user("community").get(reverse("policies:detail", args=[CODE])))
    count = re.search(r'data-testid="match-count">(\d+)<', body)
    assert count is not None and int(count.group(1)) == expected > 0
    assert f"?policy={CODE}" in body  # the link to its matches
    # the community may not edit a county-wide policy; the admin may
    assert reverse("policies:edit", args=[CODE]) not in body
    admin_body = text(as_user("admin").get(reverse("policies:detail", args=[CODE])))
    assert reverse("policies:edit", args=[CODE]) in admin_body


def test_unknown_policy_is_404(as_user: Any) -> None:
    assert as_user("community").get(reverse("policies:detail", args=["no-such"])).status_code == 404


# --- the rule editor ----------------------------------------------------------------------------
def test_editor_is_for_county_administrators_only(as_user: Any) -> None:
    url = reverse("policies:edit", args=[CODE])
    assert as_user("community").get(url).status_code == 403
    response = as_user("admin").get(url)
    assert response.status_code == 200
    body = text(response)
    assert 'hx-post="' + reverse("policies:validate", args=[CODE]) in body
    assert "delay:400ms" in body  # validates as you type, debounced
    assert 'data-state="ok"' in body  # the current rule checks out on load


def test_editor_loads_the_stored_rules_count_after_the_page(as_user: Any) -> None:
    # given the editor opened on the stored rule
    url = reverse("policies:edit", args=[CODE])
    count_url = reverse("policies:rule_count", args=[CODE])
    client = as_user("admin")
    with CaptureQueriesContext(connection) as opened:
        body = text(client.get(url))
    # then the page asks for the count once it has rendered, and does not count itself
    assert f'hx-get="{count_url}"' in body and 'hx-trigger="load"' in body
    assert 'data-testid="rule-count">' not in body
    assert not [q for q in opened.captured_queries if "people_person" in q["sql"]]

    # when the page's request comes, it gets the count in the user's scope
    rule = compile_policy_rule(Policy.objects.get(code=CODE).rule)
    today = timezone.localdate()
    counts = {}
    for name in ("community", "admin"):
        response = as_user(name).get(count_url)
        assert response.status_code == 200
        found = re.search(r'data-testid="rule-count">(\d+)<', text(response))
        assert found is not None
        counts[name] = int(found.group(1))
        assert counts[name] == matching.count_matching(rule, today, user(name))
    assert 0 < counts["community"] < counts["admin"]


def test_rule_count_needs_staff_and_a_known_policy(as_user: Any) -> None:
    count_url = reverse("policies:rule_count", args=[CODE])
    assert as_user(None).get(count_url).status_code == 302
    assert as_user("resident").get(count_url).status_code == 403
    assert as_user("admin").get(reverse("policies:rule_count", args=["no-such"])).status_code == 404


def test_editor_counts_a_rule_sent_back_with_an_error_at_once(as_user: Any) -> None:
    # a rule that failed to save is shown with its own state, never the lazy count of
    # the stored rule
    body = text(as_user("admin").post(reverse("policies:edit", args=[CODE]), {"rule": "age >="}))
    assert 'data-state="error"' in body
    assert reverse("policies:rule_count", args=[CODE]) not in body


def test_validate_names_the_position_and_the_expected_token(as_user: Any) -> None:
    url = reverse("policies:validate", args=[CODE])
    client = as_user("admin")
    response = client.post(url, {"rule": "age >= >= 80"})
    body = text(response)
    assert response.status_code == 200
    assert 'data-state="error"' in body
    assert "第1行第8列" in body and "此处应为" in body
    assert '<mark class="jy-rule-at">&gt;=</mark>' in body
    # on the second line, at the end of the rule
    body = text(client.post(url, {"rule": 'age >= 80 and\nhas_tag("残疾人" '}))
    assert "第2行第14列" in body and "缺少右括号" in body
    assert 'data-line="2" data-column="14"' in body


def test_validate_rejects_unknown_fields_and_unsafe_forms(as_user: Any) -> None:
    url = reverse("policies:validate", args=[CODE])
    client = as_user("admin")
    body = text(client.post(url, {"rule": "salary > 3000"}))
    assert 'data-state="error"' in body and "salary" in body
    body = text(client.post(url, {"rule": "__import__('os').system('id')"}))
    assert 'data-state="error"' in body


def test_validate_counts_the_persons_matching_now_in_scope(as_user: Any) -> None:
    rule = "not deceased and age >= 60"
    today = timezone.localdate()
    compiled = compile_policy_rule(rule)
    # the community sees its community, the admin the county
    for name in ("community", "admin"):
        body = text(as_user(name).post(reverse("policies:validate", args=[CODE]), {"rule": rule}))
        count = re.search(r'data-testid="rule-count">(\d+)<', body)
        assert count is not None
        assert int(count.group(1)) == matching.count_matching(compiled, today, user(name))
    assert matching.count_matching(compiled, today, user("community")) < matching.count_matching(
        compiled, today, user("admin")
    )


def test_saving_a_rule_makes_a_new_version(as_user: Any) -> None:
    policy = Policy.objects.get(code=CODE)
    before = policy.version
    new_rule = 'not deceased and age >= 80 and hukou.startswith("3708")'
    response = as_user("admin").post(reverse("policies:edit", args=[CODE]), {"rule": new_rule})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.version == before + 1 and policy.rule == new_rule
    assert RuleVersion.objects.get(policy=policy, version=policy.version).rule == new_rule
    # the detail page shows the history with both versions
    body = text(as_user("admin").get(reverse("policies:detail", args=[CODE])))
    assert f"第 {before} 版" in body and f"第 {before + 1} 版" in body


def test_saving_an_invalid_rule_keeps_the_old_one(as_user: Any) -> None:
    policy = Policy.objects.get(code=CODE)
    response = as_user("admin").post(reverse("policies:edit", args=[CODE]), {"rule": "age >="})
    assert response.status_code == 422
    assert "第1行" in text(response)
    policy.refresh_from_db()
    assert policy.rule.startswith("not deceased and age >= 80")
    assert RuleVersion.objects.filter(policy=policy).count() == policy.version


# --- a match's explanation ----------------------------------------------------------------------
def test_match_page_shows_the_recorded_trace(as_user: Any, matched: list[Match]) -> None:
    match = matched[0]
    response = as_user("grid").get(reverse("policies:match", args=[match.pk]))
    assert response.status_code == 200
    body = text(response)
    # the trace: one readable line per condition with ✓
    trace = re.search(r'data-testid="trace">(.*?)</ul>', body, re.S)
    assert trace is not None
    lines = re.findall(r'data-kind="(\w+)"', trace.group(1))
    assert lines == ["ok", "ok", "ok"]
    assert "≥ 80 ✓" in trace.group(1)
    assert "以 37 开头 ✓" in trace.group(1)
    # the rule version, the recorded inputs, the person with masked PII only
    assert f"规则第 {match.rule_version.version} 版" in body
    assert "<code>age</code>" in body and "<code>hukou</code>" in body
    person = match.person
    assert person.name in body
    if person.id_number_masked:
        assert person.id_number_masked in body
    assert not ID_NUMBER.search(body)
    # the grid worker may record the visit here
    assert 'data-testid="visit-form"' in body


def test_match_explanation_does_not_change_with_the_record(
    as_user: Any, matched: list[Match]
) -> None:
    # given a matched person whose birth date is corrected afterwards
    match = matched[0]
    age = match.inputs["age"]
    Person.objects.filter(pk=match.person_id).update(birth_date=dt.date(1990, 1, 1))
    # then the explanation still reads what the run recorded
    body = text(as_user("grid").get(reverse("policies:match", args=[match.pk])))
    assert f"age = {age} ≥ 80 ✓" in body


def test_match_outside_the_scope_is_404(as_user: Any, matched: list[Match]) -> None:
    other = other_grid_match()
    assert as_user("grid").get(reverse("policies:match", args=[other.pk])).status_code == 404
    url = reverse("policies:visit", args=[other.pk])
    assert as_user("grid").post(url, {"outcome": "visited"}).status_code == 404
    other.refresh_from_db()
    assert other.status == MatchStatus.PENDING


def test_read_only_roles_see_no_visit_form(as_user: Any, matched: list[Match]) -> None:
    # given the compound's party branch secretary, who may view the zone but not change
    zone = Membership.objects.get(user__username="branch").area
    match = matched[0]
    assert match.area_path.startswith(zone.path)
    # then the explanation is there, the visit form is not, and a POST is refused
    body = text(as_user("branch").get(reverse("policies:match", args=[match.pk])))
    assert 'data-testid="trace"' in body
    assert 'data-testid="visit-form"' not in body
    url = reverse("policies:visit", args=[match.pk])
    assert as_user("branch").post(url, {"outcome": "visited"}).status_code == 403
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING


# --- the door-visit list ------------------------------------------------------------------------
def test_visit_list_is_scoped_and_ordered_by_due_date(as_user: Any, matched: list[Match]) -> None:
    grid = grid_of("grid")
    # given one task overdue
    late = matched[-1]
    Match.objects.filter(pk=late.pk).update(due_on=timezone.localdate() - dt.timedelta(days=3))
    # when
    body = text(as_user("grid").get(reverse("policies:visits") + "?status=all"))
    # then only the grid's tasks, by due date, the overdue one first and marked
    ids = [
        int(i)
        for i in re.findall(r'class="list-group-item jy-visit[^"]*" data-match="(\d+)"', body)
    ]
    assert ids
    rows = Match.objects.in_bulk(ids)
    assert all(rows[i].area_path.startswith(grid.path) for i in ids)
    dues = [rows[i].due_on or dt.date.max for i in ids]
    assert dues == sorted(dues)
    assert ids[0] == late.pk
    assert re.search(rf'jy-visit is-overdue" data-match="{late.pk}"', body)
    assert "逾期 3 天" in body


def test_visit_list_filters_by_status_and_policy(as_user: Any, matched: list[Match]) -> None:
    client = as_user("grid")
    match = matched[0]
    Match.objects.filter(pk=match.pk).update(status=MatchStatus.VISITED)
    body = text(client.get(reverse("policies:visits") + "?status=visited"))
    ids = {int(i) for i in re.findall(r'jy-visit[^"]*" data-match="(\d+)"', body)}
    assert ids == set(
        Match.objects.visible_to(user("grid"))
        .filter(status=MatchStatus.VISITED)
        .values_list("pk", flat=True)
    )
    body = text(client.get(reverse("policies:visits") + "?policy=laonian-youdai"))
    ids = {int(i) for i in re.findall(r'jy-visit[^"]*" data-match="(\d+)"', body)}
    assert all(Match.objects.get(pk=i).policy.code == "laonian-youdai" for i in ids)
    # the htmx filter swaps the list alone
    response = client.get(
        reverse("policies:visits") + "?status=open",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="visit-list",
    )
    assert text(response).lstrip().startswith('<div id="visit-list">')


def test_visit_list_query_count_does_not_grow_with_rows(as_user: Any, matched: list[Match]) -> None:
    client = as_user("community")
    base = reverse("policies:visits") + "?status=all"
    client.get(base)  # warm the scope and session caches

    def queries(url: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            body = text(client.get(url))
        return len(ctx.captured_queries), len(re.findall(r'jy-visit[^"]*" data-match=', body))

    many, many_rows = queries(base)
    one, one_rows = queries(f"{base}&q={matched[0].person.name}")
    assert many_rows > 5 and one_rows >= 1
    assert many == one


# --- recording a visit --------------------------------------------------------------------------
def test_grid_worker_records_a_grant_and_the_match_closes(
    as_user: Any, matched: list[Match]
) -> None:
    match = matched[0]
    since = timezone.localdate() - dt.timedelta(days=1)
    back = reverse("policies:visits")
    response = as_user("grid").post(
        reverse("policies:visit", args=[match.pk]),
        {"outcome": "granted", "since": since.isoformat(), "note": "已办理", "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    match.refresh_from_db()
    assert match.status == MatchStatus.GRANTED and match.closed_at is not None
    benefit = ReceivedBenefit.objects.get(person=match.person, policy=match.policy)
    assert benefit.since == since
    body = text(as_user("grid").get(reverse("policies:match", args=[match.pk])))
    assert 'data-status="granted"' in body and "已办结" in body
    assert 'data-testid="visit-form"' not in body  # closed: nothing left to record


def test_visit_through_htmx_redirects_with_a_header(as_user: Any, matched: list[Match]) -> None:
    match = matched[0]
    url = reverse("policies:visit", args=[match.pk])
    client = as_user("grid")
    form = client.get(url, HTTP_HX_REQUEST="true")
    assert text(form).lstrip().startswith("<form")  # the fragment for the dialog
    response = client.post(url, {"outcome": "visited"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("policies:match", args=[match.pk])
    match.refresh_from_db()
    assert match.status == MatchStatus.VISITED and match.visited_at is not None


def test_visit_form_errors(as_user: Any, matched: list[Match]) -> None:
    match = matched[0]
    url = reverse("policies:visit", args=[match.pk])
    client = as_user("grid")
    # 不符合 must name the failed check item
    response = client.post(url, {"outcome": "rejected"})
    assert response.status_code == 422
    assert "请选择不符合的核实事项" in text(response)
    # 已办结 needs the date the benefit starts
    response = client.post(url, {"outcome": "granted", "since": ""})
    assert response.status_code == 422 and "起始日期" in text(response)
    match.refresh_from_db()
    assert match.status == MatchStatus.PENDING
    # a 不符合 with the failed item is recorded
    response = client.post(url, {"outcome": "rejected", "failed_item": "登记信息与实际不符"})
    assert response.status_code == 302
    match.refresh_from_db()
    assert match.status == MatchStatus.REJECTED and match.failed_item == "登记信息与实际不符"
    # and nothing more can be recorded on a settled match
    assert client.post(url, {"outcome": "visited"}).status_code == 403


# --- the person page's card ---------------------------------------------------------------------
def test_person_page_lists_the_persons_matches(as_user: Any, matched: list[Match]) -> None:
    match = matched[0]
    body = text(as_user("grid").get(reverse("person", args=[match.person_id])))
    assert 'data-testid="policy-panel"' in body
    assert reverse("policies:match", args=[match.pk]) in body
    assert "高龄津贴" in body and "≥ 80 ✓" in body


# --- the dashboard ------------------------------------------------------------------------------
def test_dashboard_renders_scoped_figures(as_user: Any, matched: list[Match]) -> None:
    response = as_user("community").get(reverse("policies:dashboard"))
    assert response.status_code == 200
    body = text(response)
    data = json.loads(
        re.search(
            r'<script id="policy-dashboard-data" type="application/json">(.*?)</script>', body, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    community = Membership.objects.get(user__username="community", role=Role.COMMUNITY_STAFF).area
    in_scope = (
        Match.objects.filter(policy__code=CODE, area_path__startswith=community.path)
        .exclude(status=MatchStatus.UPCOMING)
        .count()
    )
    index = data["policies"]["names"].index("高龄津贴")
    assert data["policies"]["matched"][index] == in_scope
    assert sum(data["areas"]["matched"]) == sum(data["policies"]["matched"])
    assert "vendor/echarts/echarts.min.js" in body
    # a policy filter narrows the area breakdown
    body = text(as_user("community").get(reverse("policies:dashboard") + f"?policy={CODE}"))
    assert "政策找人统计：高龄津贴" in body


def test_nav_shows_the_entry_and_overdue_count(as_user: Any, matched: list[Match]) -> None:
    Match.objects.filter(pk=matched[0].pk).update(
        due_on=timezone.localdate() - dt.timedelta(days=1)
    )
    body = text(as_user("grid").get(reverse("home")))
    assert 'data-testid="nav-policies"' in body
    overdue = re.search(r'data-testid="nav-overdue">(\d+)<', body)
    assert overdue is not None and int(overdue.group(1)) >= 1
    assert 'data-testid="nav-policies"' not in text(as_user("resident").get(reverse("home")))
