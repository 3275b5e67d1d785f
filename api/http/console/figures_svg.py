"""The geometry of the figures page's charts, drawn by templates/figures.html as inline SVG
(no script): every bar carries its label and value as text, so the charts read aloud,
print and scale the same. Two shapes: a grid of columns per row (cases per month by stage,
days per stage by bucket) and a bar per row against 100% (on-time rate per unit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

FONT = 14  # px: the charts' text
INK, BAR, TRACK, AXIS = "#1a1a1a", "#0b5394", "#e3e8ee", "#767676"  # ink 17:1, bar 8:1
WIDE = 480  # px: a wider chart scrolls on a phone instead of shrinking its text


@dataclass(frozen=True)
class Column:
    x: float  # the column's centre
    text: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: str
    value_x: float
    value_y: float
    title: str  # what a pointer's tooltip says: row, column and value


@dataclass(frozen=True)
class Row:
    label: str
    label_y: float
    baseline: float
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    columns: list[Column]
    rows: list[Row]
    axis_from: float  # where the rows' baselines begin
    track: float = 0  # a share chart's bar at 100%

    @property
    def wide(self) -> bool:
        return self.width > WIDE


def grid(
    rows: Sequence[tuple[str, Sequence[int]]],
    columns: Sequence[str],
    *,
    label_width: int = 120,
    column_width: int = 56,
) -> Chart:
    """Each row a label and a vertical bar per column, all bars on one scale."""
    head, row_height, tallest = 40, 58, 40
    top = max((v for _, values in rows for v in values), default=0) or 1
    width = label_width + column_width * len(columns)
    centres = [label_width + column_width * (i + 0.5) for i in range(len(columns))]
    bar_width = column_width * 0.55
    drawn = []
    for r, (label, values) in enumerate(rows):
        baseline = head + row_height * (r + 1) - 10
        bars = []
        for centre, name, value in zip(centres, columns, values, strict=True):
            height = round(tallest * value / top, 1)
            bars.append(
                Bar(
                    x=round(centre - bar_width / 2, 1), y=round(baseline - height, 1),
                    width=round(bar_width, 1),
                    height=height, value=str(value), value_x=centre,
                    value_y=round(baseline - height - 4, 1), title=f"{label} · {name}: {value}",
                )
            )  # fmt: skip
        drawn.append(Row(label=label, label_y=baseline - 4, baseline=baseline, bars=bars))
    return Chart(
        width=width,
        height=head + row_height * len(rows),
        columns=[Column(x=c, text=t) for c, t in zip(centres, columns, strict=True)],
        rows=drawn,
        axis_from=label_width,
    )


def shares(rows: Sequence[tuple[str, float | None, str]], *, width: int = 400) -> Chart:
    """Each row a label above a bar from 0 to 100%, its value written after the bar."""
    row_height, bar_height, track = 54, 18, width - 130
    drawn = []
    for r, (label, share, value) in enumerate(rows):
        top = row_height * r
        length = round(track * (share or 0), 1)
        bar = Bar(
            x=0, y=top + 24, width=length, height=bar_height, value=value,
            value_x=track + 8, value_y=top + 38, title=f"{label}: {value}",
        )  # fmt: skip
        drawn.append(Row(label=label, label_y=top + 17, baseline=top + 24 + bar_height, bars=[bar]))
    return Chart(
        width=width,
        height=row_height * len(rows) + 4,
        columns=[],
        rows=drawn,
        axis_from=0,
        track=track,
    )
