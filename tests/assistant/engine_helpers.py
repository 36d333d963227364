"""Entries of the engine's tests: words no shipped entry uses (惠民乘车卡), so what the
tests find is theirs whatever the shipped base holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jiayuan.assistant.choices import Origin, Topic
from jiayuan.assistant.models import Entry

OFFICE = "县交通运输局（公交公司服务点）"


def card_entry(**changes: Any) -> Entry:
    values: dict[str, Any] = {
        "key": "test-huimin-chengcheka",
        "title": "惠民乘车卡办理",
        "topic": Topic.SERVICE,
        "origin": Origin.STAFF,
        "questions": ["惠民乘车卡怎么办理", "惠民乘车卡在哪里办"],
        "answer": "惠民乘车卡由本人带居民身份证到公交公司服务点办理，当场制卡。",
        "source": "汶上县惠民乘车卡管理办法",
        "article": "第五条",
        "office": OFFICE,
        "hours": "",
        "local_figures": [
            {"name": "amount", "label": "乘车卡每月补贴标准", "value": None, "unit": "元/月"}
        ],
    }
    values.update(changes)
    return Entry.objects.create(**values)


def yesterday() -> dt.date:
    return dt.date.today() - dt.timedelta(days=1)
