"""The report as one CSV file: each table a section (its title, its header, its rows), a blank line
between sections. UTF-8 with a byte order mark, so a spreadsheet opened on a Vietnamese desktop reads
the diacritics right."""

from __future__ import annotations

import csv
import io

from services.turnaround.quality.reports import Report, tables


def render(report: Report) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for index, table in enumerate(tables(report)):
        if index:
            writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.columns)
        writer.writerows(["" if cell is None else cell for cell in row] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")
