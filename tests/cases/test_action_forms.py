"""The page form behind each action button reads the action's row of the transition
table: every action has one, it asks only for what the row names, and a new action
asking for a reason needs no form class of its own."""

from __future__ import annotations

import dataclasses

import pytest

from jiayuan.cases.forms import ACTION_FORMS, SPECIAL_FORMS, form_for
from jiayuan.cases.machine import TRANSITIONS
from jiayuan.cases.views.common import EVENT_LABELS, PUBLIC_LABELS

PAGE_ONLY = {"version", "photos"}  # the stale-write guard and the result photos


@pytest.mark.django_db
@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_each_action_form_asks_only_for_its_row_fields(action: str) -> None:
    row = TRANSITIONS[action]
    form = ACTION_FORMS[action]()
    asked = set(form.fields) - PAGE_ONLY
    assert asked <= set(row.fields), (action, asked - set(row.fields))
    if "reason" in asked and action not in SPECIAL_FORMS:
        assert form.fields["reason"].required == row.needs_reason


def test_a_new_action_with_a_reason_gets_its_form_from_the_row() -> None:
    row = dataclasses.replace(
        TRANSITIONS["suspend"], action="pause_review", fields=("reason",), needs_reason=True
    )
    form_class = form_for(row)
    form = form_class(data={"reason": ""})
    assert not form.is_valid() and "reason" in form.errors
    form = form_class(data={"reason": "等候鉴定"})
    assert form.is_valid() and form.params() == {"reason": "等候鉴定"}
    optional = form_for(dataclasses.replace(row, needs_reason=False))(data={})
    assert optional.is_valid() and optional.params() == {}


def test_event_names_come_from_the_table() -> None:
    for action, row in TRANSITIONS.items():
        assert EVENT_LABELS[action] == row.label
        assert PUBLIC_LABELS.get(action, "") == row.public_label
