"""Text handling before retrieval: normalisation, dialect words, synonyms, segmentation
(jieba with the custom dictionary) and the character bigrams of the second index."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable

import jieba
from pypinyin import lazy_pinyin

MAX_CHARS = 200  # a question is cut here: longer text adds nothing but time

# Filler particles residents add (啊呢吧哈…): removed wherever they stand.
FILLERS = frozenset("啊呢吧哈呀嘛哦噢唉诶哎啦咧呗喽哇嘞昂捏")
# Generic dialect and colloquial words, rewritten before the synonyms (longest first).
DIALECT = {
    "咋弄": "怎么办",
    "咋办": "怎么办",
    "咋整": "怎么办",
    "中不中": "行不行",
    "能不能": "能否",
    "啥时候": "什么时候",
    "多会儿": "什么时候",
    "咋": "怎么",
    "啥": "什么",
    "俺们": "我们",
    "俺": "我",
    "咱": "我",
    "木有": "没有",
    "么有": "没有",
    "没得": "没有",
    "不中": "不行",
    "闺女": "女儿",
    "老伴儿": "老伴",
    "老头子": "老伴",
    "老太太": "老人",
    "老爷子": "老人",
    "爹": "父亲",
    "娘": "母亲",
}
# Words that carry no topic: left out of the query (and of its coverage).
STOPWORDS = frozenset(
    """
    我 你 他 她 它 我们 你们 他们 咱们 自己 的 地 得 了 着 过 吗 么 是 在 有 没有 要 想 问 请问
    一下 下 问问 打听 咨询 知道 告诉 请 麻烦 您 谢谢 那个 这个 那 这 个 就 还 也 都 又 和 与 跟
    及 或 或者 给 让 被 把 从 对 到 去 来 会 能 能否 可以 可 行 行不行 不 没 吧 呢 啊 呀 嘛 哦
    现在 今年 今天 一个 什么 怎么 怎么样 怎样 如何 哪 哪里 哪儿 哪个 为什么 是不是 有没有
    家 家里 我家 俺家 他家 老人家 一些 些 点 得 该 应该 需要 需要什么 还是 但是 因为 所以 如果
    嗯 喂 在吗 在不在 有人 有人吗 有人没 你好 您好 好 了解 情况 事 事情 啥事 说 听说 人家 别人
    咱家 上 里 中 时候 什么时候 时间 多长时间 下来 一直 真 还要
    父亲 母亲 爸 妈 爸爸 妈妈 奶奶 爷爷 姥姥 姥爷 外婆 外公 儿子 女儿 儿媳 儿媳妇 媳妇 女婿
    孙子 孙女 小孙子 老伴 大爷 大娘 婶 二婶 叔 哥 姐 弟 妹 对象 男人 老公 老婆 家人 亲戚 邻居
    """.split()
)
# An age, a count or a year (八十岁, 七十多, 66, 1950年): says who asks, not what about.
NUMBER_WORD = re.compile(r"^(?:[零一二两三四五六七八九十百千几]+[岁周年多个]*|\d+[年多个])$")
LATIN_RUN = re.compile(r"[a-z]{2,}")
CJK = re.compile(r"[\u3400-\u9fff]")
CJK_RUN = re.compile(r"[\u3400-\u9fff]+")

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_words: set[str] = set()
_tags: dict[str, str] | None = None


DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CHINESE_TENS = re.compile(r"([一二两三四五六七八九]?)十([一二三四五六七八九]?)(?=[岁周多了])")


def arabic_ages(text: str) -> str:
    """Ages and counts written in Chinese numerals as digits (八十五岁 → 85岁, 六十多 →
    60多), as the entries write them."""

    def one(m: re.Match[str]) -> str:
        tens = DIGITS.get(m.group(1), 1)
        return str(tens * 10 + DIGITS.get(m.group(2), 0))

    return CHINESE_TENS.sub(one, text).replace("百岁", "100岁")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, punctuation and symbols to spaces, filler
    particles and control characters removed, spaces collapsed; at most MAX_CHARS."""
    text = text.encode("utf-8", "replace").decode("utf-8")[: MAX_CHARS * 2]
    text = unicodedata.normalize("NFKC", text).lower()
    out = []
    for ch in text:
        if ch in FILLERS:
            continue
        cat = unicodedata.category(ch)
        if cat[0] in "PSZC":
            out.append(" ")
        else:
            out.append(ch)
    return arabic_ages(" ".join("".join(out).split()))[:MAX_CHARS]


def rewrite(text: str, table: dict[str, str]) -> str:
    """Replace every term of ``table`` by its canonical word, longest match first,
    scanning left to right (a replacement is not scanned again)."""
    if not table:
        return text
    lengths = sorted({len(t) for t in table}, reverse=True)
    out = []
    i = 0
    while i < len(text):
        for n in lengths:
            piece = text[i : i + n]
            if len(piece) == n and piece in table:
                out.append(table[piece])
                i += n
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def tokenizer(words: Iterable[str] = ()) -> jieba.Tokenizer:
    """The process's jieba tokenizer (its dictionary cache in ``settings.VAR_DIR``),
    with ``words`` added to its custom dictionary (each word once per process)."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            from django.conf import settings

            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            cache_dir = settings.VAR_DIR / "jieba"
            cache_dir.mkdir(parents=True, exist_ok=True)
            tk.tmp_dir = str(cache_dir)
            tk.cache_file = "jieba.cache"
            tk.initialize()
            _tokenizer = tk
        for word in words:
            word = normalise(word).replace(" ", "")
            if len(word) >= 2 and word not in _words:
                _tokenizer.add_word(word, freq=max(2000, 200 * len(word)))
                _words.add(word)
        return _tokenizer


def word_tags() -> dict[str, str]:
    """jieba's part-of-speech tag of each word of its main dictionary (loaded once)."""
    global _tags
    with _lock:
        if _tags is None:
            import jieba.posseg

            # the module's own tokenizer read the table at import: not a second time
            _tags = dict(jieba.posseg.dt.word_tag_tab)
        return _tags


def words(text: str, tk: jieba.Tokenizer) -> list[str]:
    """The words of a normalised text (spaces and stopwords dropped)."""
    return [
        w
        for w in tk.lcut_for_search(text, HMM=False)
        if w.strip() and w not in STOPWORDS and not NUMBER_WORD.match(w)
    ]


def bigrams(text: str) -> list[str]:
    """Character bigrams of each run of Chinese characters (a lone character counts as
    itself) and the same run's 拼音 syllable bigrams (``~yi bao``: a homophone typo such
    as 一保 for 医保 or 抵保 for 低保 still meets its word); each latin or digit run is one
    token."""
    grams: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff]+|[a-z0-9]+", text):
        if not CJK.match(run):
            grams.append(run)
            continue
        syllables = lazy_pinyin(run, errors="default")
        if len(run) == 1:
            grams.append(run)
            grams.append("~" + syllables[0])
        else:
            grams.extend(run[i : i + 2] for i in range(len(run) - 1))
            grams.extend(f"~{syllables[i]} {syllables[i + 1]}" for i in range(len(syllables) - 1))
    return grams
