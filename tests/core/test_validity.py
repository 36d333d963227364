"""One validity interval: ``valid_from`` inclusive, ``valid_until`` exclusive, and the
database filter agreeing with the in-memory predicate."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from jiayuan.core.validity import is_valid_on, valid_on
from jiayuan.people.models import PersonTag

D = dt.date(2026, 5, 10)
DAY = dt.timedelta(days=1)


def test_from_is_inclusive_until_is_exclusive() -> None:
    assert is_valid_on(D, None, D)
    assert not is_valid_on(D, None, D - DAY)
    assert not is_valid_on(None, D, D)  # ended today: no longer held today
    assert is_valid_on(None, D, D - DAY)
    assert is_valid_on(None, None, D)
    assert not is_valid_on(D, D, D)  # an empty interval


def test_until_inclusive_for_positions() -> None:
    assert is_valid_on(None, D, D, until_inclusive=True)
    assert not is_valid_on(None, D, D + DAY, until_inclusive=True)


@pytest.mark.django_db
def test_queryset_filter_agrees_with_predicate() -> None:
    # given one tag row whose dates we vary over every arrangement around D
    row = PersonTag.objects.select_related("tag").first()
    assert row is not None
    choices = [None, D - DAY, D, D + DAY]
    for start, end in itertools.product(choices, choices):
        PersonTag.objects.filter(pk=row.pk).update(valid_from=start, valid_until=end)
        # when the database filter is asked, then it says what the predicate says
        in_db = PersonTag.objects.filter(valid_on(D), pk=row.pk).exists()
        assert in_db == is_valid_on(start, end, D), (start, end)
        via_relation = row.person.__class__.objects.filter(
            valid_on(D, "tags__"), tags__pk=row.pk
        ).exists()
        assert via_relation == in_db, (start, end)
