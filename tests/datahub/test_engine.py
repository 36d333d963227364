"""The import engine: exactly once (file, row, cursor), resume after a kill, rejected
rows with their reasons, schema drift under both contracts, and no per-row queries."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiayuan.core import pii
from jiayuan.datahub import engine
from jiayuan.datahub.models import ImportRun, RejectedRow, RunStatus, SeenRow

from .conftest import HEADER, MAPPING, DictTarget, id_number, person_rows, write_csv


def test_a_file_is_imported_with_typed_values_and_its_report(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    # given a CSV of three residents, one of them with a 15-digit ID number
    stream = make_stream()
    fifteen = id_number(7)[:6] + id_number(7)[8:17]
    path = write_csv(
        tmp_path / "huji.csv",
        [*person_rows(2), [fifteen, " 王五 ", "女", "19800103", ""]],
    )

    # when it is imported
    run = engine.run(stream, path, trigger="test", as_of=dt.date(2026, 11, 30))

    # then the report counts them and the target received typed values
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.report_line() == "read 3, inserted 3, updated 0, unchanged 0, rejected 0"
    assert run.position == 3 and run.file_name == "huji.csv" and len(run.file_sha256) == 64
    upgraded = target.rows[fifteen[:6] + "19" + fifteen[6:] + id_number(7)[17]]
    assert upgraded == {
        "id_number": upgraded["id_number"], "name": "王五", "gender": "female",
        "birth_date": dt.date(1980, 1, 3), "address": "",
    }  # fmt: skip
    assert len(upgraded["id_number"]) == 18
    context = target.contexts[0]
    assert (context.run_id, context.source_code, context.rank) == (run.pk, "test-huji", 40)
    assert context.as_of == dt.date(2026, 11, 30)
    stream.refresh_from_db()
    assert stream.state["last_run"] == run.pk


def test_the_same_file_again_changes_nothing(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    stream = make_stream()
    path = write_csv(tmp_path / "a.csv", person_rows(5))
    first = engine.run(stream, path)
    calls = len(target.batches)

    again = engine.run(stream, path)

    assert again.pk != first.pk and again.status == RunStatus.SUCCEEDED
    assert again.report_line() == "read 5, inserted 0, updated 0, unchanged 5, rejected 0"
    assert again.drift == {"same_file_as": first.pk}
    assert len(target.batches) == calls  # the target never saw the file again
    assert SeenRow.objects.filter(stream=stream).count() == 5


def test_rows_seen_before_are_unchanged_in_a_new_file(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    # given a first file imported, and a second one repeating two of its rows, changing
    # one and adding one, with a row given twice
    stream = make_stream()
    engine.run(stream, write_csv(tmp_path / "1.csv", person_rows(3)))
    changed = [id_number(2), "居民2", "男", "1980-01-01", "新地址"]
    rows = [*person_rows(2), changed, *person_rows(1, start=3), *person_rows(1, start=3)]

    run = engine.run(stream, write_csv(tmp_path / "2.csv", rows))

    assert run.report_line() == "read 5, inserted 1, updated 1, unchanged 3, rejected 0"
    assert target.batches[-1] == 2  # only the changed and the new row reached the target
    assert target.rows[id_number(2)]["address"] == "新地址"


def test_a_killed_import_resumes_without_loss_or_duplication(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    # given batches of 10 rows, and a target that dies in its third batch
    stream = make_stream(stream_config={"batch": 10})
    path = write_csv(tmp_path / "big.csv", person_rows(45))
    target.fail_after = 2

    first = engine.run(stream, path)

    # then the two committed batches are recorded, the third left no trace
    assert first.status == RunStatus.FAILED and "killed" in first.error
    assert (first.position, first.read, first.inserted) == (20, 20, 20)
    assert SeenRow.objects.filter(stream=stream).count() == 20
    assert len(target.rows) == 20

    # when the same file is imported again
    target.fail_after = None
    resumed = engine.run(stream, path)

    # then the same run continues after row 20 and ends with every row exactly once
    assert resumed.pk == first.pk and resumed.status == RunStatus.SUCCEEDED
    assert resumed.report_line() == "read 45, inserted 45, updated 0, unchanged 0, rejected 0"
    assert target.batches == [10, 10, 10, 10, 5]
    assert len(target.rows) == 45
    assert SeenRow.objects.filter(stream=stream).count() == 45
    assert ImportRun.objects.filter(stream=stream).count() == 1


def test_a_run_killed_by_the_process_dying_resumes_too(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    # A process killed outright leaves its run "running" (nothing records a failure);
    # KeyboardInterrupt passes through the engine as a SIGTERM/SIGKILL would.
    stream = make_stream(stream_config={"batch": 10})
    path = write_csv(tmp_path / "big.csv", person_rows(25))

    class Dying(DictTarget):
        def write(self, context: Any, rows: Any) -> Any:
            if len(self.batches) == 1:
                raise KeyboardInterrupt
            return super().write(context, rows)

    dying = Dying(rows=target.rows, batches=target.batches)
    stream.target = dying.code
    import jiayuan.core.imports as imports

    imports._targets[dying.code] = dying
    with pytest.raises(KeyboardInterrupt):
        engine.run(stream, path)
    run = ImportRun.objects.get(stream=stream)
    assert (run.status, run.position) == (RunStatus.RUNNING, 10)

    imports._targets[dying.code] = target
    resumed = engine.run(stream, path)
    assert resumed.pk == run.pk and resumed.status == RunStatus.SUCCEEDED
    assert resumed.inserted == 25 and len(target.rows) == 25


def test_bad_values_are_rejected_with_line_field_and_masked_value(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    # given a bad check digit (required field: row refused), an empty name (refused), an
    # impossible birth date (optional field: left out, reported), a row the target refuses
    stream = make_stream()
    bad_id = id_number(1)[:17] + ("0" if id_number(1)[17] != "0" else "1")
    rows = [
        [id_number(0), "居民0", "男", "1980-01-01", ""],
        [bad_id, "居民1", "男", "1980-01-01", ""],
        [id_number(2), "", "男", "1980-01-01", ""],
        [id_number(3), "居民3", "男", "19800231", ""],
        [id_number(4), "拒收", "男", "1980-01-01", ""],
        [id_number(5), "居民5", "未知", "1980-01-01", ""],
    ]
    run = engine.run(stream, write_csv(tmp_path / "bad.csv", rows))

    assert run.report_line() == "read 6, inserted 3, updated 0, unchanged 0, rejected 3"
    rejects = {(r.line, r.field): r for r in RejectedRow.objects.filter(run=run)}
    assert set(rejects) == {(3, "id_number"), (4, "name"), (5, "birth_date"), (6, "name"),
                            (7, "gender")}  # fmt: skip
    bad = rejects[(3, "id_number")]
    assert bad.code == "invalid_id_number" and bad.reason == "身份证号码校验位错误"
    assert bad.column == "公民身份号码" and bad.raw_value == pii.mask_id_number(bad_id)
    assert bad_id not in bad.raw_value
    assert json.loads(pii.decrypt(bad.row_enc)) == dict(zip(HEADER, rows[1], strict=True))
    assert rejects[(4, "name")].code == "required"
    assert rejects[(5, "birth_date")].code == "invalid_date"
    assert rejects[(6, "name")].code == "refused" and rejects[(6, "name")].reason == "测试拒收"
    assert rejects[(7, "gender")].code == "unknown_code"
    # the optional fields' problems left the rows in, without those values
    assert "birth_date" not in target.rows[id_number(3)]
    assert id_number(5) in target.rows
    assert SeenRow.objects.filter(stream=stream).count() == 3


def test_copies_of_a_row_in_one_file_are_written_once_and_refused_copies_each_reported(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    stream = make_stream()
    good = person_rows(1)[0]
    bad = [id_number(2), "", "男", "", ""]
    run = engine.run(stream, write_csv(tmp_path / "d.csv", [good, bad, good, bad]))
    assert run.report_line() == "read 4, inserted 1, updated 0, unchanged 1, rejected 2"
    assert target.batches == [1]
    assert sorted(RejectedRow.objects.filter(run=run).values_list("line", flat=True)) == [3, 5]


def test_refused_rows_are_refused_again_in_a_later_file(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    stream = make_stream()
    refused = [id_number(1), "拒收", "男", "1980-01-01", ""]
    engine.run(stream, write_csv(tmp_path / "1.csv", [refused]))
    run = engine.run(stream, write_csv(tmp_path / "2.csv", [refused, *person_rows(1)]))
    assert run.report_line() == "read 2, inserted 1, updated 0, unchanged 0, rejected 1"


def test_review_rows_are_counted_and_not_read_twice(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    stream = make_stream()
    row = [id_number(1), "待核", "男", "1980-01-01", ""]
    first = engine.run(stream, write_csv(tmp_path / "1.csv", [row]))
    second = engine.run(stream, write_csv(tmp_path / "2.csv", [row, *person_rows(1)]))
    assert (first.review, second.review, second.unchanged) == (1, 0, 1)


def test_a_missing_column_pauses_a_pause_stream_and_nothing_is_written(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    stream = make_stream(contract="pause")
    header = ["身份证", "姓名", "性别", "出生日期", "现住址"]  # 公民身份号码 renamed
    path = write_csv(tmp_path / "renamed.csv", person_rows(3), header=header)

    run = engine.run(stream, path)

    assert run.status == RunStatus.PAUSED and run.read == 0
    assert run.drift == {"missing": ["公民身份号码"], "new": ["身份证"], "renamed": {}}
    stream.refresh_from_db()
    assert "缺少列：公民身份号码" in stream.paused_reason
    assert not target.batches and not SeenRow.objects.filter(stream=stream).exists()
    # a paused stream refuses further runs until it is resumed
    with pytest.raises(engine.StreamPaused):
        engine.run(stream, write_csv(tmp_path / "ok.csv", person_rows(1)))
    # resumed with the new name as an alias, the same file imports
    stream.mapping = [{**MAPPING[0], "aliases": ["身份证"]}, *MAPPING[1:]]
    stream.save()
    engine.resume_stream(stream)
    again = engine.run(stream, path)
    assert again.status == RunStatus.SUCCEEDED and again.inserted == 3
    assert again.drift == {}


def test_a_new_column_quarantines_every_row_of_a_quarantine_stream(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    stream = make_stream(contract="quarantine")
    rows = [[*r, "备注"] for r in person_rows(3)]
    run = engine.run(stream, write_csv(tmp_path / "new.csv", rows, header=[*HEADER, "联系电话"]))

    assert run.status == RunStatus.QUARANTINED
    assert run.report_line() == "read 3, inserted 0, updated 0, unchanged 0, rejected 3"
    assert run.drift["new"] == ["联系电话"]
    rejects = list(RejectedRow.objects.filter(run=run))
    assert [r.line for r in rejects] == [2, 3, 4]
    assert {r.code for r in rejects} == {"schema_drift"}
    assert "新增列：联系电话" in rejects[0].reason
    assert json.loads(pii.decrypt(rejects[0].row_enc))["联系电话"] == "备注"
    assert not target.batches
    stream.refresh_from_db()
    assert stream.paused_reason == ""


def test_an_unreadable_file_makes_no_run(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    stream = make_stream(kind="xlsx")
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is no workbook")
    from jiayuan.datahub.connectors import SourceError

    with pytest.raises(SourceError) as caught:
        engine.run(stream, path)
    assert "Excel" in caught.value.zh and caught.value.en
    assert not ImportRun.objects.filter(stream=stream).exists()


def test_the_engine_runs_no_query_per_row(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    def queries(n: int, name: str, start: int) -> int:
        stream = make_stream(code=f"q-{name}")
        path = write_csv(tmp_path / f"{name}.csv", person_rows(n, start=start))
        with CaptureQueriesContext(connection) as ctx:
            run = engine.run(stream, path)
        assert run.inserted == n
        return len(ctx.captured_queries)

    assert queries(5, "small", 0) == queries(400, "large", 1000)


def test_a_sql_table_is_read_from_its_cursor_with_look_back(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    # given an SQLite table of residents with an update counter as cursor
    db = tmp_path / "agency.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE residents (sfz TEXT, xm TEXT, version INTEGER)")
    conn.executemany(
        "INSERT INTO residents VALUES (?, ?, ?)", [(id_number(i), f"居民{i}", i) for i in range(6)]
    )
    conn.commit()
    mapping = [
        {"column": "sfz", "field": "id_number"},
        {"column": "xm", "field": "name"},
        {"column": "version", "ignore": True},
    ]
    stream = make_stream(
        kind="sql", mapping=mapping, config={"sqlite": str(db)},
        stream_config={"table": "residents"}, cursor_field="version", lookback=2,
    )  # fmt: skip

    first = engine.sync(stream)[0]
    assert first.report_line() == "read 6, inserted 6, updated 0, unchanged 0, rejected 0"
    stream.refresh_from_db()
    assert stream.state["cursor"] == 5

    # when two rows arrive and one old row changes with a new version
    conn.executemany(
        "INSERT INTO residents VALUES (?, ?, ?)",
        [(id_number(6), "居民6", 6), (id_number(7), "居民7", 7)],
    )
    conn.execute("UPDATE residents SET xm = '改名', version = 8 WHERE version = 0")
    conn.commit()
    conn.close()
    second = engine.sync(stream)[0]

    # then the read starts at 5 - 2 = 3: rows 3..5 again (unchanged), 6, 7 and 8 new
    assert second.report_line() == "read 6, inserted 2, updated 1, unchanged 3, rejected 0"
    stream.refresh_from_db()
    assert stream.state["cursor"] == 8
    assert target.rows[id_number(0)]["name"] == "改名"


def test_a_folder_imports_each_new_file_once(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    stream = make_stream(kind="folder", config={"path": str(drop), "pattern": "*.csv"})
    write_csv(drop / "2026-11.csv", person_rows(3))
    (drop / ".partial.csv").write_text("half a file")

    runs = engine.sync(stream)
    assert [r.inserted for r in runs] == [3]
    assert engine.sync(stream) == []  # nothing new

    write_csv(drop / "2026-12.csv", person_rows(4))
    runs = engine.sync(stream)
    assert [(r.file_name, r.inserted, r.unchanged) for r in runs] == [("2026-12.csv", 1, 3)]


def test_a_stream_runs_once_at_a_time_and_a_dead_claim_is_taken_over(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    import os
    import socket

    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL uses an advisory lock (released with the session)")
    stream = make_stream()
    path = write_csv(tmp_path / "a.csv", person_rows(2))
    host = socket.gethostname()
    # a live process (this one) holds the stream: refused
    stream.state = {"lock": {"token": "x", "host": host, "pid": os.getpid()}}
    stream.save()
    with pytest.raises(engine.StreamBusy):
        engine.run(stream, path)
    # a process that is gone (no such pid) held it: taken over, and released after
    stream.state = {"lock": {"token": "y", "host": host, "pid": 2**22 + 12345}}
    stream.save()
    assert engine.run(stream, path).inserted == 2
    stream.refresh_from_db()
    assert "lock" not in stream.state
