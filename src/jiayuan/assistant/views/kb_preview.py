"""The editor's preview: which test questions would change answer if the edited entry
were saved (before → after: the answering entry, or an abstention).

The shipped evaluation sets (data/eval/questions.yaml and dev.yaml, read with the
engine's loader) are answered twice by :func:`jiayuan.assistant.answering.answer` itself:
with the process's index, and with a temporary index of the same base with the edited
entry swapped in (:func:`jiayuan.assistant.retrieval.build_with`). Every decision
(threshold, decline topics, validity, an unknown local figure asked for) is the
answer's own. Nothing is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from .. import evaluation, retrieval
from ..answering import Answer, answer
from ..models import Entry


def swapped_index(edited: Entry, original_key: str | None) -> retrieval.Index:
    """An index of the enabled entries with ``edited`` in place of ``original_key``."""
    skip = {original_key, edited.key} - {None}
    entries = [e for e in Entry.objects.filter(enabled=True).order_by("key") if e.key not in skip]
    if edited.enabled:
        entries.append(edited)
    return retrieval.build_with(entries)


def label(result: Answer, titles: dict[str, str]) -> str:
    if result.abstained:
        return "不回答（转人工）"
    return f"{titles.get(result.entry, result.entry)}（{result.entry}）"


def preview(edited: Entry, original_key: str | None) -> dict[str, Any]:
    """``{"changes": [{"question", "before", "after"}], "checked": N}``: the test
    questions whose answer would change (another entry, or answered ↔ abstained)."""
    day: dt.date = timezone.localdate()
    before_index = retrieval.current()
    after_index = swapped_index(edited, original_key)
    titles = {e.key: e.title for e in before_index.entries}
    titles.update({e.key: e.title for e in after_index.entries})
    changes = []
    questions = evaluation.shipped_questions()
    for question in questions:
        before = answer(question, day=day, index=before_index)
        after = answer(question, day=day, index=after_index)
        if (before.abstained, before.entry) != (after.abstained, after.entry):
            changes.append({"question": question, "before": label(before, titles),
                            "after": label(after, titles)})  # fmt: skip
    return {"changes": changes, "checked": len(questions)}
