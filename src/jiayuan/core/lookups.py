"""``field__any_of=ids``: membership in a large set of ids, as one bound value.

``field__in=[…]`` writes one placeholder per id (SQLite refuses more than 32,766) and
``field__in=RawSQL("SELECT unnest(%s)")`` makes PostgreSQL plan a semi-join whose
de-duplicated side it estimates at 200 rows whatever the array holds: with 15,000 ids
it then chose to walk another index and probe the whole set for every row found. This
lookup sends the ids as one array compared with ``= ANY`` on PostgreSQL, which the
planner estimates by the array's length and turns into index look-ups, and as one JSON
list read by ``json_each`` on SQLite. The query text then carries one placeholder
whatever the number of values (psycopg's client-side binding splits a query with
thousands of placeholders by regular expression, seconds per data-hub batch).
Registered on integer, text and foreign-key fields (``pk__any_of=``,
``person_id__any_of=``, ``number__any_of=``) by :class:`jiayuan.core.apps.CoreConfig`.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from django.db import models
from django.db.models import Lookup


class AnyOf(Lookup):  # type: ignore[type-arg]
    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values: Collection[Any] = self.rhs
        text = isinstance(self.lhs.output_field, models.CharField | models.TextField)
        keys: set[Any] = {str(v) for v in values} if text else {int(v) for v in values}
        ordered = sorted(keys)
        if connection.vendor == "postgresql":
            array = "text[]" if text else "bigint[]"
            return f"{lhs} = ANY(%s::{array})", [*lhs_params, ordered]
        # the column comes from the compiler, the ids are one bound parameter
        sql = f"{lhs} IN (SELECT value FROM json_each(%s))"  # noqa: S608
        return sql, [*lhs_params, json.dumps(ordered)]


def register() -> None:
    for field in (models.IntegerField, models.CharField, models.TextField, models.ForeignKey):
        field.register_lookup(AnyOf)
