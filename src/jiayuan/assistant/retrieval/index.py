"""The two BM25 indexes over the knowledge base (words and character bigrams), the
拼音 lookup of latin questions, and the fused, calibrated score.

Each index scores an entry by its title (weighted ×3), its question variants (×2) and
its answer. A raw BM25 score is divided by the most the question's words could score
(the sum of their idf; a word the base does not know counts as ``OOV_IDF``): the result
is the idf-weighted share of the question the entry covers, between 0 and 1, comparable
from one question to the next. The two shares are fused by ``WORD_WEIGHT``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np
from pypinyin import lazy_pinyin

from . import text as tx

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build

TITLE_WEIGHT = 5
QUESTION_WEIGHT = 3
K1 = 2.0
B = 0.75
HEAD_WEIGHT = 0.4  # the calibrated score: this much title-and-variants share, the rest fused
RERANK = 5  # the best entries by fused share that the calibrated score reorders
WORD_WEIGHT = 0.5  # the bigram share takes the rest
# What a word the base does not know weighs in the question's total: a noun (a thing the
# base does not talk about: 西瓜, 驾驶证, 快递) weighs most, a verb or adverb less, a
# single character least (often a dialect word or a typo).
OOV_NOUN = 5.0
OOV_IDF = 1.0
OOV_SINGLE = 0.3
OOV_SINGLE_NOUN = 2.0  # 猫, 狗, 药: a single character that is a noun
NOUN_TAGS = ("n", "vn", "an", "s", "nz", "nr", "ns", "nt", "ng", "nrt", "nrfg")


@dataclass(frozen=True)
class Hit:
    index: int  # position in Index.entries
    score: float  # calibrated, 0..1: the mean of ``fused`` and ``head``
    words: float  # share of the question on the word index
    bigrams: float  # ... on the bigram index
    head: float  # idf share of the question's words found in the title or question variants


class Bm25:
    """One bm25s index and the idf of its tokens (for the calibration)."""

    def __init__(self, docs: list[list[str]], weight_of_unknown: Any = None) -> None:
        self.model = bm25s.BM25(k1=K1, b=B, method="lucene")
        self.model.index([d or [""] for d in docs], show_progress=False)
        n = len(docs)
        df = Counter(t for d in docs for t in set(d))
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.size = n
        self.unknown = weight_of_unknown or (lambda t: OOV_IDF if len(t) > 1 else OOV_SINGLE)
        # The best score each token reaches on any entry: a token's score on an entry is
        # divided by it, so the entry that matches a token best gets all of its idf.
        self.best = {t: float(self.model.get_scores([t]).max()) or 1.0 for t in self.idf if t}

    def weight(self, token: str) -> float:
        """What ``token`` weighs in a question's total: its idf, or the unknown's weight."""
        return self.idf[token] if token in self.idf else float(self.unknown(token))

    def shares(self, tokens: Sequence[str]) -> np.ndarray:
        """Each entry's share of the question (see the module)."""
        unique = [t for t in dict.fromkeys(tokens) if t]
        total = sum(self.weight(t) for t in unique)
        result = np.zeros(self.size, dtype=np.float32)
        if total <= 0:
            return result
        for t in unique:
            if t in self.idf:
                result += self.model.get_scores([t]) * (self.idf[t] / self.best[t])
        return result / total


