"""Personal numbers on pages: masked everywhere, revealed only with the permission, and
every reveal audited."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.test import Client

from jiayuan.core.models import AuditEntry
from jiayuan.people.models import Person

from .conftest import Places

ClientFor = Callable[[str | None], Client]
MASKED_ID = re.compile(r"\d{6}\*{8}\d{3}[\dX]")


def reveals_of(person: Person) -> int:
    return AuditEntry.objects.for_object(person).filter(action=AuditEntry.Action.REVEAL).count()


def test_grid_page_masks_every_id_number(as_user: ClientFor, places: Places) -> None:
    page = as_user("grid").get(f"/areas/{places.grid.pk}/").content.decode()
    listed = Person.objects.filter(pk__in=re.findall(r'href="/persons/(\d+)/"', page))

    cells = re.findall(r'data-field="id-number">([^<]*)<', page)
    assert cells and all(MASKED_ID.fullmatch(c) or c == "—" for c in cells)
    for person in listed:
        assert person.reveal_id_number() not in page
        if person.phone_enc:
            assert person.reveal_phone() not in page


def test_person_page_masks_and_hides_the_button_without_permission(
    as_user: ClientFor, places: Places
) -> None:
    person = places.person

    page = as_user("grid").get(f"/persons/{person.pk}/").content.decode()

    assert person.id_number_masked in page and person.phone_masked in page
    assert person.reveal_id_number() not in page
    assert person.reveal_phone() not in page
    assert "查看完整信息" not in page
    assert 'data-testid="reveal"' not in page


def test_reveal_is_refused_for_a_grid_worker(as_user: ClientFor, places: Places) -> None:
    person = places.person
    before = reveals_of(person)

    response = as_user("grid").post(f"/persons/{person.pk}/reveal/", headers={"HX-Request": "true"})

    assert response.status_code == 403
    assert person.reveal_id_number() not in response.content.decode()
    assert reveals_of(person) == before


def test_reveal_shows_clear_values_and_is_audited(as_user: ClientFor, places: Places) -> None:
    person = places.person
    client = as_user("community")

    page = client.get(f"/persons/{person.pk}/").content.decode()
    assert 'data-testid="reveal"' in page
    assert f'hx-post="/persons/{person.pk}/reveal/"' in page
    assert person.reveal_id_number() not in page  # nothing clear before the click

    response = client.post(f"/persons/{person.pk}/reveal/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    body = response.content.decode()
    assert person.reveal_id_number() in body and person.reveal_phone() in body
    assert "<html" not in body  # a fragment for htmx to swap in
    assert "no-store" in response["Cache-Control"]
    entry = AuditEntry.objects.for_object(person).filter(action=AuditEntry.Action.REVEAL).first()
    assert entry is not None
    assert entry.actor is not None and entry.actor.username == "community"
    assert entry.channel == "web"
    # The timeline now shows the reveal, without the clear values.
    after = client.get(f"/persons/{person.pk}/").content.decode()
    assert "查看敏感信息" in after
    assert person.reveal_id_number() not in after


def test_reveal_outside_scope_is_404_and_not_audited(as_user: ClientFor, places: Places) -> None:
    person = places.next_person
    before = reveals_of(person)

    response = as_user("community").post(f"/persons/{person.pk}/reveal/")

    assert response.status_code == 404
    assert reveals_of(person) == before


def test_reveal_needs_post(as_user: ClientFor, places: Places) -> None:
    before = reveals_of(places.person)

    response = as_user("community").get(f"/persons/{places.person.pk}/reveal/")

    assert response.status_code == 405
    assert reveals_of(places.person) == before
