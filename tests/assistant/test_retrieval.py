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
