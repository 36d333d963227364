"""The seed's last stage (数据汇聚): the demo county's first imports.

The agency files are written under ``VAR_DIR/agency/`` from the seeded world and then
imported through the data hub's engine exactly as a county clerk would import them,
in order of authority: 公安户籍 first (who lives where), then 民政救助, 残联残疾人证
(its first file, then a later one whose template renamed a column: the stream pauses)
and the grid centre's interface (网格采集, read from its saved pages). So the run
reports, rejected rows, review pairs and provenance conflicts are real on first start.

The interface source is pointed at the saved pages (``file://`` addresses, which the
JSON connector reads as it reads HTTP); its cursor parameter is dropped, because a file
cannot filter by it: re-reading the pages is still exactly-once by the rows' digests.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings

from jiayuan.datahub import engine, sources
from jiayuan.datahub.models import ImportRun, RejectedRow, ReviewPair, Source

from .agency import AS_OF, CANLIAN, GONGAN, MINZHENG, WANGGE, AgencyData
from .files import write_agency_files

#: the order of the demo's first imports (authority first: 公安 says where people live)
ORDER = (GONGAN, MINZHENG, CANLIAN, WANGGE)


def agency_dir(seed: int) -> Path:
    """Where the demo's agency files are written (one folder per seed number, so test
    processes seeding the same world write the same bytes to the same place)."""
    return Path(settings.VAR_DIR) / "agency" / f"seed-{seed}"


def seed_hub(seed: int, directory: Path | None = None) -> dict[str, Any]:
    """Write the agency files and import them; returns the counts of the stage."""
    sources.sync()
    data = write_agency_files(directory or agency_dir(seed), seed)
    runs = import_all(data)
    return {
        "hub_runs": len(runs),
        "hub_rows_read": sum(r.read for r in runs),
        "hub_rejected_rows": RejectedRow.objects.filter(run__in=runs).count(),
        "hub_review_pairs": ReviewPair.objects.filter(run__in=runs).count(),
    }


def import_all(data: AgencyData, *, trigger: str = "demo") -> list[ImportRun]:
    """Import every file of ``data`` in :data:`ORDER`; returns the runs, in order.

    A stream paused by an earlier schema drift refuses its files until someone resumes
    it (see :func:`jiayuan.datahub.engine.resume_stream`): they are left out here."""
    runs: list[ImportRun] = []
    for code in ORDER:
        source = sources.get_source(code)
        stream = sources.pick_stream(source)
        for f in data.of(code):
            if stream.paused_reason:
                break
            if f.path is None:
                raise ValueError(f"{f.name} was not written (write_agency_files first)")
            if f.pages:
                point_at_pages(source, f.path)
                runs.extend(engine.sync(stream, trigger=trigger))
            else:
                runs.append(engine.run(stream, f.path, trigger=trigger, as_of=_as_of(f.name)))
    return runs


def point_at_pages(source: Source, first_page: Path) -> None:
    """Read the interface from its saved pages instead of the grid centre's server."""
    config = dict(source.config or {})
    config["url"] = first_page.resolve().as_uri()
    config.pop("cursor_param", None)
    if config != source.config:
        Source.objects.filter(pk=source.pk).update(config=config)
        source.config = config


def _as_of(name: str) -> dt.date:
    """The day a file speaks for, from the date in its name (``…_202512.xlsx`` is the
    end of December 2025), else the demo's reference day."""
    digits = "".join(c for c in Path(name).stem if c.isdigit())
    try:
        if len(digits) == 8:
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if len(digits) == 6:
            year, month = int(digits[:4]), int(digits[4:])
            return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    except ValueError:
        pass
    return AS_OF
