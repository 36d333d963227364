"""The force's own skills and weekly availability windows on the phone duty page
(/m/duty/): saved through duty.set_skills / duty.set_availability and audited; bad and
hostile input is a 422 in Chinese and English with nothing changed; only the user's own
forces."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jiayuan.command import duty
from jiayuan.command.models import Availability
from jiayuan.core.models import AuditEntry
from jiayuan.people.models import Force

from .conftest import living_forces

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(users: dict[str, Any]) -> Force:
    return Force.objects.filter(person__user=users["grid"]).order_by("pk").first()


def windows(force: Force) -> list[dict[str, Any]]:
    row = Availability.objects.filter(force=force).first()
    return row.windows if row is not None else []


def post_windows(client: Any, force: Force, *rows: tuple[str, str, str]) -> Any:
    return client.post(
        "/m/duty/",
        {
            "force_id": force.pk,
            "action": "windows",
            "weekday": [r[0] for r in rows],
            "start": [r[1] for r in rows],
            "end": [r[2] for r in rows],
        },
    )


def test_a_force_sets_its_skills_from_tags_and_free_text(page_as: Any, mine: Force) -> None:
    phone = page_as("grid")
    page = phone.get("/m/duty/").content.decode()
    assert 'data-testid="skills-form"' in page and 'value="应急救护"' in page

    response = phone.post(
        "/m/duty/",
        {
            "force_id": mine.pk,
            "action": "skills",
            "skill": ["应急救护", "驾驶", "驾驶"],
            "other_skills": " 无人机，  <b>电工</b>、应急救护 ",
        },
    )

    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.skills == ["应急救护", "驾驶", "无人机", "<b>电工</b>"]
    entry = AuditEntry.objects.for_object(mine).filter(note="技能").get()
    assert entry.changes["skills"][1] == mine.skills
    page = phone.get("/m/duty/").content.decode()
    assert "技能已保存" in page and "&lt;b&gt;电工&lt;/b&gt;" in page and "<b>电工" not in page
    # the free text shows what the tags do not hold; the ticked tags stay ticked
    assert 'value="无人机、&lt;b&gt;电工&lt;/b&gt;"' in page
    assert 'value="驾驶" class="form-selectgroup-input" checked' in page


@pytest.mark.parametrize(
    ("fields", "zh", "en"),
    [
        ({"other_skills": "长" * 21}, "超过 20 个字", "longer than 20"),
        (
            {"other_skills": "、".join(f"技能{i}" for i in range(21))},
            "技能最多 20 项",
            "at most 20",
        ),
        ({"other_skills": "电\x07工"}, "无效字符", "invalid characters"),
        ({"other_skills": "x" * 5000}, "其他技能过长", "too long"),
        ({"skill": ["长" * 30]}, "超过 20 个字", "longer than 20"),
    ],
)
def test_bad_skills_are_refused_in_both_languages(
    page_as: Any, mine: Force, fields: dict[str, Any], zh: str, en: str
) -> None:
    before = list(mine.skills)
    response = page_as("grid").post("/m/duty/", {"force_id": mine.pk, "action": "skills", **fields})
    body = response.content.decode()
    assert response.status_code == 422
    assert zh in body and en in body and 'data-testid="profile-error"' in body
    mine.refresh_from_db()
    assert mine.skills == before


def test_a_force_sets_its_weekly_windows(page_as: Any, mine: Force) -> None:
    phone = page_as("grid")
    # two spans, a blank row dropped, listed by weekday
    response = post_windows(
        phone, mine, ("4", "18:00", "21:30"), ("", "", ""), ("0", "08:00", "12:00")
    )
    assert response.status_code == 302
    assert windows(mine) == [
        {"weekday": 0, "start": "08:00", "end": "12:00"},
        {"weekday": 4, "start": "18:00", "end": "21:30"},
    ]
    assert AuditEntry.objects.filter(
        note="可调度时段", object_id=str(mine.availability.pk)
    ).exists()
    page = phone.get("/m/duty/").content.decode()
    assert "周一 08:00–12:00" in page and "周五 18:00–21:30" in page
    assert 'value="21:30"' in page  # the saved rows come back in the form
    # selection reads them: Monday 09:00 Beijing is inside, Monday 13:00 is not
    monday = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)  # 09:00 in Beijing
    assert duty.available(windows(mine), monday)
    assert not duty.available(windows(mine), monday + dt.timedelta(hours=4))
    # clearing every row: always available again
    assert post_windows(phone, mine, ("0", "", ""), ("4", "", "")).status_code == 302
    assert windows(mine) == []
    assert "随时可调度" in phone.get("/m/duty/").content.decode()


@pytest.mark.parametrize(
    ("rows", "zh", "en"),
    [
        ([("1", "18:00", "08:00")], "第 1 行：结束时间须晚于开始时间", "end must be after"),
        ([("1", "09:00", "09:00")], "结束时间须晚于开始时间", "end must be after"),
        ([("1", "08:00", "09:00"), ("2", "8:00", "09:00")], "第 2 行：时间须为 HH:MM", "HH:MM"),
        ([("1", "25:00", "26:00")], "时间须为 HH:MM", "HH:MM"),
        ([("1", "08:00:00", "09:00")], "时间须为 HH:MM", "HH:MM"),
        ([("7", "08:00", "09:00")], "请选择星期一至星期日", "weekday must be 0–6"),
        ([("x", "08:00", "09:00")], "请选择星期一至星期日", "weekday must be 0–6"),
        ([("²", "08:00", "09:00")], "请选择星期一至星期日", "weekday must be 0–6"),
        ([("", "08:00", "09:00")], "请选择星期一至星期日", "weekday must be 0–6"),
        ([("1", "08:00", "")], "请填写开始和结束时间", "both start and end"),
        (
            [(str(d % 7), f"{h:02d}:00", f"{h:02d}:30") for d in range(7) for h in (8, 9, 10)],
            "可调度时段最多 14 个",
            "at most 14 windows",
        ),
        ([("1", "08:00", "09:00")] * 57, "可调度时段格式无效", "invalid windows"),
    ],
)
def test_bad_windows_are_refused_in_both_languages(
    page_as: Any, mine: Force, rows: list[tuple[str, str, str]], zh: str, en: str
) -> None:
    phone = page_as("grid")
    assert post_windows(phone, mine, ("2", "07:00", "19:00")).status_code == 302
    saved = windows(mine)

    response = post_windows(phone, mine, *rows)

    body = response.content.decode()
    assert response.status_code == 422
    assert zh in body and en in body
    assert windows(mine) == saved
    assert 'data-testid="profile-error"' in body and "<details" in body and " open>" in body


def test_unequal_lists_and_other_forces_are_refused(
    page_as: Any, users: dict[str, Any], mine: Force
) -> None:
    phone = page_as("grid")
    uneven = phone.post(
        "/m/duty/",
        {"force_id": mine.pk, "action": "windows", "weekday": ["1", "2"], "start": ["08:00"],
         "end": ["09:00"]},
    )  # fmt: skip
    assert uneven.status_code == 422 and "invalid windows" in uneven.content.decode()
    # typed text comes back in the form, as text
    hostile = post_windows(phone, mine, ("1", '"><script>x</script>', "09:00"))
    assert hostile.status_code == 422 and "<script>x" not in hostile.content.decode()
    assert 'value="&quot;&gt;&lt;scrip"' in hostile.content.decode()  # cut at 8
    # another person's force: 404, nothing saved
    other = living_forces("370830/").exclude(person__user=users["grid"]).first()
    skills_before, windows_before = list(other.skills or []), windows(other)
    assert post_windows(phone, other, ("1", "08:00", "09:00")).status_code == 404
    refused = phone.post(
        "/m/duty/", {"force_id": other.pk, "action": "skills", "other_skills": "驾驶员"}
    )
    assert refused.status_code == 404
    other.refresh_from_db()
    assert other.skills == skills_before and windows(other) == windows_before
    # an unknown action is refused with a message, never taken as 下岗
    duty.go_on_duty(mine, actor=None, lat=35.7, lng=116.4)
    odd = phone.post("/m/duty/", {"force_id": mine.pk, "action": "fly"}, follow=True)
    assert "未知操作" in odd.content.decode()
    mine.refresh_from_db()
    assert duty.open_shift(mine) is not None
