"""Retrieval over the knowledge base: Chinese segmentation, synonyms, BM25 indexes.

:func:`current` gives the process's :class:`~.index.Index`, built once and rebuilt when
the base changes: each call reads a cheap version stamp (the entries' count and latest
``updated_at``, the synonyms' rows) — so an edit made by another process (a page, the
API, ``jiayuan assistant sync``) is seen at the next question — and the models' signals
drop the index at once in the process that made the edit.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

from .index import Hit, Index

__all__ = ["Hit", "Index", "build", "build_with", "current", "invalidate", "stamp", "warm"]

log = logging.getLogger(__name__)
_lock = threading.Lock()
_state: dict[str, Any] = {"stamp": None, "index": None}


def stamp() -> tuple[Any, ...]:
    """The base's version: changes whenever an entry or a synonym is added, edited or
    removed (two small queries)."""
    from django.db.models import Count, Max

    from ..models import Entry, Synonym

    entries = Entry.objects.aggregate(n=Count("id"), at=Max("updated_at"), top=Max("id"))
    digest = hashlib.blake2b(digest_size=16)
    for term, canonical in Synonym.objects.order_by("id").values_list("term", "canonical"):
        digest.update(f"{term}\x00{canonical}\x01".encode())
    return (entries["n"], entries["at"], entries["top"], digest.hexdigest())


def build() -> Index:
    """A fresh index of the enabled entries and the synonyms (and data/words.txt)."""
    from ..models import Entry

    return build_with(list(Entry.objects.filter(enabled=True).order_by("key")))


def build_with(entries: list[Any]) -> Index:
    """An index of ``entries`` (models or unsaved ones: the editor's preview) with the
    synonyms, the custom words and the decline topics of the base."""
    from jiayuan.policies.models import Policy

    from ..kb import shipped_declines, shipped_words
    from ..models import Synonym

    synonyms = list(Synonym.objects.values_list("term", "canonical"))
    words = [*shipped_words(), *Policy.objects.values_list("name", flat=True)]
    return Index(entries, synonyms, words, shipped_declines())


def current() -> Index:
    """The process's index, rebuilt when :func:`stamp` changed."""
    now = stamp()
    index = _state["index"]
    if index is not None and _state["stamp"] == now:
        return index
    with _lock:
        if _state["index"] is None or _state["stamp"] != now:
            _state["index"] = build()
            _state["stamp"] = now
        return _state["index"]


def warm() -> bool:
    """Build the process's index now (a web process at start, before ``gc.freeze()``:
    ≈ 1.8 s of CPU with jieba's dictionaries, instead of inside the first question).
    Never fails: a database without the assistant's tables (or without a database at
    all) or a broken data file leaves the index to the first question, logged."""
    from django.db import DatabaseError

    from jiayuan.core.errors import BilingualError

    started = time.perf_counter()
    try:
        current()
    except (DatabaseError, BilingualError, OSError) as exc:
        log.warning("assistant index not built at start: %s", exc)
        return False
    log.info("assistant index built in %.2f s", time.perf_counter() - started)
    return True


def invalidate(**_: Any) -> None:
    """Drop the process's index (a signal receiver: an entry or synonym changed)."""
    _state["stamp"] = None
