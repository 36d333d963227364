"""A community canteen run by a red partner through its five stages, in Chromium against a
real ``jiayuan serve`` on the seeded tiny county (issue 14): the community account
registers two partners, proposes 长者食堂 with its proposal, and the committee approves
立项; it opens the call, records both partners' applications, closes it, scores them as
the panel, selects the top of the ranking and publishes it, approves 发包; drafts the
agreement, files the signed copy, signs it and approves 协议; records an inspection with
a finding and approves 监管. The resident rates the canteen on the phone page
(/m/partners/), and the committee evaluates the quarter: the grade, the quarter's feedback
and the trend. Screenshots go to var/screenshots/partners-*.png."""

from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path
from typing import Any

import pytest

from jiayuan.partners import identity
from jiayuan.partners.demo import demo_pdf

from .conftest import Site, login

pytestmark = pytest.mark.browser

CANTEEN = "翔宇社区长者食堂"
WINNER = "汶上县翔宇邻里餐饮服务中心"
RUNNER_UP = "翔宇银龄志愿服务队"


def _pdf(name: str) -> dict[str, Any]:
    return {"name": name, "mimeType": "application/pdf", "buffer": demo_pdf()}


def _shot(page: Any, screenshots: Path, name: str) -> None:
    page.screenshot(path=str(screenshots / f"partners-{name}.png"), full_page=True)


def _steps(page: Any) -> dict[str, str]:
    """The stepper as the page shows it: stage → state."""
    items = page.get_by_test_id("stepper").locator("li")
    return {
        items.nth(i).get_attribute("data-stage"): items.nth(i).get_attribute("data-state")
        for i in range(items.count())
    }


def _upload(page: Any, kind: str, title: str) -> None:
    form = page.get_by_test_id("document-form")
    form.locator("select[name=kind]").select_option(kind)
    form.locator("input[name=title]").fill(title)
    form.locator("input[name=file]").set_input_files(_pdf(f"{kind}.pdf"))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert title in page.get_by_test_id("documents").inner_text()


def _approve(page: Any, reasons: str) -> None:
    assert page.get_by_test_id("ready").is_visible(), page.get_by_test_id(
        "current-stage"
    ).inner_text()
    form = page.get_by_test_id("decision-form")
    form.locator("select[name=decision]").select_option("approved")
    form.locator("textarea[name=reasons]").fill(reasons)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def _register(page: Any, site: Site, kind: str, name: str, uscc: str = "") -> None:
    page.goto(site.url + "/partners/new/")
    page.select_option("#id_kind", kind)
    page.fill("#id_name", name)
    page.select_option("#id_area", label="翔宇社区")
    if uscc:
        page.fill("#id_uscc", uscc)
    page.fill("#id_legal_representative", "李秀兰")
    page.get_by_test_id("partner-form").locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/partners/\d+/$"))


