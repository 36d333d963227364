"""What users read on the person's 数据来源 card and the review pair page: codes by their
Chinese labels, each history line saying whether an import or a review decision made
it, the resident's own 民族, 户号 and 户籍地址 beside the incoming row, and short cells
that do not wrap mid-word."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from jiayuan.core import pii
from jiayuan.datahub.models import ChangeKind, FieldChange, ReviewPair
from jiayuan.datahub.panels import changed_by, shown
from jiayuan.people.models import Person

from .test_resolution import resident_of_grid, row_for
from .test_writers import free_dwelling, make_run, new_id, person_row, write

pytestmark = pytest.mark.django_db
User = get_user_model()


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def cell(page: str, field: str) -> str:
    """The held value's cell of one field's row on the card."""
    row = re.search(rf'<tr data-field="{field}">(.*?)</tr>', page, re.S)
    assert row is not None, field
    held = re.search(r"data-held>(.*?)</td>", row.group(1), re.S)
    assert held is not None, field
    return held.group(1).strip()


def test_the_card_shows_the_labels_of_coded_fields() -> None:
    d = free_dwelling(21)
    run = make_run(name="公安户籍")
    write("person", run, person_row(71, d, relation="母亲", hukou_type="非农业"))
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(71), purpose="id"))
    page = client_for("admin").get(f"/persons/{p.pk}/").content.decode()
    assert (cell(page, "gender"), cell(page, "relation"), cell(page, "hukou_type")) == (
        "男", "父母", "城镇",
    )  # fmt: skip
    # a value outside the choices is shown as it is
    assert shown("ethnicity", "汉族") == "汉族" and shown("gender", "unknown") == "unknown"


def test_a_web_upload_is_an_import_in_the_history_not_a_review_decision() -> None:
    admin = User.objects.get(username="admin")
    d = free_dwelling(22)
    first = make_run(code="t-street", name="公安户籍")
    write("person", first, person_row(72, d), actor=admin)
    again = make_run(code="t-street", name="公安户籍")
    write("person", again, person_row(72, d, ethnicity="回族"), actor=admin)
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(72), purpose="id"))
    change = FieldChange.objects.get(object_id=p.pk, field="ethnicity")
    assert (change.kind, change.actor_id, change.run_id) == (ChangeKind.IMPORT, admin.pk, again.pk)
    page = client_for("admin").get(f"/persons/{p.pk}/").content.decode()
    line = re.search(r'<li data-kind="import">(.*?)</li>', page, re.S)
    assert line is not None and f"公安户籍 批次 #{again.pk}" in line.group(1)
    assert "核对" not in line.group(1)


def test_a_merge_is_a_review_decision_in_the_history() -> None:
    p = resident_of_grid()
    run = make_run(name="公安户籍")
    write("person", run, row_for(p, p.dwelling, ethnicity="回族"))
    pair = ReviewPair.objects.get(run=run)
    grid = client_for("grid")
    grid.post(f"/hub/reviews/{pair.pk}/merge/")
    change = FieldChange.objects.get(object_id=p.pk, field="ethnicity")
    assert change.kind == ChangeKind.REVIEW and change.run_id == run.pk
    page = grid.get(f"/persons/{p.pk}/").content.decode()
    assert f"grid（核对 公安户籍 批次 #{run.pk}）" in page
    # the undo is a review decision too
    grid.post(f"/hub/reviews/{pair.pk}/undo/")
    kinds = set(FieldChange.objects.filter(object_id=p.pk).values_list("kind", flat=True))
    assert kinds == {ChangeKind.REVIEW}


def test_who_changed_a_value_reads_by_kind() -> None:
    assert changed_by(ChangeKind.IMPORT, "公安户籍", 3, "street") == "公安户籍 批次 #3"
    assert changed_by(ChangeKind.REVIEW, "公安户籍", 3, "grid") == "grid（核对 公安户籍 批次 #3）"
    assert changed_by(ChangeKind.USER, "", None, "admin") == "admin"


def test_the_review_page_shows_the_residents_own_ethnicity_household_and_address() -> None:
    d = free_dwelling(23)
    police = make_run(code="t-police", name="公安户籍")
    write("person", police, person_row(73, d, ethnicity="满族", hukou_address="汶上县中都街道73号"))
    p = Person.objects.get(id_number_index=pii.blind_index(new_id(73), purpose="id"))
    # a row without an ID number that resembles the resident
    survey = make_run(code="t-survey", name="网格采集")
    name = p.name[:-1] + ("甲" if p.name[-1] != "甲" else "乙")
    write("person", survey, {"name": name, "birth_date": p.birth_date, "address": person_row(
        73, d)["address"], "ethnicity": "回族"})  # fmt: skip
    pair = ReviewPair.objects.get(run=survey)
    page = client_for("admin").get(f"/hub/reviews/{pair.pk}/").content.decode()
    rows = dict(
        (label, existing)
        for label, _incoming, existing in re.findall(
            r'<tr><td class="text-secondary text-nowrap">(.*?)</td><td[^>]*>(.*?)</td>'
            r"<td[^>]*>(.*?)</td>",
            page,
        )
    )
    assert rows["民族"] == "满族" and rows["户号"] == "T000073"
    assert rows["户籍地址"] == "汶上县中都街道73号"
    # short cells keep to one line
    assert re.search(r'<td class="text-nowrap">\d{4}-\d{2}-\d{2}</td>', page)
