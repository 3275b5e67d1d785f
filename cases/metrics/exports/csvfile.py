"""The tables as one CSV file: a section per table (its title on a line of its own, then
its header and rows), a blank line between sections; UTF-8 with a byte-order mark, so
Excel reads the Chinese as Chinese."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from cases.metrics.exports.tables import Table


def csv_bytes(tables: Sequence[Table]) -> bytes:
    """The CSV file's bytes; rates as fractions (0 to 1), an empty cell for nothing measured."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    for number, table in enumerate(tables):
        if number:
            writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.headers)
        writer.writerows(["" if cell is None else cell for cell in row] for row in table.rows)
    return text.getvalue().encode("utf-8-sig")
