"""What an answer is (the engine's output), shared by every caller: the API, the chat
pages, the WeCom robot and the evaluation.

:func:`answer` (added by the engine, :mod:`jiayuan.assistant.retrieval`) turns a
question into an :class:`Answer` without writing anything; :mod:`.asking` logs it,
adds a resident's personal answer and offers the hand-off."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone


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


# --- the engine ------------------------------------------------------------------------

CANNOT = "我还不能准确回答这个问题"
COMMUNITY_OFFICE = "所在社区党群服务中心（网格员）"
# A figure the question asks, by the words that ask it → how to tell a local figure of
# that kind (its name, label or unit).
FIGURE_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "money": (
        re.compile(
            r"多少钱|几块|几百|几千|多少块|给多少|发多少|补多少|补贴多少|交多少|缴多少|"
            r"领多少|拿多少|每月多少|月多少|年多少|标准是多少|什么标准|标准多少|多少元|"
            r"金额|多少补贴|多钱|上限|限额|起付线|封顶"
        ),
        re.compile(
            r"元|amount|money|标准|金额|补贴|津贴|费|premium|subsidy|pension|line|"
            r"limit|限额|threshold|起付|levels|档次|funeral"
        ),
    ),
    "rate": (
        re.compile(r"比例|百分之|几成|报多少|报销多少|能报多少|报销率|多少%|报百分"),
        re.compile(r"%|比例|rate"),
    ),
    "time": (
        re.compile(r"几点|上班时间|下班|办公时间|营业时间|什么时间上班|开门|关门|周末"),
        re.compile(r"hours|办公时间|开放时间"),
    ),
    "phone": (
        re.compile(r"电话|号码|联系方式|手机号|热线号"),
        re.compile(r"phone|电话|号码|tel"),
    ),
    "date": (
        re.compile(r"几月几号|几月几日|几号|哪天|哪一天|截止|截至|具体日期|几月份"),
        re.compile(r"date|period|deadline|日期|截止"),
    ),
}
# What a citation's entry must contain for a number of the answer to be allowed.
NUMBER = re.compile(r"\d+(?:\.\d+)?")
MIN_CLOSE = 0.9  # a second entry is cited only when it scores this close to the first
# A decline topic (data/decline.yaml) that scores at least this share of the best entry's
# score, and at least DECLINE_FLOOR × the threshold, makes the answer OUT_OF_SCOPE
# (calibrated on data/eval/dev.yaml).
DECLINE_MARGIN = 1.0
DECLINE_FLOOR = 0.5
OUT_OF_SCOPE = (
    "这个问题不在数字助理的服务范围内。小区和邻里的问题（路灯、垃圾、噪音、占道等）"
    "可以用“随手拍”反映，其他政务事项请拨打12345政务服务便民热线。"
)
OUT_OF_SCOPE_OFFICE = "12345政务服务便民热线"
MIN_SECOND_SHARE = 0.5


def asked_figures(question: str) -> list[str]:
    """The kinds of figure a question asks for (money, rate, time, phone, date)."""
    return [kind for kind, (asks, _) in FIGURE_KINDS.items() if asks.search(question)]


# How a figure of each kind shows in an entry's text (a stated amount, rate, hour…).
STATED = {
    "money": re.compile(r"\d[\d,.]*\s*(?:万?元|块)"),
    "rate": re.compile(r"\d+(?:\.\d+)?\s*%|百分之"),
    "time": re.compile(r"\d{1,2}[:：]\d{2}|\d{1,2}点"),
    "phone": re.compile(r"\d{5,}"),
    "date": re.compile(r"\d{1,2}月(?:\d{1,2}日)?"),
}
LABELS = {"money": "具体金额", "rate": "具体比例", "time": "办公时间", "phone": "联系电话",
          "date": "具体日期"}  # fmt: skip


def unknown_figure(entry: Any, kinds: list[str]) -> dict[str, Any] | None:
    """The figure a question asks that the entry does not know: its local figure of that
    kind left unknown (value null), or — when it has no figure of that kind at all — a
    kind its text never states (an amount asked of an entry without one)."""
    for kind in kinds:
        _, names = FIGURE_KINDS[kind]
        known = False
        for figure in entry.local_figures or []:
            text = f"{figure.get('name', '')} {figure.get('label', '')} {figure.get('unit', '')}"
            if names.search(text):
                if figure.get("value") is None:
                    return dict(figure)
                known = True
        stated = STATED[kind].search(f"{entry.answer} {entry.hours}")
        if not known and not stated:
            return {"name": kind, "label": LABELS[kind], "value": None, "unit": ""}
    return None


def _fill(text: str, entry: Any) -> str:
    """``{name}`` placeholders filled with the known local figures; an unknown one is
    named with where to ask, never guessed."""
    figures = {f.get("name"): f for f in entry.local_figures or []}

    def one(m: re.Match[str]) -> str:
        figure = figures.get(m.group(1))
        if figure is None:
            return m.group(0)
        if figure.get("value") is None:
            return f"（{figure.get('label', '')}请向{entry.office or COMMUNITY_OFFICE}咨询）"
        return f"{figure['value']}{figure.get('unit', '')}"

    return re.sub(r"\{([a-z][a-z0-9_]*)\}", one, text)


def citation(entry: Any) -> Citation:
    source = f"{entry.source}{' ' + entry.article if entry.article else ''}"
    return Citation(entry=entry.key, title=entry.title, source=source)


def compose(entry: Any) -> str:
    """The answer text of one entry: the answer, then where to apply, then the basis."""
    parts = [_fill(entry.answer.strip(), entry)]
    if entry.office:
        parts.append(f"办理：{entry.office}" + (f"（{entry.hours}）" if entry.hours else ""))
    source = f"{entry.source}{' ' + entry.article if entry.article else ''}"
    parts.append(f"依据：{source}")
    return "\n".join(parts)


def _abstain(question: str, reason: str, *, office: str = "", entry: str = "",
             score: float = 0.0, detail: str = "", office_of: str = "") -> Answer:  # fmt: skip
    """An abstention; ``office_of`` is the entry whose office is named when the question
    was not close enough to name that entry itself (``extra["office_of"]``)."""
    office = office or COMMUNITY_OFFICE
    text = f"{CANNOT}。{detail}请向{office}咨询，也可以请网格员帮您转问。"
    extra = {"office_of": office_of} if office_of else {}
    return Answer(question=question, text=text, abstained=True, reason=reason,
                  score=score, entry=entry, office=office, extra=extra)  # fmt: skip


def answer(question: str, *, day: dt.date | None = None, index: Any = None) -> Answer:
    """The answer to ``question`` from the knowledge base, or an abstention (see
    :class:`~.choices.Abstention`). Reads only: nothing is written. ``index`` is the
    process's (:func:`.retrieval.current`) unless given (the editor's preview passes one
    with the edited entry swapped in)."""
    from django.conf import settings

    from . import retrieval
    from .choices import Abstention

    question = question if isinstance(question, str) else ""
    day = day or timezone.localdate()
    index = index if index is not None else retrieval.current()
    hits, decline = index.search_all(question)
    best = hits[0].score if hits else 0.0
    if (
        decline is not None
        and decline.score >= DECLINE_FLOOR * settings.ASSISTANT_MIN_SCORE
        and decline.score >= DECLINE_MARGIN * best
    ):
        topic = index.declines[decline.index]
        return Answer(question=question, text=OUT_OF_SCOPE, abstained=True,
                      reason=Abstention.OUT_OF_SCOPE, score=best,
                      office=OUT_OF_SCOPE_OFFICE, extra={"decline": topic.key})  # fmt: skip
    if not hits:
        return _abstain(question, Abstention.EMPTY if not _meaningful(question)
                        else Abstention.LOW_SCORE)  # fmt: skip
    top = hits[0]
    entry = index.entries[top.index]
    if top.score < settings.ASSISTANT_MIN_SCORE:
        # the nearest entry's office, when the question came half-way to it
        near = top.score >= settings.ASSISTANT_MIN_SCORE / 2 and bool(entry.office)
        return _abstain(question, Abstention.LOW_SCORE, score=top.score,
                        office=entry.office if near else "",
                        office_of=entry.key if near else "")  # fmt: skip
    if not entry.valid_on(day):
        detail = f"“{entry.title}”的内容已过有效期，正在更新。"
        return _abstain(question, Abstention.EXPIRED, office=entry.office, entry=entry.key,
                        score=top.score, detail=detail)  # fmt: skip
    figure = unknown_figure(entry, asked_figures(index.prepare(question)))
    if figure is not None:
        office = entry.office or COMMUNITY_OFFICE
        return _abstain(question, Abstention.UNKNOWN_FIGURE, office=office, entry=entry.key,
                        score=top.score,
                        detail=f"“{entry.title}”的{figure['label']}由当地确定，"
                               f"知识库中还没有录入，不能替您猜测。")  # fmt: skip
    cited = [entry]
    if len(hits) > 1:
        second = index.entries[hits[1].index]
        if (
            hits[1].score >= MIN_CLOSE * top.score
            and second.valid_on(day)
            and _needs_both(question, entry, second, index)
        ):
            cited.append(second)
    text = "\n\n".join(compose(e) for e in cited)
    return Answer(
        question=question,
        text=text,
        abstained=False,
        citations=[citation(e) for e in cited],
        score=top.score,
        entry=entry.key,
        office=entry.office,
    )


def _meaningful(question: str) -> bool:
    from .retrieval import text as tx

    return any(ch.isalnum() for ch in tx.normalise(question))


def _needs_both(question: str, first: Any, second: Any, index: Any) -> bool:
    """Whether a question names both entries: it joins two parts (和/还有/以及/同时…) and
    each entry's title has a word of the question the other's title lacks."""
    if not re.search(r"和|还有|以及|同时|另外|并且|跟", question):
        return False
    words = set(index.query(question)[0])
    a = set(index.query(first.title)[0]) & words
    b = set(index.query(second.title)[0]) & words
    return bool(a - b) and bool(b - a)


def numbers_ok(result: Answer) -> bool:
    """Whether every number of the answer's text is stated by an entry it cites (or, for
    an abstention, by the entry it names or whose office it gives): the assistant never
    invents a figure."""
    from .models import Entry

    if result.reason == "out_of_scope":  # the fixed text: its only number is 12345's
        return result.text == OUT_OF_SCOPE
    keys = [c.entry for c in result.citations] or [
        k for k in (result.entry, result.extra.get("office_of", "")) if k
    ]
    allowed: set[str] = set()
    for e in Entry.objects.filter(key__in=keys):
        figures = " ".join(f"{f.get('value') or ''}" for f in e.local_figures or [])
        allowed |= set(NUMBER.findall(" ".join(
            [e.title, e.answer, e.source, e.article, e.office, e.hours, figures]
        )))  # fmt: skip
    return all(n in allowed for n in NUMBER.findall(result.text))
