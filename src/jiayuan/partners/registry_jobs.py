"""Periodic jobs of the partners app's registry part (imported by partners.tasks)."""

from __future__ import annotations
