"""The page-action bridge (core.links): an upper app registers actions for an object
kind, a lower app's page renders them with {% page_actions obj %} without importing the
upper app; command's 发起调度 on the case and alarm pages, for supervisors in scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import Client

from jiayuan.cases.models import Case
from jiayuan.core import links
from jiayuan.iot.models import Alarm
from jiayuan.org.models import Area

SRC = Path(links.__file__).resolve().parents[1]
COMMUNITY = "370830/001/001/"
GRID = "370830/001/001/01/01/"  # the ``grid`` account's grid


@pytest.fixture
def scratch_kind() -> Iterator[str]:
    """A kind nothing else registers for, emptied after the test."""
    kind = "org.area"
    yield kind
    for action in links.registered(kind):
        links.unregister(kind, action.key)


class Who:
    is_authenticated = True

    def __init__(self, name: str) -> None:
        self.name = name


def test_registered_actions_are_filtered_ordered_and_built(scratch_kind: str) -> None:
    area = Area(pk=7, name="第一网格", path="370830/001/001/01/01/")
    links.register(
        scratch_kind,
        key="b",
        label="二",
        url=lambda a: f"/b/{a.pk}/",
        allowed=lambda u, a: True,
        order=2,
    )
    links.register(
        scratch_kind,
        key="a",
        label="一",
        url=lambda a: f"/a/{a.pk}/",
        allowed=lambda u, a: u.name == "boss",
        order=1,
    )
    links.register(
        scratch_kind,
        key="b",
        label="二（新）",
        url=lambda a: f"/b2/{a.pk}/",
        allowed=lambda u, a: True,
        order=2,
    )

    assert links.kind_of(area) == "org.area" and links.kind_of(Area) == "org.area"
    assert [(a.key, a.label, a.url) for a in links.actions_for(Who("boss"), area)] == [
        ("a", "一", "/a/7/"),
        ("b", "二（新）", "/b2/7/"),  # registering a key again replaces it
    ]
    assert [a.key for a in links.actions_for(Who("clerk"), area)] == ["b"]
    assert links.actions_for(AnonymousUser(), area) == []
    assert links.actions_for(None, area) == []
    assert links.actions_for(Who("boss"), {"pk": 7}) == []  # not a model: nothing
    links.unregister(scratch_kind, "a")
    assert [a.key for a in links.registered(scratch_kind)] == ["b"]


@pytest.mark.parametrize("kind", ["Cases.Case", "cases", "", ".case", "cases."])
def test_a_kind_is_an_app_label_and_a_model_name(kind: str) -> None:
    with pytest.raises(ValueError, match="object kind"):
        links.register(kind, key="k", label="l", url=str, allowed=lambda u, o: True)


def test_the_tag_escapes_and_renders_nothing_without_actions(scratch_kind: str) -> None:
    area = Area(pk=3, name="x", path="370830/")
    template = Template("{% load core_links %}[{% page_actions obj %}]")
    assert template.render(Context({"obj": area, "user": Who("boss")})) == "[]"
    links.register(
        scratch_kind,
        key="go",
        label="<b>去</b>",
        url=lambda a: '/x/?a=1&b="2"',
        allowed=lambda u, a: True,
    )
    html = template.render(Context({"obj": area, "user": Who("boss")}))
    assert 'href="/x/?a=1&amp;b=&quot;2&quot;"' in html
    assert "&lt;b&gt;去&lt;/b&gt;" in html and 'data-page-action="go"' in html


def test_lower_apps_never_import_command() -> None:
    # the bridge exists so that the case and alarm pages need not import command
    pattern = re.compile(r"^\s*(from|import)\s+jiayuan\.command\b|from\s+\.\.command\b", re.M)
    for app in ("core", "cases", "iot"):
        for path in (SRC / app).rglob("*.py"):
            assert not pattern.search(path.read_text(encoding="utf-8")), path


# --- command's 发起调度 on the case and alarm pages ----------------------------------------
def client_of(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


@pytest.mark.django_db
def test_case_page_offers_mobilisation_to_supervisors_in_scope() -> None:
    case = Case.objects.filter(area_path__startswith=GRID).order_by("pk").first()
    url = f"/command/mobilisations/new/?case={case.pk}"
    staff = client_of("community").get(f"/cases/{case.pk}/").content.decode()
    assert f'href="{url}"' in staff and ">发起调度</a>" in staff
    # the link fills in the case's place
    assert f"case:{case.number}" in client_of("community").get(url).content.decode()
    # the grid worker sees the case but does not supervise: no button
    worker = client_of("grid").get(f"/cases/{case.pk}/")
    assert worker.status_code == 200 and "发起调度" not in worker.content.decode()
    # staff of another community do not see the case at all (its page is a 404)
    other = Case.objects.exclude(area_path__startswith=COMMUNITY).order_by("pk").first()
    page = client_of("community").get(f"/cases/{other.pk}/")
    assert page.status_code == 404 and "发起调度" not in page.content.decode()


@pytest.mark.django_db
def test_alarm_page_offers_mobilisation_to_supervisors_in_scope() -> None:
    grid_user = get_user_model().objects.get(username="grid")
    in_community = Alarm.objects.filter(area_path__startswith=COMMUNITY).order_by("pk")
    alarm = in_community.visible_to(grid_user).first() or in_community.first()
    assert alarm is not None, "the tiny county has alarms in the community"
    staff = client_of("community").get(f"/iot/alarms/{alarm.pk}/").content.decode()
    assert f'href="/command/mobilisations/new/?alarm={alarm.pk}"' in staff
    assert 'data-testid="page-actions"' in staff
    worker = client_of("grid").get(f"/iot/alarms/{alarm.pk}/")
    assert worker.status_code in (200, 404) and "发起调度" not in worker.content.decode()


def test_may_mobilise_needs_supervise_where_the_object_is() -> None:
    from jiayuan.command.apps import may_mobilise_at

    class Obj:
        area_path = ""

    assert may_mobilise_at(Who("x"), Obj()) is False  # no place: no button


def test_the_registry_holds_command_actions_once() -> None:
    kinds = {kind: [a.key for a in links.registered(kind)] for kind in ("cases.case", "iot.alarm")}
    assert kinds == {"cases.case": ["mobilise"], "iot.alarm": ["mobilise"]}
