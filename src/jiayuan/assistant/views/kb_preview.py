"""The editor's preview: which test questions would change answer if the edited entry
were saved (before → after: the top entry, or an abstention).

The shipped evaluation sets (data/eval/questions.yaml and dev.yaml, read with the
engine's loader) are answered twice on a top-entry basis: by the process's index, and by
a temporary index of the same entries and synonyms with the edited entry swapped in,
built through the engine's public :class:`~jiayuan.assistant.retrieval.Index`. The
decision (threshold, validity, an unknown local figure asked for) is the answer's,
through :mod:`jiayuan.assistant.answering`'s public helpers. Nothing is written.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from .. import answering, evaluation, retrieval
from ..kb import shipped_words
from ..models import Entry, Synonym

EVAL_DIR = Path(__file__).resolve().parent.parent / "data" / "eval"
EVAL_FILES = ("questions.yaml", "dev.yaml")
ABSTAIN = ""


@functools.cache
def test_questions() -> tuple[str, ...]:
    """The questions of the shipped evaluation sets, each once (read once per process)."""
    seen: dict[str, None] = {}
    for name in EVAL_FILES:
        path = EVAL_DIR / name
        if path.exists():
            for item in evaluation.load(path):
                seen.setdefault(item.question, None)
    return tuple(seen)


def top_entry(index: retrieval.Index, question: str, day: dt.date) -> Any:
    """The entry that would answer ``question``, or ``None`` for an abstention."""
    hits = index.search(question)
    if not hits or hits[0].score < settings.ASSISTANT_MIN_SCORE:
        return None
    entry = index.entries[hits[0].index]
    if not entry.valid_on(day):
        return None
    if answering.unknown_figure(entry, answering.asked_figures(index.prepare(question))):
        return None
    return entry


def swapped_index(edited: Entry, original_key: str | None) -> retrieval.Index:
    """An index of the enabled entries with ``edited`` in place of ``original_key``."""
    from jiayuan.policies.models import Policy

    skip = {original_key, edited.key} - {None}
    entries = [e for e in Entry.objects.filter(enabled=True).order_by("key") if e.key not in skip]
    if edited.enabled:
        entries.append(edited)
    synonyms = list(Synonym.objects.values_list("term", "canonical"))
    words = [*shipped_words(), *Policy.objects.values_list("name", flat=True)]
    return retrieval.Index(entries, synonyms, words)


def label(entry: Any) -> str:
    return "不回答（转人工）" if entry is None else f"{entry.title}（{entry.key}）"


def preview(edited: Entry, original_key: str | None) -> dict[str, Any]:
    """``{"changes": [{"question", "before", "after"}], "checked": N}``: the test
    questions whose answer would change."""
    day = timezone.localdate()
    before_index = retrieval.current()
    after_index = swapped_index(edited, original_key)
    changes = []
    questions = test_questions()
    for question in questions:
        before = top_entry(before_index, question, day)
        after = top_entry(after_index, question, day)
        if (before.key if before else ABSTAIN) != (after.key if after else ABSTAIN):
            changes.append({"question": question, "before": label(before), "after": label(after)})
    return {"changes": changes, "checked": len(questions)}
