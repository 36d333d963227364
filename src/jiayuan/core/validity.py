"""Validity intervals: one reading of "does this row hold on that day?".

Tags, benefits and policies carry a start and an end date. The start is inclusive (the
first day the row holds); the end is exclusive (the first day it no longer holds), so a
computed tag that ends today is not held today, and consecutive rows share one date
(``until`` of the old = ``from`` of the new). Either end may be empty (open).

Positions are the one exception: their ``end`` (离任日期) is the last day served, so
they ask for ``until_inclusive=True``.

The same test has two back ends that must agree: :func:`valid_on` builds a database
filter for whole querysets, :func:`is_valid_on` answers for one row in memory. The
module needs no configured Django (only ``Q``), so the rule language can use it.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q


def valid_on(
    day: dt.date,
    prefix: str = "",
    *,
    start: str = "valid_from",
    end: str = "valid_until",
    until_inclusive: bool = False,
) -> Q:
    """Rows valid on ``day``: ``start`` empty or on/before it, ``end`` empty or after it.

    ``prefix`` reaches the fields through a relation (``"tags__"``); ``start``/``end``
    name them when a model does not use ``valid_from``/``valid_until``.
    """
    first, last = f"{prefix}{start}", f"{prefix}{end}"
    ends_after = f"{last}__gte" if until_inclusive else f"{last}__gt"
    return (Q(**{f"{first}__isnull": True}) | Q(**{f"{first}__lte": day})) & (
        Q(**{f"{last}__isnull": True}) | Q(**{ends_after: day})
    )


def is_valid_on(
    valid_from: dt.date | None,
    valid_until: dt.date | None,
    day: dt.date,
    *,
    until_inclusive: bool = False,
) -> bool:
    """The Python twin of :func:`valid_on` for one row's two dates."""
    if valid_from is not None and day < valid_from:
        return False
    if valid_until is None:
        return True
    return day <= valid_until if until_inclusive else day < valid_until


def open_on(day: dt.date, prefix: str = "", *, end: str = "valid_until") -> Q:
    """Rows not yet ended on ``day`` (started or not): where a new row would overlap."""
    return Q(**{f"{prefix}{end}__isnull": True}) | Q(**{f"{prefix}{end}__gt": day})
