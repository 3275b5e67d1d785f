"""The tables as an XLSX workbook (openpyxl): a sheet per table, the definitions of its
figures in columns beside it, and native bar charts where a table has one."""

from __future__ import annotations

import io
from collections.abc import Sequence

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from cases.metrics.exports.tables import WORDS, Chart, Table

BOLD = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="top")
PERCENT = "0.0%"


def _rows(ws: Worksheet, table: Table) -> None:
    ws.append(list(table.headers))
    for row in table.rows:
        ws.append(list(row))
    for cell in ws[1]:
        cell.font = BOLD
    for column in table.rates:
        for (cell,) in ws.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = PERCENT
    for number, header in enumerate(table.headers, start=1):
        longest = max([len(str(header))] + [len(str(r[number - 1] or "")) for r in table.rows])
        ws.column_dimensions[get_column_letter(number)].width = min(max(10, longest * 2), 60)
    ws.freeze_panes = "A2"


def _notes(ws: Worksheet, table: Table, figure: str, meaning: str) -> None:
    """The definitions beside the table, after one empty column."""
    first = len(table.headers) + 2
    ws.cell(1, first, figure).font = BOLD
    ws.cell(1, first + 1, meaning).font = BOLD
    for number, (name, text) in enumerate(table.notes, start=2):
        ws.cell(number, first, name)
        ws.cell(number, first + 1, text).alignment = WRAP
    ws.column_dimensions[get_column_letter(first)].width = 24
    ws.column_dimensions[get_column_letter(first + 1)].width = 60


def _chart(ws: Worksheet, table: Table, spec: Chart) -> None:
    chart = BarChart()
    chart.type = "col"
    chart.title = spec.title
    if spec.stacked:
        chart.grouping, chart.overlap = "stacked", 100
    for column in spec.values:
        data = Reference(ws, min_col=column + 1, min_row=1, max_row=spec.rows + 1)
        chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=spec.rows + 1))
    if spec.percent:
        chart.y_axis.numFmt = PERCENT
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.legend = chart.legend if len(spec.values) > 1 else None
    chart.width, chart.height = 18, 9
    ws.add_chart(chart, f"A{len(table.rows) + 4}")


def workbook_bytes(tables: Sequence[Table], *, language: str) -> bytes:
    """The workbook's bytes (headers beside the tables in ``language``)."""
    figure, meaning = (WORDS[k].text(language) for k in ("figure", "definition"))
    book = Workbook()
    book.remove(book.active)
    for table in tables:
        ws = book.create_sheet(table.title)
        _rows(ws, table)
        if table.notes:
            _notes(ws, table, figure, meaning)
        if table.chart is not None:
            _chart(ws, table, table.chart)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()
