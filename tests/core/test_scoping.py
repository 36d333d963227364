"""visible_to(user): the one scoping function, as a matrix over the demo roles."""

import pytest
from django.contrib.auth import get_user_model

from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_paths
from jiayuan.org.models import Area
from jiayuan.people.models import Person

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.mark.parametrize("username", ["grid", "community", "street", "admin", "branch", "head"])
def test_each_role_sees_exactly_what_lies_under_its_nodes(username: str) -> None:
    user = User.objects.get(username=username)
    paths = [m.area.path for m in user.memberships.all()]
    visible = set(Person.objects.visible_to(user).values_list("pk", flat=True))
    expected = {
        pk
        for pk, path in Person.objects.values_list("pk", "area_path")
        if any(path.startswith(p) for p in paths)
    }
    assert visible == expected
    assert visible  # every staff role sees somebody in the tiny county


def test_grid_worker_sees_nothing_of_the_next_grid() -> None:
    grid_user = User.objects.get(username="grid")
    own = grid_user.memberships.get().area
    other = Area.objects.filter(kind="grid").exclude(pk=own.pk).first()
    assert (
        not Person.objects.visible_to(grid_user).filter(area_path__startswith=other.path).exists()
    )
    assert not Area.objects.visible_to(grid_user).filter(pk=other.pk).exists()


def test_resident_holds_no_area_permission() -> None:
    resident = User.objects.get(username="resident")
    assert scope_paths(resident) == []
    assert not Person.objects.visible_to(resident).exists()


def test_reveal_permission_follows_the_role() -> None:
    grid_user = User.objects.get(username="grid")
    person = Person.objects.visible_to(grid_user).first()
    assert not path_allowed(grid_user, person.area_path, Perm.REVEAL_PII)
    assert path_allowed(User.objects.get(username="community"), person.area_path, Perm.REVEAL_PII)


def test_anonymous_sees_nothing() -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not Person.objects.visible_to(AnonymousUser()).exists()
