"""answer(): the composed answer with its citation, and each abstention — low score,
unknown local figure (naming the office), expired entry, empty question."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiayuan.assistant.answering import CANNOT, Answer, Citation, answer, numbers_ok
from jiayuan.assistant.choices import Abstention
from jiayuan.assistant.models import Ask

from .engine_helpers import OFFICE, card_entry, yesterday

pytestmark = pytest.mark.django_db


def test_an_answer_cites_its_entry_with_office_and_source() -> None:
    card_entry(hours="工作日 8:30–17:00")
    result = answer("惠民乘车卡去哪办理")
    assert not result.abstained, result
    assert result.entry == "test-huimin-chengcheka"
    assert result.citations == [
        Citation("test-huimin-chengcheka", "惠民乘车卡办理", "汶上县惠民乘车卡管理办法 第五条")
    ]
    assert result.text.splitlines() == [
        "惠民乘车卡由本人带居民身份证到公交公司服务点办理，当场制卡。",
        f"办理：{OFFICE}（工作日 8:30–17:00）",
        "依据：汶上县惠民乘车卡管理办法 第五条",
    ]
    assert numbers_ok(result)


def test_an_unknown_local_figure_abstains_and_names_the_office() -> None:
    card_entry()
    result = answer("惠民乘车卡每个月补贴多少钱")
    assert result.abstained
    assert result.reason == Abstention.UNKNOWN_FIGURE
    assert result.entry == "test-huimin-chengcheka"
    assert result.office == OFFICE
    assert CANNOT in result.text and OFFICE in result.text
    assert "乘车卡每月补贴标准" in result.text
    assert numbers_ok(result)


def test_a_known_local_figure_fills_its_placeholder() -> None:
    figure = {"name": "amount", "label": "乘车卡每月补贴标准", "value": "30", "unit": "元/月"}
    card_entry(answer="惠民乘车卡每月补贴{amount}，到公交公司服务点办理。", local_figures=[figure])
    result = answer("惠民乘车卡每个月补贴多少钱")
    assert not result.abstained, result
    assert result.text.startswith("惠民乘车卡每月补贴30元/月，")
    assert numbers_ok(result)


def test_an_expired_entry_abstains() -> None:
    card_entry(valid_until=yesterday())
    result = answer("惠民乘车卡去哪办理")
    assert (result.abstained, result.reason) == (True, Abstention.EXPIRED)
    assert result.office == OFFICE


@pytest.mark.parametrize("question", ["", "   ", "？？？", "\x00", "😀😀"])
def test_an_empty_question_abstains(question: str) -> None:
    result = answer(question)
    assert (result.abstained, result.reason) == (True, Abstention.EMPTY)
    assert result.citations == []


def test_a_question_the_base_does_not_know_abstains() -> None:
    result = answer("asdfgh")
    assert (result.abstained, result.reason) == (True, Abstention.LOW_SCORE), result
    assert result.citations == [] and CANNOT in result.text
    # near no entry but near the chit-chat and food topics: out of scope
    result = answer("县城哪家羊肉汤好喝")
    assert (result.abstained, result.reason) == (True, Abstention.OUT_OF_SCOPE), result


@pytest.mark.parametrize(
    "question",
    [
        "明天汶上下雨不 俺要去赶集",  # weather
        "快递显示签收了 俺咋没收着",  # parcels
        "在保险公司买的意外险 住院了能报销不",  # commercial insurance, not 医保 报销
        "驾驶证快到期了 换证去哪",  # driving licence, not 残疾人证 换领
        "俺娘血压高 吃啥药好",  # medical advice, not 门诊慢特病
    ],
)
def test_a_decline_topic_abstains_out_of_scope_with_where_to_go(question: str) -> None:
    result = answer(question)
    assert (result.abstained, result.reason) == (True, Abstention.OUT_OF_SCOPE), result
    assert result.citations == [] and result.entry == ""
    assert result.extra["decline"].startswith("decline-")
    assert "不在数字助理的服务范围内" in result.text
    assert "随手拍" in result.text and "12345" in result.text
    assert numbers_ok(result)


@pytest.mark.parametrize(
    ("question", "key"),
    [("降压药在村卫生室拿 医保给报吗", "yibao-menzhen-tongchou"),
     ("残疾人证丢了咋补办", "canjizheng-huanling")],
)  # fmt: skip
def test_a_question_near_a_decline_topic_is_still_answered(question: str, key: str) -> None:
    result = answer(question)
    assert (result.abstained, result.entry) == (False, key), result


def test_answer_uses_the_index_it_is_given() -> None:
    from jiayuan.assistant import retrieval

    entry = card_entry()
    question = "惠民乘车卡在哪办"
    assert answer(question).entry == entry.key
    without = retrieval.build_with([e for e in retrieval.current().entries if e.key != entry.key])
    assert answer(question, index=without).entry != entry.key
    assert answer(question).entry == entry.key  # the process's index is untouched


def test_answer_writes_nothing_and_reads_little() -> None:
    answer("高龄津贴谁能领")  # the index is built
    with CaptureQueriesContext(connection) as queries:
        result = answer("俺爹85了能领高龄津贴不")
    assert result.entry == "policy-gaoling-jintie"
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
    assert len(queries) <= 2
    assert not Ask.objects.exists()


def test_numbers_ok_refuses_a_number_no_cited_entry_states() -> None:
    card_entry()
    cited = [Citation("test-huimin-chengcheka", "惠民乘车卡办理", "")]
    honest = Answer("q", "惠民乘车卡管理办法第五条", False, citations=cited)
    invented = Answer("q", "每月补贴 45 元", False, citations=cited)
    assert numbers_ok(honest)
    assert not numbers_ok(invented)


def test_a_hostile_long_question_is_answered_in_bounded_time() -> None:
    result = answer("高龄津贴" * 5000 + "\ud800")
    assert isinstance(result, Answer)
