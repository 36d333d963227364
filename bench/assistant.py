"""Benchmark: the assistant's ``answer()`` over the shipped evaluation questions with the
full knowledge base, beside BM25 alone (bm25s retrieving on the same words) in the same
run.

    .venv/bin/python bench/assistant.py [--repeat 20] [--database sqlite|postgres]

A scratch database (SQLite file under var/ by default, or the bench PostgreSQL database)
is migrated, which installs the base (the 20 catalogue policies' entries, the shipped
YAML entries and synonyms). Each question of ``data/eval/questions.yaml`` is asked
``--repeat`` times after one warm-up pass (which builds the index and loads jieba):

* ``answer()`` — normalisation, dialect and synonyms, 拼音, segmentation, the version
  stamp read from the database, both BM25 indexes, fusion and the composed answer;
* ``bm25s alone`` — ``retriever.get_scores`` of the word index on the question's
  already-segmented words and the top entry: the floor the engine adds its work to.

The load average is printed at the start and the end: the machine may be shared. Goal
(issue 15): answer p99 < 50 ms on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    print(f"assistant · {_setup.machine()}")
    if args.database == "postgres":
        url = _setup.recreate_postgres()
    else:
        path = _setup.ROOT / "var" / "bench_assistant.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    _setup.setup_django(url)
    with _setup.stopwatch() as t:
        _setup.migrate()
    print(f"migrated (base installed) in {t['wall']:.1f} s")

    import numpy as np

    from jiayuan.assistant import evaluation, retrieval
    from jiayuan.assistant.answering import answer
    from jiayuan.assistant.models import Entry, Synonym

    items = evaluation.load(Path(evaluation.__file__).parent / "data" / "eval" / "questions.yaml")
    questions = [i.question for i in items]
    with _setup.stopwatch() as t:
        index = retrieval.current()
    print(
        f"base: {Entry.objects.count()} entries, {Synonym.objects.count()} synonyms, "
        f"{len(questions)} questions × {args.repeat}; index built in {t['wall'] * 1000:.0f} ms "
        "(jieba dictionary included)"
    )
    prepared = [index.query(q)[0] for q in questions]
    model = index.words.model

    def bm25_alone(words: list[str]) -> None:
        known = [w for w in words if w in index.words.idf]
        if known:
            int(np.argmax(model.get_scores(known)))

    for q, w in zip(questions, prepared, strict=True):  # warm-up
        answer(q)
        bm25_alone(w)

    def timed(fn: object, inputs: list) -> dict[str, float]:
        samples = []
        for _ in range(args.repeat):
            for x in inputs:
                start = time.perf_counter()
                fn(x)  # type: ignore[operator]
                samples.append((time.perf_counter() - start) * 1000)
        return _setup.percentiles(samples)

    load = os.getloadavg()[0]
    ours = timed(answer, questions)
    base = timed(bm25_alone, prepared)
    print(f"load average at start {load:.1f}, at end {os.getloadavg()[0]:.1f}")
    print(f"{'':<16}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'n':>8}")
    for label, row in (("answer()", ours), ("bm25s alone", base)):
        print(f"{label:<16}{row['p50']:>10.2f}{row['p99']:>10.2f}{row['mean']:>10.2f}"
              f"{int(row['n']):>8}")  # fmt: skip
    print(f"answer() p99 {'<' if ours['p99'] < 50 else '≥'} 50 ms goal")
    if args.database == "postgres":
        from django.db import connections

        connections.close_all()
        _setup.drop_postgres()


if __name__ == "__main__":
    main()
