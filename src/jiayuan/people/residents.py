"""Who a signed-in resident is: the living person record linked to their account.

One home for the rule, read by every app that serves residents (community services,
the assistant's personal answers, the desks): a user is a resident when a living
:class:`~jiayuan.people.models.Person` names them as its ``user``.
"""

from __future__ import annotations

from typing import Any

from .models import Person

_CACHE = "_jy_resident_person"


def person_of(user: Any) -> Person | None:
    """The resident record linked to ``user`` (read once per user object), or ``None``."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, _CACHE):
        person = Person.objects.filter(user=user, death_date__isnull=True).first()
        setattr(user, _CACHE, person)
    return getattr(user, _CACHE)
