"""Retrieval: normalisation, synonyms (longest first), typos and homophones through the
character and 拼音 bigrams, 拼音 initials, and the index rebuilt when an entry changes."""

from __future__ import annotations

import pytest

from jiayuan.assistant import retrieval
from jiayuan.assistant.models import Synonym
from jiayuan.assistant.retrieval import text as tx

from .engine_helpers import card_entry

pytestmark = pytest.mark.django_db


def top_key(question: str) -> str:
    index = retrieval.current()
    hits = index.search(question)
    return index.entries[hits[0].index].key if hits else ""


def test_normalise_folds_width_case_punctuation_and_fillers() -> None:
    assert tx.normalise("ＹＬＢＸ，怎么交啊？？") == "ylbx 怎么交"
    assert tx.normalise("低保呢…吧") == "低保"
    assert tx.normalise("a\x00b\ud800c") == "a b c"  # NUL and a lone surrogate
    assert len(tx.normalise("医" * 10_000)) == tx.MAX_CHARS


def test_rewrite_takes_the_longest_term_first() -> None:
    table = {"农合": "X", "新农合": "城乡居民医保"}
    assert tx.rewrite("新农合断了", table) == "城乡居民医保断了"
    assert tx.rewrite("农合断了", table) == "X断了"


def test_an_entry_is_found_by_its_own_words() -> None:
    card_entry()
    assert top_key("惠民乘车卡去哪办") == "test-huimin-chengcheka"


def test_a_synonym_finds_the_entry() -> None:
    card_entry()
    question = "俺想办个敬老公交证"
    assert top_key(question) != "test-huimin-chengcheka"
    Synonym.objects.create(term="敬老公交证", canonical="惠民乘车卡")
    assert top_key(question) == "test-huimin-chengcheka"


def test_a_homophone_typo_finds_the_entry() -> None:
    card_entry()
    # 回民 for 惠民, 成车 for 乘车: neither word nor bigram matches, the 拼音 bigrams do
    assert top_key("回民成车卡咋办") == "test-huimin-chengcheka"


def test_pinyin_initials_find_the_entry() -> None:
    card_entry()
    assert top_key("hmcck") == "test-huimin-chengcheka"
    assert top_key("HMCCK在哪办") == "test-huimin-chengcheka"


def test_the_index_is_rebuilt_when_an_entry_is_edited() -> None:
    entry = card_entry()
    question = "坐车月票能不能退掉"
    assert top_key(question) != entry.key
    before = retrieval.current()
    entry.questions = [*entry.questions, "坐车月票能退吗"]
    entry.save()
    assert retrieval.current() is not before
    assert top_key(question) == entry.key


def test_an_unchanged_base_keeps_its_index() -> None:
    assert retrieval.current() is retrieval.current()


def test_warming_builds_the_index_and_never_fails_the_start(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.db import OperationalError

    retrieval.invalidate()
    assert retrieval.warm() is True
    built = retrieval._state["index"]
    assert built is not None and built.entries and built.declines
    assert retrieval.current() is built  # the first question finds it ready

    def missing_tables() -> None:
        raise OperationalError("no such table: assistant_entry")

    monkeypatch.setattr(retrieval, "current", missing_tables)
    assert retrieval.warm() is False


def test_decline_topics_are_indexed_but_never_an_entry_hit() -> None:
    index = retrieval.current()
    hits, decline = index.search_all("明天下雨不 要不要带伞")
    assert decline is not None and index.declines[decline.index].key == "decline-tianqi"
    assert all(h.index < len(index.entries) for h in hits)
    assert index.search("明天下雨不 要不要带伞") == hits
