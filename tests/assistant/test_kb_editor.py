"""The knowledge base's editor: who may edit (those who may change the catalogue), a
save bumps the version and names the editor with an audit entry, a new question variant
becomes findable, hostile input is refused, and the preview lists the test questions
whose answer would change — without saving anything."""

from __future__ import annotations

from typing import Any

import pytest

from jiayuan.assistant import answering
from jiayuan.assistant.models import Entry
from jiayuan.assistant.views import kb as kb_views
from jiayuan.core.models import AuditEntry

from .helpers_chat import ANSWERABLE_ENTRY

pytestmark = pytest.mark.django_db


def form_of(entry: Entry, **changes: Any) -> dict[str, Any]:
    data = {k: ("on" if v is True else "" if v in (None, False) else v)
            for k, v in kb_views.initial_of(entry).items()}  # fmt: skip
    data.update(changes)
    return data


def test_the_list_the_entry_and_the_editor_for_an_administrator(page_as: Any) -> None:
    admin = page_as("admin")
    listing = admin.get("/assistant/kb/", {"q": "高龄津贴"}).content.decode()
    assert ANSWERABLE_ENTRY in listing and 'data-testid="kb-new"' in listing
    assert admin.get(f"/assistant/kb/{ANSWERABLE_ENTRY}/").status_code == 200
    assert admin.get(f"/assistant/kb/{ANSWERABLE_ENTRY}/edit/").status_code == 200
    assert admin.get("/assistant/kb/no-such/").status_code == 404


def test_grid_staff_read_but_may_not_edit(page_as: Any) -> None:
    grid = page_as("grid")
    page = grid.get(f"/assistant/kb/{ANSWERABLE_ENTRY}/").content.decode()
    assert 'data-testid="kb-edit"' not in page
    assert grid.get(f"/assistant/kb/{ANSWERABLE_ENTRY}/edit/").status_code == 403
    entry = Entry.objects.get(key=ANSWERABLE_ENTRY)
    response = grid.post(f"/assistant/kb/{ANSWERABLE_ENTRY}/edit/", form_of(entry, title="改"))
    assert response.status_code == 403
    assert Entry.objects.get(key=ANSWERABLE_ENTRY).title == entry.title
    assert page_as("resident").get("/assistant/kb/").status_code in (403, 404)


def test_a_save_bumps_the_version_and_makes_the_new_phrasing_findable(
    page_as: Any, users: dict[str, Any]
) -> None:
    entry = Entry.objects.get(key=ANSWERABLE_ENTRY)
    phrasing = "八十岁老人每月那份钱找谁要"
    questions = "\n".join([*entry.questions, phrasing])
    response = page_as("admin").post(
        f"/assistant/kb/{ANSWERABLE_ENTRY}/edit/", form_of(entry, questions=questions)
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Entry.objects.get(key=ANSWERABLE_ENTRY)
    assert saved.version == entry.version + 1 and saved.updated_by == users["admin"]
    assert phrasing in saved.questions
    assert AuditEntry.objects.filter(object_id=str(saved.pk), action="update").exists()
    assert answering.answer(phrasing).entry == ANSWERABLE_ENTRY


def test_the_preview_lists_the_questions_that_change_and_saves_nothing(page_as: Any) -> None:
    # given an entry many test questions reach, about to be disabled
    entry = Entry.objects.get(key=ANSWERABLE_ENTRY)
    data = form_of(entry, enabled="", preview="1")
    # when previewed
    response = page_as("admin").post(f"/assistant/kb/{ANSWERABLE_ENTRY}/edit/", data)
    # then the questions it answered are listed with their new answer, and nothing is saved
    page = response.content.decode()
    assert response.status_code == 200 and 'data-testid="kb-preview-result"' in page
    assert page.count('data-testid="preview-change"') >= 1
    assert f"（{ANSWERABLE_ENTRY}）" in page
    assert Entry.objects.get(key=ANSWERABLE_ENTRY).enabled
    assert Entry.objects.get(key=ANSWERABLE_ENTRY).version == entry.version


def test_a_new_entry_is_written_by_staff_with_a_valid_key(page_as: Any) -> None:
    admin = page_as("admin")
    data = {
        "key": "shequ-banshi-shijian", "title": "社区党群服务中心办事时间", "topic": "service",
        "questions": "社区几点上班\n社区周末开门吗", "answer": "请以社区公布的办公时间为准。",
        "source": "社区服务指南", "article": "", "source_level": "county",
        "office": "社区党群服务中心",
        "hours": "", "local_figures": "hours|办公时间||", "enabled": "on",
    }  # fmt: skip
    assert admin.post("/assistant/kb/new/", data).status_code == 302
    made = Entry.objects.get(key="shequ-banshi-shijian")
    assert made.origin == "staff" and made.local_figures[0]["value"] is None
    again = admin.post("/assistant/kb/new/", data)
    assert again.status_code == 422 and "该编号已存在" in again.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "坏\x00标题"),
        ("questions", ""),
        ("local_figures", "amount|标准|1e999|元"),
        ("local_figures", "金额|标准|100|元"),
        ("valid_until", "1999-01-01"),
    ],
)
def test_hostile_edits_are_refused(page_as: Any, field: str, value: str) -> None:
    entry = Entry.objects.get(key=ANSWERABLE_ENTRY)
    data = form_of(entry, valid_from="2000-01-01", **{field: value})
    response = page_as("admin").post(f"/assistant/kb/{ANSWERABLE_ENTRY}/edit/", data)
    assert response.status_code == 422
    assert Entry.objects.get(key=ANSWERABLE_ENTRY).version == entry.version
