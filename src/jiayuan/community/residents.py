"""Which compound's services a signed-in resident may see (who the resident is:
:func:`jiayuan.people.residents.person_of`, re-exported here for the community's modules).

A compound's topics, votes and wishes are visible to the staff whose scope covers the
compound and to the residents who live in it, nowhere else. Staff scope is the one
scoping rule (:func:`jiayuan.core.scoping.scope_q`); a resident holds no area-wide
permission, so their side is their home compound (小区) read from their person record.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from jiayuan.core.roles import Perm
from jiayuan.core.scoping import path_allowed, scope_q
from jiayuan.org.choices import AreaKind
from jiayuan.org.paths import ancestor_path
from jiayuan.people.residents import person_of

__all__ = ["compound_q", "home_path", "may_see_compound", "person_of"]


def home_path(user: Any, kind: str = AreaKind.ZONE) -> str | None:
    """The path of the area of ``kind`` the user lives in (their compound by default)."""
    person = person_of(user)
    if person is None:
        return None
    try:
        return ancestor_path(person.area_path, kind)
    except ValueError:  # registered above a compound (only a community is known)
        return None


def compound_q(user: Any, perm: str = Perm.VIEW, field: str = "area_path") -> Q:
    """Rows of compounds ``user`` may see: their scope, or the compound they live in."""
    q = scope_q(user, perm, field=field)
    home = home_path(user)
    if home is not None:
        q |= Q(**{f"{field}__startswith": home})
    return q


def may_see_compound(user: Any, path: str, perm: str = Perm.VIEW) -> bool:
    """Whether ``user`` may see a row at ``path`` (staff scope or their own compound)."""
    if path_allowed(user, path, perm):
        return True
    home = home_path(user)
    return home is not None and path.startswith(home)
