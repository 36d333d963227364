"""``jiayuan hub``: sources loaded from YAML idempotently, the run report printed exactly,
refused rows named by line and field, check and discover, bilingual errors; and the
scheduled reads of ``daily HH:MM`` sources."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from jiayuan.datahub import tasks
from jiayuan.datahub.models import ImportRun, Source, Stream

from .conftest import DictTarget, id_number, person_rows, write_csv


def hub(*args: str) -> str:
    out = io.StringIO()
    call_command("hub", *args, stdout=out)
    return out.getvalue()


def test_sync_sources_is_idempotent_and_keeps_admin_edits(db: Any) -> None:
    first = hub("sync-sources")
    assert first.startswith("新增 8，更新 0，保留 0")
    assert set(Source.objects.values_list("code", flat=True)) >= {
        "gongan-huji", "minzheng-jiuzhu", "canlian-canji", "wangge-caiji",
    }  # fmt: skip
    huji = Stream.objects.get(source__code="gongan-huji")
    assert huji.target == "person" and huji.mapping[0]["column"] == "公民身份号码"
    Source.objects.filter(code="gongan-huji").update(rank=99)

    assert hub("sync-sources").startswith("新增 0，更新 0，保留 8")
    assert Source.objects.get(code="gongan-huji").rank == 99
    assert "更新 1" in hub("sync-sources", "--force")
    assert Source.objects.get(code="gongan-huji").rank == 40


def test_a_bad_sources_file_is_refused(tmp_path: Path, db: Any) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("sources:\n  - {code: x, kind: telepathy}\n", encoding="utf-8")
    with pytest.raises(CommandError, match="kind"):
        hub("sync-sources", "--file", str(bad))


def test_import_prints_the_report_the_run_and_each_refused_row(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    make_stream()
    bad = id_number(3)[:17] + ("1" if id_number(3)[17] != "1" else "2")
    path = write_csv(tmp_path / "a.csv", [*person_rows(2), [bad, "王五", "男", "", ""]])

    out = hub("import", "test-huji", str(path)).splitlines()

    run = ImportRun.objects.get()
    assert out[0] == "read 3, inserted 2, updated 0, unchanged 0, rejected 1"
    assert out[1] == f"run {run.pk}: succeeded"
    assert out[2].startswith("第 4 行「公民身份号码」(id_number)：身份证号码校验位错误")
    assert "line 4, id_number: the check character of the ID number is wrong" in out[2]
    assert bad not in "\n".join(out)

    again = hub("import", "test-huji", str(path)).splitlines()
    assert again[0] == "read 3, inserted 0, updated 0, unchanged 3, rejected 0"


def test_a_paused_import_fails_with_its_drift(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    make_stream()
    path = write_csv(
        tmp_path / "a.csv", person_rows(1), header=["x", "姓名", "性别", "出生日期", "现住址"]
    )
    with pytest.raises(CommandError):
        hub("import", "test-huji", str(path))
    with pytest.raises(CommandError, match=r"已暂停.*paused"):
        hub("import", "test-huji", str(path))
    assert "已恢复" in hub("resume", "test-huji")


def test_check_and_discover(tmp_path: Path, target: DictTarget, make_stream: Any) -> None:
    make_stream()
    path = write_csv(tmp_path / "a.csv", person_rows(7))
    assert "可以读取" in hub("check", "test-huji", str(path))
    out = hub("discover", "test-huji", str(path)).splitlines()
    assert out[0] == "列 / columns: 公民身份号码, 姓名, 性别, 出生日期, 现住址"
    assert len(out) == 6  # five samples
    assert id_number(0) not in out[1] and id_number(0)[:6] + "********" in out[1]

    broken = tmp_path / "b.csv"
    broken.write_bytes(b"\x00\x00binary")
    with pytest.raises(CommandError, match=r"二进制.*binary"):
        hub("check", "test-huji", str(broken))


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (("import", "no-such", "x.csv"), "不存在"),
        (("import", "test-huji"), "需要文件"),
        (("import", "test-huji", "/no/such/file.csv"), "文件不存在"),
        (("import", "test-huji", "x", "--stream", "other"), "没有数据流"),
    ],
)
def test_cli_errors_are_bilingual(
    target: DictTarget, make_stream: Any, args: tuple[str, ...], word: str
) -> None:
    make_stream()
    with pytest.raises(CommandError, match=word) as caught:
        hub(*args)
    assert " / " in str(caught.value)


def test_scheduled_sources_are_read_once_per_due_time(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    write_csv(drop / "a.csv", person_rows(2))
    stream = make_stream(kind="folder", config={"path": str(drop)})
    Source.objects.filter(pk=stream.source_id).update(schedule="daily 02:30")
    tz = timezone.get_current_timezone()
    before = dt.datetime(2026, 12, 7, 2, 0, tzinfo=tz)
    after = dt.datetime(2026, 12, 7, 2, 31, tzinfo=tz)
    assert tasks.due_time("daily 02:30", before) == dt.datetime(2026, 12, 6, 2, 30, tzinfo=tz)
    assert tasks.due_time("hourly", before) is None

    runs = tasks.run_due(before)  # never read: due since yesterday 02:30
    assert [r.inserted for r in runs] == [2]
    ImportRun.objects.update(started_at=before)
    write_csv(drop / "b.csv", person_rows(3))
    assert tasks.run_due(before + dt.timedelta(minutes=5)) == []  # already read today
    assert [r.inserted for r in tasks.run_due(after)] == [1]


def test_sources_lists_streams_last_runs_and_target_fields(
    tmp_path: Path, target: DictTarget, make_stream: Any
) -> None:
    make_stream()
    hub("import", "test-huji", str(write_csv(tmp_path / "a.csv", person_rows(2))))
    hub("sync-sources")
    out = hub("sources", "--fields")
    assert "gongan-huji  公安户籍（县公安局户政大队）" in out
    assert "  - persons → test_person  最近 #" in out and "read 2, inserted 2" in out
    assert "person（" in out and "id_number*（" in out


def test_an_unreachable_interface_is_a_bilingual_cli_error(db: Any) -> None:
    hub("sync-sources")
    Source.objects.filter(code="wangge-caiji").update(
        config={"url": "http://127.0.0.1:9/none", "items": "data.items"}
    )
    with pytest.raises(CommandError, match="无法连接接口") as caught:
        hub("import", "wangge-caiji")
    assert "cannot reach" in str(caught.value)
    assert not ImportRun.objects.exists()
