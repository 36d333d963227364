"""Periodic jobs of the partners app's agreement part (imported by partners.tasks)."""

from __future__ import annotations
