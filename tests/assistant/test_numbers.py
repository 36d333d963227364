"""No answer contains a number that is not in a cited entry, over every question of the
shipped evaluation set (and the engine's own dev set); every answer cites its entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiayuan.assistant import evaluation
from jiayuan.assistant.answering import answer, numbers_ok

pytestmark = pytest.mark.django_db

EVAL = Path(evaluation.__file__).resolve().parent / "data" / "eval"


@pytest.mark.parametrize("name", ["questions.yaml", "dev.yaml"])
def test_every_answer_states_only_numbers_of_its_citations(name: str) -> None:
    items = evaluation.load(EVAL / name)
    assert len(items) >= 60
    bad = []
    for item in items:
        result = answer(item.question)
        if not result.abstained and not result.citations:
            bad.append((item.question, "no citation"))
        if not numbers_ok(result):
            bad.append((item.question, result.text))
    assert bad == []
