"""The wishes' pages: the staff list, collecting, the detail with its htmx steps, the
demand list, the resident's phone pages; scope (404 elsewhere) and a fixed number of
queries whatever the rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiayuan.community import wishes
from jiayuan.community.models import Wish, WishEvent

from .conftest import Compounds, jpeg

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def make(users: dict[str, Any], c: Compounds, **kw: Any) -> Wish:
    kw.setdefault("beneficiary", c.neighbour)
    return wishes.collect(
        actor=users["community"], channel=kw.pop("channel", "door"),
        title=kw.pop("title", "想要一台电风扇"), category="daily", **kw,
    )  # fmt: skip


def test_staff_list_and_menu(page_as: Any, users: dict[str, Any], compounds: Compounds) -> None:
    wish = make(users, compounds, title="<script>alert(1)</script>")
    page = page_as("grid").get("/community/wishes/")
    html = page.content.decode()
    assert page.status_code == 200 and wish.number in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert 'data-testid="nav-wishes"' in html and 'class="dropdown-item' in html
    filtered = page_as("grid").get("/community/wishes/", {"status": "thanked"})
    assert wish.number not in filtered.content.decode()
    # residents hold no service right: no staff list, no menu item
    assert page_as("resident").get("/community/wishes/").status_code == 404


def test_collecting_a_wish_on_the_page(
    page_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    client = page_as("grid")
    # the grid worker finds the resident by name, inside their area only
    found = client.get("/community/wishes/new/", {"q": compounds.neighbour.name})
    assert f"?person={compounds.neighbour.pk}" in found.content.decode()
    elsewhere = client.get("/community/wishes/new/", {"q": compounds.stranger.name})
    assert f"?person={compounds.stranger.pk}" not in elsewhere.content.decode()
    form = client.get("/community/wishes/new/", {"person": compounds.neighbour.pk})
    assert form.status_code == 200 and compounds.neighbour.name in form.content.decode()
    posted = client.post("/community/wishes/new/", {
        "person": compounds.neighbour.pk, "title": "希望有人陪老人聊聊天",
        "category": "care", "channel": "door",
    })  # fmt: skip
    assert posted.status_code == 302, posted.content.decode()[:500]
    wish = Wish.objects.get(title="希望有人陪老人聊聊天")
    assert wish.beneficiary == compounds.neighbour and wish.channel == "door"
    bad = client.post("/community/wishes/new/", {"title": "", "category": "x", "channel": "door"})
    assert bad.status_code == 422
    # a person outside the grid worker's area is not found
    assert (
        client.get("/community/wishes/new/", {"person": compounds.stranger.pk}).status_code == 404
    )


def test_detail_steps_through_htmx(
    page_as: Any, users: dict[str, Any], compounds: Compounds, media: Any
) -> None:
    wish = make(users, compounds)
    client = page_as("grid")
    page = client.get(f"/community/wishes/{wish.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert compounds.neighbour.phone_masked in html and 'data-action="claim"' in html
    url = f"/community/wishes/{wish.pk}/act/"
    claimed = client.post(
        url + "claim/", {"claimer_kind": "unit", "claimer_name": "县医院"}, **HTMX
    )
    assert claimed.status_code == 200 and 'data-status="claimed"' in claimed.content.decode()
    # a refused step answers in place, with its message
    refused = client.post(url + "thank/", {}, **HTMX)
    assert refused.status_code == 409 and "心愿当前" in refused.content.decode()
    no_photo = client.post(url + "fulfil/", {}, **HTMX)
    assert no_photo.status_code == 422 and "照片" in no_photo.content.decode()
    photo = SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg")
    done = client.post(url + "fulfil/", {"photo": photo}, **HTMX)
    assert done.status_code == 200 and 'data-status="fulfilled"' in done.content.decode()
    shown = client.get(f"/community/wishes/{wish.pk}/")
    photo_pk = wish.photos.get().pk
    assert f"/community/wishes/{wish.pk}/photos/{photo_pk}/" in shown.content.decode()
    assert client.get(f"/community/wishes/{wish.pk}/photos/{photo_pk}/").status_code == 200
    assert (
        page_as("branch").get(f"/community/wishes/{wish.pk}/photos/{photo_pk}/").status_code == 200
    )
    other = page_as(users["community"])
    assert other.get(f"/community/wishes/{wish.pk}/photos/{photo_pk}/").status_code == 200
    kinds = list(WishEvent.objects.filter(wish=wish).values_list("kind", flat=True))
    assert kinds == ["collected", "claimed", "fulfilled"]


def test_out_of_scope_pages_are_404(
    page_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    far = wishes.collect(
        actor=users["admin"], channel="staff", title="远方", category="other", area=compounds.far
    )
    for username in ("grid", "branch", "community"):
        client = page_as(username)
        assert client.get(f"/community/wishes/{far.pk}/").status_code == 404
        assert client.post(f"/community/wishes/{far.pk}/act/cancel/").status_code == 404
        assert client.get(f"/community/compounds/{compounds.far.pk}/demands/").status_code == 404
    assert page_as("resident").get(f"/m/wishes/{far.pk}/").status_code == 404
    assert page_as("grid").get("/community/wishes/99999999999999999999999/").status_code == 404
    assert Wish.objects.get(pk=far.pk).status == "collected"


def test_demand_pages(page_as: Any, users: dict[str, Any], compounds: Compounds) -> None:
    wish = make(users, compounds)
    escalated = make(users, compounds, title="楼道灯坏了")
    wishes.escalate(escalated.pk, actor=users["community"])
    index = page_as("branch").get("/community/demands/")
    assert index.status_code == 200 and compounds.home.name in index.content.decode()
    page = page_as("community").get(f"/community/compounds/{compounds.home.pk}/demands/")
    html = page.content.decode()
    assert page.status_code == 200 and wish.number in html
    assert Wish.objects.get(pk=escalated.pk).case_number in html
    grid = page_as("grid").get(f"/community/compounds/{compounds.home.pk}/demands/")
    assert grid.status_code == 200 and wish.number in grid.content.decode()


def test_resident_phone_pages(page_as: Any, users: dict[str, Any], compounds: Compounds) -> None:
    client = page_as("resident")
    assert client.get("/m/wishes/").status_code == 200
    made = client.post("/m/wishes/new/", {"title": "想学用智能手机", "category": "skill"})
    assert made.status_code == 302
    wish = Wish.objects.get(title="想学用智能手机")
    assert wish.channel == "resident" and wish.beneficiary == compounds.resident
    listed = client.get("/m/wishes/").content.decode()
    assert wish.number in listed
    page = client.get(f"/m/wishes/{wish.pk}/").content.decode()
    assert 'data-action="cancel"' in page and 'data-action="claim"' not in page
    # a party member sees the compound's wishes to claim and claims one
    member = compounds.resident
    member.political_status = "party_member"
    member.save(update_fields=["political_status"])
    other = make(users, compounds)
    client = page_as("resident")
    listed = client.get("/m/wishes/").content.decode()
    assert 'data-testid="to-claim"' in listed and other.number in listed
    client.post(f"/m/wishes/{other.pk}/act/claim/", {"claimer_kind": "party_member"})
    assert Wish.objects.get(pk=other.pk).claimer == member
    # thanks for one's own fulfilled wish
    wishes.claim(wish.pk, actor=users["grid"], claimer_kind="unit", claimer_name="单位")
    wishes.fulfil(
        wish.pk, actor=users["grid"],
        photo=SimpleUploadedFile("p.jpg", jpeg(), content_type="image/jpeg"),
    )  # fmt: skip
    thanked = client.post(f"/m/wishes/{wish.pk}/act/thank/", {"thanks": "太感谢了"})
    assert thanked.status_code == 302
    assert Wish.objects.get(pk=wish.pk).thanks == "太感谢了"
    # a wish of another compound is not there
    far = wishes.collect(
        actor=users["admin"], channel="staff", title="x", category="other", area=compounds.sibling
    )
    assert client.get(f"/m/wishes/{far.pk}/").status_code == 404


def count(client: Any, url: str) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200, url
    return len(ctx.captured_queries)


def test_pages_cost_the_same_for_few_wishes_and_many(
    page_as: Any, users: dict[str, Any], compounds: Compounds
) -> None:
    first = make(users, compounds)
    make(users, compounds)
    staff, resident = page_as("community"), page_as("resident")
    urls = ["/community/wishes/", f"/community/wishes/{first.pk}/", "/community/demands/",
            f"/community/compounds/{compounds.home.pk}/demands/"]  # fmt: skip
    few = [count(staff, u) for u in urls] + [count(resident, "/m/wishes/")]
    for i in range(25):
        make(users, compounds, title=f"心愿{i}")
        WishEvent.objects.create(wish=first, kind="reminded", note=str(i))
    many = [count(staff, u) for u in urls] + [count(resident, "/m/wishes/")]
    assert many == few