def test_a_canteen_through_five_stages_feedback_and_evaluation(
    site: Site, desktop: Any, phone: Any, screenshots: Path
) -> None:
    page = desktop
    login(page, site, "community")
    community_path = "370830/001/001/"
    (room,) = site.query(
        "SELECT r.id FROM community_room r JOIN community_serviceposition p"
        " ON p.id = r.position_id WHERE p.kind = 'centre' AND p.area_path LIKE ?"
        " ORDER BY r.id DESC LIMIT 1",
        community_path + "%",
    )[0:1]
    uscc = identity.generate("370830", random.Random(14), authority="5", category="2")

    # --- two partners in the registry: a social organisation (with its code) and a team
    _register(page, site, "social_org", WINNER, uscc)
    assert uscc in page.get_by_test_id("identity").inner_text()
    _register(page, site, "volunteer_team", RUNNER_UP)

    # --- 立项: propose the canteen in a room of the centre, file the proposal, approve
    page.goto(site.url + "/partners/projects/new/")
    form = page.get_by_test_id("project-form")
    form.locator("#id_name").fill(CANTEEN)
    form.locator("#id_content").fill("为辖区老人提供午餐堂食和送餐上门，80 岁以上老人优惠。")
    form.locator("#id_space").select_option(f"room:{room[0]}")
    for day in ("1", "2", "3", "4", "5"):
        form.locator(f"input[name=days][value='{day}']").check()
    form.locator("#id_start").fill("10:30")
    form.locator("#id_end").fill("13:00")
    form.locator("#id_price_class").select_option("low_cost")
    form.locator("#id_price_cap").fill("12")
    form.locator("input[name=target_groups][value='高龄']").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/partners/projects/\d+/$"))
    project_url = page.url
    assert _steps(page)["proposal"] == "current"
    assert "缺少项目申报书" in page.get_by_test_id("missing").inner_text()
    _upload(page, "proposal", "长者食堂项目申报书")
    _shot(page, screenshots, "1-proposal")
    _approve(page, "辖区高龄老人多，助餐需求迫切，同意立项。")
    steps = _steps(page)
    assert steps["proposal"] == "done" and steps["call"] == "current"

    # --- 发包: the open call, two applications, the panel's scores, the selection
    form = page.get_by_test_id("call-form")
    closes = (dt.datetime.now() + dt.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    form.locator("input[name=closes_at]").fill(closes)
    form.get_by_label("community", exact=True).check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/partners/calls/\d+/$"))
    assert page.get_by_test_id("call-status").inner_text() == "报名中"
    for name, price, plan in (
        (WINNER, "10", "中央厨房配送，营养师配餐，每天两荤两素。"),
        (RUNNER_UP, "11", "志愿者轮值做饭，每周开放五天。"),
    ):
        apply = page.get_by_test_id("apply-form")
        apply.locator("select[name=partner]").select_option(label=name)
        apply.locator("textarea[name=plan]").fill(plan)
        apply.locator("input[name=offered_price]").fill(price)
        apply.locator("button[type=submit]").click()
        page.wait_for_load_state()
    page.get_by_test_id("call-close").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("call-status").inner_text() == "评审中"
    marks = {WINNER: ("92", "85", "90"), RUNNER_UP: ("80", "88", "75")}
    for name, values in marks.items():
        score = page.get_by_test_id("score-form").filter(has_text=name)
        for field, value in zip(score.locator("input[name^=score_]").all(), values, strict=True):
            field.fill(value)
        score.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert not page.get_by_test_id("call-error").count()
    ranks = page.get_by_test_id("scores").inner_text()
    # 40 × 92 + 30 × 85 + 30 × 90 = 8930 → 89.30; 40 × 80 + 30 × 88 + 30 × 75 = 8090 → 80.90
    assert [t.inner_text() for t in page.get_by_test_id("total").all()] == ["89.30", "80.90"]
    assert ranks.index(WINNER) < ranks.index(RUNNER_UP)
    select = page.get_by_test_id("select-form")
    assert "第1名" in select.locator("select[name=application]").inner_text()
    select.locator("button[type=submit]").click()
    page.wait_for_load_state()
    publish = page.get_by_test_id("publish-form")
    publish.locator("input[name=title]").fill("长者食堂合伙人遴选结果公示")
    publish.locator("input[name=file]").set_input_files(_pdf("result.pdf"))
    publish.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("call-status").inner_text() == "已公示"
    assert WINNER in page.get_by_test_id("published").inner_text()
    _shot(page, screenshots, "2-call")
    page.goto(project_url)
    _upload(page, "call", "长者食堂合伙人公开招募公告")
    _approve(page, "程序合规，公示无异议，同意遴选结果。")
    assert _steps(page)["agreement"] == "current"
    assert WINNER in page.get_by_test_id("project-partner").inner_text()

    # --- 协议: draft, file the signed copy, sign, approve
    terms = page.get_by_test_id("terms-form")
    today = dt.date.today()  # the page's own default: the local day
    terms.locator("input[name=ends_on]").fill(today.replace(year=today.year + 2).isoformat())
    terms.locator("textarea[name=obligations]").fill("乙方按公示价格供餐，甲方无偿提供场地。")
    terms.locator("textarea[name=exit_conditions]").fill("信用分降至清退线的，经党委决定清退。")
    terms.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/partners/agreements/\d+/$"))
    agreement_url = page.url
    assert page.get_by_test_id("agreement-status").inner_text() == "待签订"
    page.goto(project_url)
    _upload(page, "agreement", "长者食堂合作协议（签字盖章）")
    page.goto(agreement_url)
    page.get_by_test_id("sign-form").locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("agreement-status").inner_text() == "履行中"
    page.goto(project_url)
    _approve(page, "协议条款完备，已签订，同意。")
    assert _steps(page)["supervision"] == "current"
    _shot(page, screenshots, "3-agreement")

    # --- 监管: an inspection with a finding, its record filed, approved
    project_id = int(project_url.rstrip("/").rsplit("/", 1)[-1])
    page.goto(site.url + f"/partners/supervision/inspections/new/?project={project_id}")
    form = page.get_by_test_id("inspection-form")
    form.locator("#project").select_option(str(project_id))
    form.locator("#summary").fill("检查后厨卫生、食材台账和留样记录。")
    form.locator("#finding-0-text").fill("食品留样记录缺少一餐")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/partners/supervision/inspections/\d+/$"))
    assert "食品留样记录缺少一餐" in page.get_by_test_id("finding-list").inner_text()
    page.goto(project_url)
    _upload(page, "inspection", "长者食堂监管检查记录")
    _approve(page, "监管检查正常开展，问题已明确整改期限。")
    steps = _steps(page)
    assert steps["supervision"] == "done" and steps["evaluation"] == "current"
    _shot(page, screenshots, "4-supervision")

    # --- the resident rates the canteen on the phone
    login(phone, site, "resident")
    phone.goto(site.url + "/m/partners/")
    assert CANTEEN in phone.get_by_test_id("phone-projects").inner_text()
    phone.get_by_test_id(f"rate-{project_id}").click()
    phone.get_by_test_id("rating-5").click()
    phone.fill("#text", "饭菜可口，价格实惠。")
    phone.get_by_test_id("feedback-form").locator("button[type=submit]").click()
    phone.wait_for_url(re.compile(r"/m/partners/"))
    mine = phone.get_by_test_id("my-feedback").inner_text()
    assert CANTEEN in mine and "5 分" in mine
    _shot(phone, screenshots, "5-phone-feedback")

    # --- the quarter's evaluation: total and grade, the quarter's feedback, the trend
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    page.goto(site.url + f"/partners/evaluations/new/?project={project_id}")
    form = page.get_by_test_id("evaluation-form")
    form.locator("#project").select_option(str(project_id))
    form.locator("#quarter").fill(quarter)
    for key, value in (("operations", "92"), ("finance", "85"), ("social", "95"),
                       ("quality", "90")):  # fmt: skip
        form.locator(f"input[name={key}-score]").fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/partners/evaluations/\d+/$"))
    # 30 × 92 + 20 × 85 + 25 × 95 + 25 × 90 = 9085 → 90.85, 优
    assert page.get_by_test_id("evaluation-total").inner_text() == "90.85"
    assert "优" in page.get_by_test_id("evaluation-grade").inner_text()
    assert "1 条评价，平均满意度 5.00" in page.get_by_test_id("evaluation-feedback").inner_text()
    trend = page.get_by_test_id("trend-table").inner_text()
    assert quarter in trend and "90.85" in trend
    page.wait_for_function(
        "document.querySelector('#evaluation-trend canvas, #evaluation-trend svg')"
    )
    _shot(page, screenshots, "6-evaluation")
    page.goto(project_url)
    assert "缺少评估报告" in page.get_by_test_id("missing").inner_text()
    _upload(page, "evaluation", f"长者食堂{quarter}季度评估报告")
    _approve(page, f"同意{quarter}季度评估结论。")
    assert _steps(page)["evaluation"] == "done"
    decisions = page.get_by_test_id("decisions").inner_text()
    for label in ("立项", "发包", "协议", "监管", "评估"):
        assert label in decisions
    _shot(page, screenshots, "7-operating")
