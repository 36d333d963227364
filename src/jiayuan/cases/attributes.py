"""A category's extra fields (补充字段) and the check every intake path shares.

A category declares its attributes as a list of dicts in the shape Open311 publishes
them: ``code``, ``datatype`` (``string``, ``number``, ``datetime``, ``text``,
``singlevaluelist``, ``multivaluelist``), ``required``, ``description`` and, for lists,
``values`` (``{"key", "name"}`` or plain keys); ``variable: false`` marks an
informational entry that takes no value. :func:`clean` runs inside
:func:`jiayuan.cases.services.intake`, so the API, the staff and resident pages, Open311
and the 12345 import refuse the same missing or mistyped values with the same error.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from jiayuan.core.errors import ValidationFailed

if TYPE_CHECKING:
    from .models import Category

LIST_TYPES = ("singlevaluelist", "multivaluelist")
DATATYPES = ("string", "number", "datetime", "text", *LIST_TYPES)


def _keys(raw: dict[str, Any]) -> set[str]:
    keys = set()
    for value in raw.get("values") or []:
        keys.add(str(value.get("key", "")) if isinstance(value, dict) else str(value))
    return keys


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return all(_blank(v) for v in value)
    return False


def _valid(datatype: str, value: Any, keys: set[str]) -> bool:
    values = list(value) if isinstance(value, list | tuple) else [value]
    if datatype in LIST_TYPES:
        if datatype == "singlevaluelist" and len(values) != 1:
            return False
        return all(str(v).strip() in keys for v in values)
    if len(values) != 1:
        return False
    one = values[0]
    if datatype == "number":
        if isinstance(one, bool):
            return False
        try:
            return math.isfinite(float(one))
        except (TypeError, ValueError):
            return False
    if datatype == "datetime":
        try:
            dt.datetime.fromisoformat(str(one).strip().replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if not isinstance(one, str | int | float) or isinstance(one, bool):
        return False
    # a one-line string: no line breaks (``text`` may have them)
    return datatype == "text" or not any(c in str(one) for c in "\r\n")


def clean(category: Category, values: dict[str, Any] | None) -> dict[str, Any]:
    """``values`` checked against ``category``'s attributes: required ones present,
    each of its declared type. Strings are stripped; keys the category does not declare
    are kept as given (Open311 keeps a ``media_url`` there). Raises
    :class:`ValidationFailed` with ``field="attributes.<code>"`` on the first problem.

    ``None`` means the path collects no attributes at all (a 12345 order transcript,
    a device alarm): nothing is required of it. Every path that asks for them passes a
    dict, even an empty one, and gets the same checks.
    """
    collected = values is not None
    given = dict(values or {})
    out = dict(given)
    for raw in category.attributes or []:
        if not isinstance(raw, dict) or not raw.get("code") or raw.get("variable") is False:
            continue
        code = str(raw["code"])
        label = str(raw.get("description") or code)
        value = given.get(code)
        if _blank(value):
            out.pop(code, None)
            if raw.get("required") and collected:
                raise ValidationFailed(
                    f"请填写{label}", f"{code} is required", field=f"attributes.{code}"
                )
            continue
        datatype = raw.get("datatype") if raw.get("datatype") in DATATYPES else "string"
        if not _valid(str(datatype), value, _keys(raw)):
            raise ValidationFailed(
                f"{label}的值无效", f"{code} has an invalid value", field=f"attributes.{code}"
            )
        if isinstance(value, str):
            out[code] = value.strip()
    return out
