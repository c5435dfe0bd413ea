"""The report's file formats, each rendered from the one `Report` (and its `tables`): CSV, an XLSX
workbook, a PDF. JSON is the report itself, on the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from services.turnaround.quality.report_formats import csv_file, pdf_file, workbook
from services.turnaround.quality.reports import Report


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    PDF = "pdf"


@dataclass(frozen=True)
class FileFormat:
    media_type: str
    render: Callable[[Report], bytes]


FILES: dict[Format, FileFormat] = {
    Format.CSV: FileFormat("text/csv; charset=utf-8", csv_file.render),
    Format.XLSX: FileFormat(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", workbook.render
    ),
    Format.PDF: FileFormat("application/pdf", pdf_file.render),
}


def file_name(report: Report, fmt: Format) -> str:
    """quality-report-<period>-<scope>[-<code>].<ext>: codes are letters, digits, '.', '_' and '-'."""
    scope = (
        report.scope_kind.value if report.scope_code is None else f"{report.scope_kind}-{report.scope_code}"
    )
    return f"quality-report-{report.period}-{scope}.{fmt.value}"
