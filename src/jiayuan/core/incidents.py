"""The bridge between things that raise incidents and the request loop.

A sibling app may not import ``cases`` (siblings never import each other), yet a smoke
alarm must open a case and closing that case must close the alarm; a micro-wish that
needs the street (提级帮办) becomes a case the same way and hears when it is finished.
Both sides import this module instead: the sender calls :func:`raise_incident`, which
sends :data:`incident_raised` and returns the case number a receiver gave; ``cases``
sends :data:`incident_closed` when the case opened for an incident key is finished,
whatever its channel. Receivers run in the sender's transaction, so an alarm (or a
wish) and its case commit (or roll back) together.

An incident key is ``"<kind>:<id>"`` (``"alarm:123"``, ``"wish:12"``), stored as the
case's ``source_ref``. Its kind must be known here (:data:`KEY_KINDS`, added to by
:func:`register_kind` when an app starts), so that a free-text source reference (a
12345 order number, an Open311 client's name) is never taken for an incident.

``incident_raised`` keyword arguments: ``key``, ``category_code``, ``title``,
``description``, ``area`` (the ``org.Area`` the source sits in), ``dwelling`` (or
``None``), ``lat``, ``lng``, ``priority`` (``normal``/``urgent``/``critical``) and
``channel`` (any of the cases' channels: ``device`` when not given — an alarm —,
``door``, ``wechat``, ``consultation``, ``assistant`` …), and optionally ``level`` (who
handles it — ``grid`` … — instead of the category's default) and ``reporter`` (the
``people.Person`` who asked). A receiver returns the case number.

``incident_closed`` keyword arguments: ``key``, ``number`` (the case number) and
``outcome`` (the case's final status). A receiver ignores keys of other kinds.

``incident_status_requested`` (:func:`incident_status`, :func:`incident_statuses`) asks
where the cases of incidents stand, for a sender that tells a person when to expect an
answer (the assistant's hand-off): keyword argument ``keys`` (a list); a receiver
returns ``{key: {"number", "status", "status_label", "due_at", "open"}}`` (``due_at``
an aware datetime or ``None``) for the keys it opened a case for.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

incident_raised = Signal()
incident_closed = Signal()
incident_status_requested = Signal()

# Kinds of incident keys; ``alarm`` is the device alarms' (iot), others register theirs.
KEY_KINDS: set[str] = {"alarm"}


def register_kind(kind: str) -> None:
    """Make ``"<kind>:…"`` source references incident keys (call when an app starts)."""
    KEY_KINDS.add(kind)


def is_incident_key(key: str) -> bool:
    """Whether ``key`` (a case's source reference) names an incident of a known kind."""
    kind, sep, rest = (key or "").partition(":")
    return bool(sep and rest) and kind in KEY_KINDS


def raise_incident(sender: Any, **kwargs: Any) -> str:
    """Send :data:`incident_raised` and return the reference the first receiver gave
    (a case number), or ``""`` when no receiver is connected. A receiver's exception
    propagates: the caller decides whether a missing case is fatal."""
    for _receiver, response in incident_raised.send(sender, **kwargs):
        if response:
            return str(response)
    return ""


def close_incident(sender: Any, *, key: str, number: str = "", outcome: str = "") -> None:
    """Send :data:`incident_closed` for the incident ``key`` (``"alarm:123"``)."""
    incident_closed.send(sender, key=key, number=number, outcome=outcome)


def incident_statuses(sender: Any, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Where the case opened for each incident of ``keys`` stands (see
    :data:`incident_status_requested`); keys no receiver knows are left out."""
    found: dict[str, dict[str, Any]] = {}
    if not keys:
        return found
    for _receiver, response in incident_status_requested.send(sender, keys=list(keys)):
        if isinstance(response, dict):
            for key, status in response.items():
                found.setdefault(key, dict(status))
    return found


def incident_status(sender: Any, key: str) -> dict[str, Any] | None:
    """Where the case opened for the incident ``key`` stands, or ``None``."""
    return incident_statuses(sender, [key]).get(key)
