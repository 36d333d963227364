"""The per-process copy of a small table (core.cache.ProcessCache): kept within its time
limit, rebuilt only when its version moved, never kept while a write in this process may
still roll back, and dropped after migrate/flush."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from jiayuan.core.cache import ProcessCache, forget_all


class Table:
    """A stand-in for a table: its rows, its version, and how often each was read."""

    def __init__(self) -> None:
        self.rows = ["a"]
        self.version = 1
        self.loads = 0
        self.checks = 0

    def load(self) -> list[str]:
        self.loads += 1
        return list(self.rows)

    def read_version(self) -> int:
        self.checks += 1
        return self.version


def test_the_copy_is_kept_within_its_time_limit() -> None:
    table = Table()
    cache = ProcessCache(table.load, ttl=60.0)
    assert cache.get() == ["a"]
    table.rows = ["a", "b"]  # changed elsewhere
    assert cache.get() == ["a"] and table.loads == 1
    cache.checked_at -= 61  # time passes
    assert cache.get() == ["a", "b"] and table.loads == 2


def test_with_a_version_only_a_moved_version_reloads() -> None:
    table = Table()
    cache = ProcessCache(table.load, ttl=0.0, version=table.read_version)
    cache.get()
    cache.get()
    assert (table.loads, table.checks) == (1, 2)  # checked twice, read once
    table.rows, table.version = ["b"], 2
    assert cache.get() == ["b"] and table.loads == 2


@pytest.mark.django_db
def test_a_write_in_this_process_is_seen_at_once_but_kept_only_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    table = Table()
    cache = ProcessCache(table.load, ttl=60.0)
    cache.get()
    with django_capture_on_commit_callbacks() as callbacks:
        table.rows = ["b"]
        cache.changed()  # as a post_save of a watched model does
        assert cache.get() == ["b"]
        table.rows = ["c"]  # still inside the transaction: nothing was kept
        assert cache.get() == ["c"]
    for callback in callbacks:  # the commit
        callback()
    assert cache.get() == ["c"]
    loads = table.loads
    assert cache.get() == ["c"] and table.loads == loads  # kept again


@pytest.mark.django_db
def test_a_watched_model_saved_in_this_process_drops_the_copy() -> None:
    from jiayuan.core import calendar
    from jiayuan.core.models import CalendarDay

    calendar.forget_declared_days()
    before = calendar.declared_days()
    CalendarDay.objects.create(date=dt.date(2031, 1, 2), is_workday=False, name="测试")
    assert dt.date(2031, 1, 2) in calendar.declared_days().get(2031, {})
    assert dt.date(2031, 1, 2) not in before.get(2031, {})


def test_migrate_and_flush_drop_every_copy() -> None:
    table = Table()
    cache = ProcessCache(table.load, ttl=60.0)
    cache.get()
    forget_all()  # connected to post_migrate, which migrate and flush send
    cache.get()
    assert table.loads == 2