class Index:
    """Everything retrieval needs, built once from the entries and the synonyms."""

    def __init__(self, entries: Sequence[Any], synonyms: Iterable[tuple[str, str]],
                 words: Iterable[str] = (), declines: Sequence[Any] = ()) -> None:  # fmt: skip
        self.entries = list(entries)
        # Topics the assistant must not answer (kb.DeclineTopic): indexed after the
        # entries, so that they take their words' weight, but never returned by search().
        self.declines = list(declines)
        self.synonyms = {tx.normalise(t).replace(" ", ""): c for t, c in synonyms if t}
        self.synonyms = {t: c for t, c in self.synonyms.items() if t}
        self.dialect = dict(tx.DIALECT)
        vocabulary = [*words, *self.synonyms.values(), *self.synonyms.keys()]
        vocabulary += [e.title for e in self.entries]
        self.tk = tx.tokenizer(vocabulary)
        word_docs, gram_docs = [], []
        self.heads: list[frozenset[str]] = []
        for e in [*self.entries, *self.declines]:
            title = self.prepare(e.title)
            questions = [self.prepare(q) for q in (e.questions or []) if isinstance(q, str)]
            answer = self.prepare(e.answer)
            self.heads.append(
                frozenset(tx.words(title, self.tk)).union(
                    *(tx.words(q, self.tk) for q in questions)
                )
            )
            word_docs.append(
                tx.words(title, self.tk) * TITLE_WEIGHT
                + [w for q in questions for w in tx.words(q, self.tk)] * QUESTION_WEIGHT
                + tx.words(answer, self.tk)
            )
            gram_docs.append(
                tx.bigrams(title) * TITLE_WEIGHT
                + [g for q in questions for g in tx.bigrams(q)] * QUESTION_WEIGHT
                + tx.bigrams(answer)
            )
        tags = tx.word_tags()

        def unknown_word(t: str) -> float:
            noun = tags.get(t, "") in NOUN_TAGS
            if len(t) == 1:
                return OOV_SINGLE_NOUN if noun else OOV_SINGLE
            return OOV_NOUN if noun else OOV_IDF

        self.words = Bm25(word_docs, unknown_word)
        self.grams = Bm25(gram_docs)
        # 拼音 of the base's words, and of every run of three to eight characters of
        # each title and synonym (惠民乘车卡 of 惠民乘车卡办理 → hmcck); a word of the base
        # wins over such a run when both spell alike (see _pinyin_table)
        spelled = list(vocabulary) + [t for d in word_docs for t in d]
        for phrase in [e.title for e in self.entries] + list(self.synonyms.values()):
            for run in tx.CJK_RUN.findall(tx.normalise(phrase)):
                spelled += [run[i : i + n] for n in range(3, 9) for i in range(len(run) - n + 1)]
        self.pinyin = self._pinyin_table(spelled, word_docs)

    def prepare(self, text: str) -> str:
        """Normalised, dialect and synonyms rewritten (the same for entries and questions)."""
        return tx.rewrite(tx.rewrite(tx.normalise(text), self.dialect), self.synonyms)

    @staticmethod
    def _pinyin_table(vocabulary: list[str], docs: list[list[str]]) -> dict[str, str]:
        """Initials (ylbx) and full 拼音 (yiliaobaoxian) of the base's words → the word;
        where two words share a spelling, the one used most in the base wins."""
        frequency = Counter(t for d in docs for t in d)
        table: dict[str, tuple[int, str]] = {}
        # each word once (the documents repeat theirs): 28,000 spellings → 3,000
        for word in dict.fromkeys(tx.normalise(w).replace(" ", "") for w in vocabulary):
            if len(word) < 2 or not all(tx.CJK.match(ch) for ch in word):
                continue
            rank = frequency.get(word, 0)
            syllables = lazy_pinyin(word, errors="ignore")
            initials = "".join(s[0] for s in syllables if s)
            for spelling in (initials, "".join(syllables)):
                if len(spelling) >= 2 and (spelling not in table or table[spelling][0] < rank):
                    table[spelling] = (rank, word)
        return {k: w for k, (_, w) in table.items()}

    def depinyin(self, text: str) -> str:
        """Latin runs of a question read as 拼音 of the base's words (ylbx → 医疗保险),
        longest spelling first. A run is read only when its spellings cover all of it
        (``asdfgh`` is no question, whatever ``asd`` and ``fg`` spell)."""
        if not self.pinyin or not tx.LATIN_RUN.search(text):
            return text
        longest = max(len(k) for k in self.pinyin)

        def read(run: str) -> str:
            out, i, stray = [], 0, 0
            while i < len(run):
                for n in range(min(longest, len(run) - i), 1, -1):
                    word = self.pinyin.get(run[i : i + n])
                    if word:
                        out.append(" " + word + " ")
                        i += n
                        break
                else:
                    out.append(run[i])
                    i += 1
                    stray += 1
            return "".join(out) if stray == 0 else run

        return tx.LATIN_RUN.sub(lambda m: read(m.group(0)), text)

    def query(self, question: str) -> tuple[list[str], list[str]]:
        """The question's words and bigrams: those of the rewritten question, plus the
        words of the resident's own wording that the base also uses (低保户 → the
        canonical 最低生活保障, and 低保 kept, which is what the entries say)."""
        plain = tx.rewrite(tx.normalise(question), self.dialect)
        text = tx.rewrite(self.depinyin(tx.rewrite(plain, self.synonyms)), self.synonyms)
        words = tx.words(text, self.tk)
        if text != plain:
            words += [w for w in tx.words(plain, self.tk) if w in self.words.idf]
        return words, tx.bigrams(text)

    def search(self, question: str, limit: int = 3) -> list[Hit]:
        """The best entries for ``question`` (decline topics left out: see
        :meth:`search_all`)."""
        return self.search_all(question, limit)[0]

    def search_all(self, question: str, limit: int = 3) -> tuple[list[Hit], Hit | None]:
        """The best entries for ``question``, and the best decline topic (its ``index``
        a position in :attr:`declines`) or ``None``. Candidates are ranked by the fused
        share of the two indexes; each one's calibrated score also weighs how much of the
        question its title and question variants hold (``head``): a question that only
        meets words of an answer's body (离婚 in a passage on who may apply) is seldom
        about it."""
        n = len(self.entries)
        if not n:
            return [], None
        words, grams = self.query(question)
        if not words and not grams:
            return [], None
        size = n + len(self.declines)
        w = self.words.shares(words) if words else np.zeros(size)
        g = self.grams.shares(grams) if grams else np.zeros(size)
        fused = WORD_WEIGHT * w + (1 - WORD_WEIGHT) * g
        order = np.argsort(-fused[:n], kind="stable")[: max(limit, RERANK)]
        unique = list(dict.fromkeys(words))
        total = sum(self.words.weight(t) for t in unique)

        def hit(i: int, position: int) -> Hit:
            head = self.heads[i]
            share = (
                sum(self.words.idf.get(t, 0.0) for t in unique if t in head) / total
                if total
                else 0.0
            )
            score = (1 - HEAD_WEIGHT) * float(fused[i]) + HEAD_WEIGHT * share
            return Hit(position, score, float(w[i]), float(g[i]), share)

        hits = sorted((hit(int(i), int(i)) for i in order if fused[i] > 0),
                      key=lambda h: -h.score)  # fmt: skip
        decline = None
        if self.declines:
            ranked = np.argsort(-fused[n:], kind="stable")[:RERANK]
            found = [hit(n + int(j), int(j)) for j in ranked if fused[n + j] > 0]
            decline = max(found, key=lambda h: h.score, default=None)
        return hits[:limit], decline
