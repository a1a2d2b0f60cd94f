"""What a report consists of, independent of how it is written out (HTML, Markdown).

A report is a title, some opening lines and sections; a section holds figures (saved under
`figures/` as PNG and PDF), tables (saved under `tables/` as CSV, shown on the page when they
have a `display` form) and notes (statistics that could not be computed, runs that are missing).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

FIGURES = "figures"
TABLES = "tables"


@dataclass(frozen=True, eq=False)
class FigureItem:
    stem: str  # the files are figures/<stem>.png and figures/<stem>.pdf
    title: str
    caption: str
    alt: str


@dataclass(frozen=True, eq=False)
class TableItem:
    """`data` is written to tables/<stem>.csv; `display` (strings) is shown on the page, or
    the table is only linked when it is None."""

    stem: str
    title: str
    caption: str
    data: pd.DataFrame
    display: pd.DataFrame | None


@dataclass(frozen=True, eq=False)
class NoteItem:
    text: str


Item = FigureItem | TableItem | NoteItem


@dataclass(frozen=True, eq=False)
class Section:
    title: str
    anchor: str
    level: int  # 2 for a top section, 3 for a part of one
    intro: str
    items: tuple[Item, ...]


@dataclass(frozen=True, eq=False)
class ReportDocument:
    title: str
    intro: tuple[str, ...]
    facts: tuple[tuple[str, str], ...]  # (label, value) lines describing the study
    sections: tuple[Section, ...]

    def tables(self) -> list[TableItem]:
        return [i for s in self.sections for i in s.items if isinstance(i, TableItem)]

    def figures(self) -> list[FigureItem]:
        return [i for s in self.sections for i in s.items if isinstance(i, FigureItem)]
