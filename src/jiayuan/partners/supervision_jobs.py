"""Periodic jobs of the partners app's supervision part (imported by partners.tasks)."""

from __future__ import annotations
