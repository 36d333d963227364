"""A person's record changed (a death, moving away): close the matches they no longer
qualify for at once rather than at the next nightly run; a person who moved takes their
benefits and open matches to the new area at once, in the same transaction."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from jiayuan.people.models import Person
from jiayuan.people.services import person_moved

from .matching import recheck_person
from .services import follow_moved_person


@receiver(post_save, sender=Person, dispatch_uid="policies.recheck_person")
def _person_saved(
    sender: Any, instance: Person, created: bool, raw: bool = False, **_: Any
) -> None:
    if created or raw:
        return
    transaction.on_commit(lambda: recheck_person(instance))


@receiver(person_moved, dispatch_uid="policies.follow_moved_person")
def _person_moved(sender: Any, person: Person, new_path: str, **_: Any) -> None:
    follow_moved_person(person, new_path)
