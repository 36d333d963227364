"""The Excel file of a report, identical to the screen (导出 Excel).

Written with XlsxWriter in ``constant_memory`` mode: each row goes to a temporary file as
soon as the next one starts, so a report of any length costs the memory of one row.
The sheet has the screen's merged multi-level header, its 小计/合计 rows, labels
written as text (a code or ID number never turns into a number), number formats per
measure, and a print setup: A4 landscape, one page wide, the header repeated on every
page.
"""

from __future__ import annotations

import tempfile
from typing import IO, Any

import xlsxwriter

from .query import Table

A4 = 9  # XlsxWriter's paper code for A4
TITLE_ROWS = 2  # the title and the line under it (measures, filter)
LABEL_WIDTH = 18
NUMBER_WIDTH = 10


def write(table: Table, out: str | IO[bytes]) -> None:
    """Write ``table`` as one XLSX sheet to a path or a binary file object."""
    book = xlsxwriter.Workbook(out, {"constant_memory": True, "tmpdir": tempfile.gettempdir()})
    sheet = book.add_worksheet(_sheet_name(table.title))
    f = _formats(book)

    width, nr = table.width, table.label_columns
    sheet.set_column(0, nr - 1, LABEL_WIDTH)
    if width > nr:
        sheet.set_column(nr, width - 1, NUMBER_WIDTH)
    # constant_memory writes rows strictly top to bottom: single-row merges are made
    # with merge_range as each row is written.
    _merged_row(sheet, 0, width, table.title, f["title"])
    _merged_row(sheet, 1, width, table.subtitle, f["subtitle"])
    sheet.set_row(0, 28)

    top = TITLE_ROWS
    height = len(table.header)
    # The header: every cell of a header row is written before the next row starts
    # (a merge's covered cells as formatted blanks); merges that span rows are recorded
    # without XlsxWriter's merge_range, which would write the lower rows first and
    # flush the upper one half-written in constant_memory mode.
    covered: dict[tuple[int, int], bool] = {}
    for r, cells in enumerate(table.header):
        row = top + r
        for c in cells:
            for rr in range(c["row"], c["row"] + c["rowspan"]):
                for cc in range(c["col"], c["col"] + c["colspan"]):
                    covered[(rr, cc)] = (rr, cc) == (c["row"], c["col"])
        for c in cells:
            sheet.write_string(row, c["col"], c["text"], f["head"])
        for (rr, cc), first in sorted(covered.items()):
            if rr == r and not first:
                sheet.write_blank(row, cc, None, f["head"])
        for c in cells:
            if c["rowspan"] > 1 or c["colspan"] > 1:
                _record_merge(sheet, row, c["col"], row + c["rowspan"] - 1,
                              c["col"] + c["colspan"] - 1)  # fmt: skip

    body = top + height
    for i, line in enumerate(table.rows):
        kind = line["kind"]
        label_f = f[f"label_{kind}"]
        for col, value in enumerate(line["cells"]):
            if col < nr:
                sheet.write_string(body + i, col, str(value), label_f)
            else:
                decimals = table.decimals[col]
                sheet.write_number(body + i, col, value, f[f"num{2 if decimals else 0}_{kind}"])

    sheet.repeat_rows(top, body - 1)
    sheet.freeze_panes(body, nr)
    sheet.set_landscape()
    sheet.set_paper(A4)
    sheet.fit_to_pages(1, 0)  # one page wide, as many pages tall as it takes
    sheet.center_horizontally()
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    sheet.set_footer("&C第 &P 页，共 &N 页")
    book.close()


def _merged_row(sheet: Any, row: int, width: int, text: str, fmt: Any) -> None:
    if width > 1:
        sheet.merge_range(row, 0, row, width - 1, text, fmt)
    else:
        sheet.write_string(row, 0, text, fmt)


def _record_merge(sheet: Any, r1: int, c1: int, r2: int, c2: int) -> None:
    # XlsxWriter keeps its merged ranges in ``merge`` and writes them when the sheet
    # closes; the cells themselves were written above, in row order.
    sheet.merge.append([r1, c1, r2, c2])


def _sheet_name(title: str) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\'")[:31].strip()
    return name or "报表"


def _formats(book: Any) -> dict[str, Any]:
    base = {"border": 1, "font_name": "SimSun", "font_size": 10, "valign": "vcenter"}
    fills = {"data": None, "subtotal": "#F2F2F2", "total": "#D9E1F2"}
    out = {
        "title": book.add_format({"bold": True, "font_size": 16, "align": "center",
                                  "valign": "vcenter", "font_name": "SimHei"}),
        "subtitle": book.add_format({"font_size": 9, "align": "left", "font_name": "SimSun"}),
        "head": book.add_format({**base, "bold": True, "align": "center", "text_wrap": True,
                                 "bg_color": "#DDEBF7"}),
    }  # fmt: skip
    for kind, fill in fills.items():
        extra: dict[str, Any] = {"bold": kind != "data"}
        if fill:
            extra["bg_color"] = fill
        out[f"label_{kind}"] = book.add_format({**base, **extra, "num_format": "@"})
        out[f"num0_{kind}"] = book.add_format({**base, **extra, "num_format": "#,##0"})
        out[f"num2_{kind}"] = book.add_format({**base, **extra, "num_format": "#,##0.00"})
    return out
