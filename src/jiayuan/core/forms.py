"""Helpers shared by the apps' page forms."""

from __future__ import annotations

from django import forms

from .errors import BilingualError


def add_error(form: forms.Form, exc: BilingualError, names: dict[str, str] | None = None) -> None:
    """A domain refusal shown in Chinese on the field it names (or on the whole form).
    ``names`` maps the action layer's field names to the form's where they differ."""
    field = (names or {}).get(exc.field or "", exc.field or "")
    form.add_error(field if field in form.fields else None, exc.zh)
