"""A4 pages in the house style: Chinese set in Noto CJK (Simplified Chinese faces, embedded
as subsets so any reader shows them), headings, paragraphs, label/value rows and tables.

Every paper the service issues is built through :class:`Paper`, so they look alike and
none can fall back to a font without Chinese glyphs."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from fontTools import ttLib
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont

from config.settings import get_settings

# The Simplified Chinese face inside Debian's Noto CJK collections (JP, KR, SC, TC, HK).
SC_INDEX = 2
# Two faces only: each costs about a second to load and to subset (65,000 glyphs), and a
# formal paper is set in Song (serif) anyway.
FACES = {"serif": "NotoSerifCJK-Regular.ttc", "serif-bold": "NotoSerifCJK-Bold.ttc"}

# Each face parsed once per process (its maps of 65,000 glyphs: most of that second), then
# shared by every paper; guarded, as papers are built in several threads at once.
_parsed: dict[tuple[Path, str], TTFFont] = {}
_parsing = threading.Lock()


class FontMissing(RuntimeError):
    """The CJK fonts are not installed where settings say."""


def font_files(directory: Path | None = None) -> dict[str, Path]:
    """The CJK font files, or :class:`FontMissing` naming the one not found."""
    where = directory or get_settings().cjk_fonts
    files = {face: where / name for face, name in FACES.items()}
    for path in files.values():
        if not path.is_file():
            raise FontMissing(f"{path}: not found (install Debian's fonts-noto-cjk)")
    return files


def _parsed_face(path: Path, fontkey: str, style: str) -> TTFFont:
    with _parsing:
        if (path, fontkey) not in _parsed:
            parsed = TTFFont(FPDF(), path, fontkey, style, collection_font_number=SC_INDEX)
            parsed.close()  # papers open the file themselves
            _parsed[(path, fontkey)] = parsed
        return _parsed[(path, fontkey)]


class Paper(FPDF):
    """One document: A4, 20 mm margins, page numbers in the footer."""

    def __init__(self, *, title: str, footer: str, created: datetime) -> None:
        super().__init__(format="A4")
        self.footer_text = footer
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=True, margin=18)
        for face, path in font_files().items():
            family, _, bold = face.partition("-")
            self._add_face(family, "B" if bold else "", path)
        self.set_title(title)
        self.set_creator("qingfeng")
        self.set_creation_date(created)
        self.add_page()
        self.set_font("serif", size=11)

    def _add_face(self, family: str, style: str, path: Path) -> None:
        """``add_font`` from the face parsed once: its read-only maps (characters to glyphs
        and widths) are shared; the font file handle (which embedding subsets in place),
        the subset and the page-size bookkeeping are this paper's own."""
        font = copy.copy(_parsed_face(path, f"{family}{style}", style))
        font.i = len(self.fonts) + 1
        font.ttfont = ttLib.TTFont(path, recalcTimestamp=False, fontNumber=SC_INDEX, lazy=True)
        font.subset = SubsetMap(font)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        self.fonts[font.fontkey] = font
        if font.is_cff and font.is_cid_keyed:
            self._set_min_pdf_version("1.6")  # as add_font does for CID-keyed CFF

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("serif", size=8)
        self.cell(0, 6, f"{self.footer_text}  ·  {self.page_no()}/{{nb}}", align="C")

    def title_block(self, text: str, *, size: float = 20) -> None:
        """The document's title, centred."""
        self.set_font("serif", "B", size)
        self.multi_cell(0, size * 0.6, text, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)
        self.set_font("serif", size=11)

    def heading(self, text: str) -> None:
        """A section heading."""
        self.ln(2)
        self.set_font("serif", "B", 12)
        self.multi_cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("serif", size=11)

    def paragraph(self, text: str, *, align: str = "J") -> None:
        """Running text; blank lines separate paragraphs."""
        self.set_font("serif", size=11)
        self.multi_cell(0, 6.5, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)

    def fields(self, rows: Sequence[tuple[str, str]]) -> None:
        """Label and value pairs, two columns."""
        self.table_of(None, [list(row) for row in rows], widths=(1, 3))

    def table_of(
        self,
        headers: Sequence[str] | None,
        rows: Sequence[Sequence[str]],
        *,
        widths: Sequence[int] | None = None,
        size: float = 9.5,
    ) -> None:
        """A ruled table; ``widths`` are relative column widths."""
        self.set_font("serif", size=size)
        with self.table(
            col_widths=tuple(widths) if widths else None,
            first_row_as_headings=headers is not None,
            line_height=size * 0.55,
            text_align="LEFT",
        ) as table:
            for row in ([list(headers)] if headers else []) + [list(r) for r in rows]:
                cells = table.row()
                for value in row:
                    cells.cell(value)
        self.ln(2)
        self.set_font("serif", size=11)

    def to_bytes(self) -> bytes:
        """The finished PDF."""
        return bytes(self.output())
