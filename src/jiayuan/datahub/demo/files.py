"""Writing the demo's agency files to a folder, one sub-folder per source."""

from __future__ import annotations

from pathlib import Path

from .agency import WANGGE_PAGE, AgencyData, build_agency_data
from .formats import write_csv, write_json_pages, write_xlsx
from .snapshot import read_snapshot


def write_agency_files(directory: Path, seed: int) -> AgencyData:
    """Write every demo agency file under ``directory/<source code>/`` and return what
    was written (rows and the lines of each planted defect). An interface's pages are
    written as ``page-0001.json`` …; its ``path`` is the first page."""
    data = build_agency_data(read_snapshot(), seed)
    for f in data.files:
        path = directory / f.source / f.name
        rows = [line.values for line in f.lines]
        if f.pages:
            path = write_json_pages(path.parent, rows, page_size=WANGGE_PAGE, prefix=f.name)[0]
        elif path.suffix == ".csv":
            write_csv(path, f.columns, rows)
        else:
            write_xlsx(path, f.columns, rows, sheet=f.sheet or "Sheet1")
        f.path = path
    return data
