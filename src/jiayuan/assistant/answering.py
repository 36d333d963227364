"""What an answer is (the engine's output), shared by every caller: the API, the chat
pages, the WeCom robot and the evaluation.

:func:`answer` (added by the engine, :mod:`jiayuan.assistant.retrieval`) turns a
question into an :class:`Answer` without writing anything; :mod:`.asking` logs it,
adds a resident's personal answer and offers the hand-off."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Citation:
    entry: str  # the entry's key
    title: str
    source: str  # the document, with its article

    def as_json(self) -> dict[str, str]:
        return {"entry": self.entry, "title": self.title, "source": self.source}


@dataclass
class Answer:
    """An answer, or an abstention (``abstained``, with ``reason`` one of
    :class:`~.choices.Abstention`). Every answer cites its entries; an answer with no
    citation is an abstention. ``office`` is where to ask when the assistant cannot
    answer (the best entry's office, else the community's)."""

    question: str
    text: str
    abstained: bool
    reason: str = ""
    citations: list[Citation] = field(default_factory=list)
    score: float = 0.0
    entry: str = ""  # the top entry's key, also when abstaining on a known topic
    office: str = ""
    personal: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
