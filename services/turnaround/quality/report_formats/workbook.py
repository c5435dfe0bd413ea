"""The report as an XLSX workbook: one sheet per table (its title in A1, the header in row 2), and a
chart of the dossiers resolved by timeliness on the "Resolved" sheet."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font

from services.turnaround.quality.reports import Report, Table, tables

TITLE_ROW, HEADER_ROW, FIRST_ROW = 1, 2, 3


def _sheet(book: Workbook, table: Table, first: bool) -> None:
    sheet = book.active if first else book.create_sheet()
    assert sheet is not None
    sheet.title = table.key
    sheet.cell(TITLE_ROW, 1, table.title).font = Font(bold=True, size=12)
    for col, name in enumerate(table.columns, start=1):
        sheet.cell(HEADER_ROW, col, name).font = Font(bold=True)
    for row_index, row in enumerate(table.rows, start=FIRST_ROW):
        for col, value in enumerate(row, start=1):
            sheet.cell(row_index, col, value)
    for col in range(1, len(table.columns) + 1):
        width = max(len(str(sheet.cell(r, col).value or "")) for r in range(HEADER_ROW, sheet.max_row + 1))
        sheet.column_dimensions[sheet.cell(HEADER_ROW, col).column_letter].width = min(60, width + 2)


def _chart(book: Workbook) -> None:
    sheet = book["Resolved"]
    chart = BarChart()
    chart.title = "Resolved by timeliness"
    chart.y_axis.title = "Dossiers"
    # Early, on time and late (the rows above the total).
    data = Reference(sheet, min_col=2, min_row=HEADER_ROW, max_row=FIRST_ROW + 2)
    labels = Reference(sheet, min_col=1, min_row=FIRST_ROW, max_row=FIRST_ROW + 2)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(labels)
    chart.legend = None
    sheet.add_chart(chart, "D2")


def render(report: Report) -> bytes:
    book = Workbook()
    for index, table in enumerate(tables(report)):
        _sheet(book, table, first=index == 0)
    _chart(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
