"""Per-process copies of small tables read on hot paths: the declared working days,
the area boundaries, who takes cases where, the device types.

Nothing in Jiayuan may assume it is the only process (web workers, the job worker and
ingest processes all read these), so a copy is kept fresh in three ways:

- a save or delete in this process drops the copy, and caching pauses until that
  transaction commits: a copy built meanwhile may hold what rolls back, so it is used
  once but not kept (:meth:`ProcessCache.changed`, connected by :meth:`~ProcessCache.watch`);
- changes made elsewhere (another process, ``QuerySet.update``) are seen at most
  ``ttl`` seconds later; with a ``version`` function (a cheap query, such as the count
  and newest ``updated_at`` of the rows) the copy is rebuilt only when the version moved;
- ``migrate`` and ``flush`` (a transactional test's teardown) rewrite whole tables
  without row signals, so they drop every copy.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from django.db import transaction
from django.db.models.signals import post_delete, post_migrate, post_save

T = TypeVar("T")

_MISSING: Any = object()
_ALL: weakref.WeakSet[ProcessCache[Any]] = weakref.WeakSet()


class ProcessCache(Generic[T]):
    """One table (or a few) held in this process, as ``load()`` builds it."""

    def __init__(
        self,
        load: Callable[[], T],
        *,
        ttl: float,
        version: Callable[[], Hashable] | None = None,
    ) -> None:
        self.load = load
        self.ttl = ttl
        self.version = version
        self.checked_at = 0.0  # when the copy was last loaded or found current
        self._value: T = _MISSING
        self._key: Hashable = None
        self._pending = False  # a watched row changed in a transaction not yet committed
        self._lock = threading.Lock()
        _ALL.add(self)

    def get(self) -> T:
        """The copy, reloaded when older than ``ttl`` (and, with ``version``, changed)."""
        now = time.monotonic()
        with self._lock:
            value, key, pending = self._value, self._key, self._pending
            if value is not _MISSING and not pending and now - self.checked_at < self.ttl:
                return value
        new_key = self.version() if self.version is not None else None
        if value is _MISSING or pending or self.version is None or new_key != key:
            value = self.load()
        with self._lock:
            if not self._pending:
                self._value, self._key, self.checked_at = value, new_key, now
        return value

    def forget(self) -> None:
        """Drop the copy; the next :meth:`get` loads it again."""
        with self._lock:
            self._value = _MISSING
            self._pending = False

    def changed(self) -> None:
        """A row behind the copy was written in this process's current transaction."""
        with self._lock:
            self._value = _MISSING
            self._pending = True
        transaction.on_commit(self.forget)

    def watch(
        self,
        sender: Any,
        *,
        uid: str,
        ignore: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Call :meth:`changed` on every save and delete of ``sender`` (a model or its
        ``"app.Model"`` label), unless ``ignore(signal kwargs)`` says the write cannot
        touch the copy (a login that only stamps ``last_login``)."""

        def receiver(**kwargs: Any) -> None:
            if ignore is None or not ignore(kwargs):
                self.changed()

        # weak=False: the closure lives as long as the cache, which is module-level.
        post_save.connect(receiver, sender=sender, dispatch_uid=f"{uid}.save", weak=False)
        post_delete.connect(receiver, sender=sender, dispatch_uid=f"{uid}.delete", weak=False)


def forget_all(**_: Any) -> None:
    """Drop every process cache (after ``migrate`` or ``flush``)."""
    for cache in list(_ALL):
        cache.forget()


post_migrate.connect(forget_all, dispatch_uid="core.cache.reset")
