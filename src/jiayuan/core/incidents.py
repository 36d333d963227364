"""The bridge between things that raise incidents (device alarms) and the request loop.

``iot`` may not import ``cases`` (siblings never import each other), yet a smoke alarm
must open a case and closing that case must close the alarm. Both sides import this
module instead: ``iot`` sends :data:`incident_raised` and reads the case number from the
receiver's response; ``cases`` sends :data:`incident_closed` when a case carrying the
incident's key is finished. Receivers run in the sender's transaction, so an alarm and
its case commit (or roll back) together.

``incident_raised`` keyword arguments: ``key`` (``"alarm:123"``, stored as the case's
``source_ref``), ``category_code``, ``title``, ``description``, ``area`` (the
``org.Area`` the source sits in), ``dwelling`` (or ``None``), ``lat``, ``lng`` and
``priority`` (``normal``/``urgent``/``critical``). A receiver returns the case number.

``incident_closed`` keyword arguments: ``key``, ``number`` (the case number) and
``outcome`` (the case's final status).
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

incident_raised = Signal()
incident_closed = Signal()


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
