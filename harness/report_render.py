"""A `ReportDocument` as one offline HTML page and as Markdown with the same content.

The page has no scripts and no outside resources: images, PDFs and CSVs are relative links into
the report folder, the style sheet is inline. Figures and tables are numbered in page order.
"""

from __future__ import annotations

from html import escape

import pandas as pd

from harness.report_document import (
    FIGURES,
    TABLES,
    FigureItem,
    NoteItem,
    ReportDocument,
    Section,
    TableItem,
)

CSS = """
body { font-family: "DejaVu Sans", Verdana, sans-serif; color: #222; margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 1.5em; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.92em; color: #333; margin: 0.4em 0; }
table { border-collapse: collapse; font-size: 0.88em; margin: 0.4em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.55em; text-align: left; }
th { background: #f2f2f2; } tr:nth-child(even) td { background: #fafafa; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 0.8em; }
.facts th { text-align: left; } nav li { margin: 0.1em 0; }
"""


def _numbers(document: ReportDocument) -> dict[int, str]:
    """'Figure 3' / 'Table 2' for each figure and table, by identity, in page order."""
    labels, figures, tables = {}, 0, 0
    for section in document.sections:
        for item in section.items:
            if isinstance(item, FigureItem):
                figures += 1
                labels[id(item)] = f"Figure {figures}"
            elif isinstance(item, TableItem):
                tables += 1
                labels[id(item)] = f"Table {tables}"
    return labels


def _html_table(frame: pd.DataFrame, css_class: str = "") -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>\n"
        for row in frame.itertuples(index=False)
    )
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<table{attribute}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody></table>"


def _html_item(item: FigureItem | TableItem | NoteItem, labels: dict[int, str]) -> str:
    if isinstance(item, NoteItem):
        return f'<p class="note">{escape(item.text)}</p>'
    label = labels[id(item)]
    if isinstance(item, FigureItem):
        return (
            f'<figure id="figure-{item.stem}">\n'
            f'<img src="{FIGURES}/{item.stem}.png" alt="{escape(item.alt)}">\n'
            f"<figcaption><strong>{label}. {escape(item.title)}.</strong> "
            f"{escape(item.caption)} "
            f'<a href="{FIGURES}/{item.stem}.pdf">PDF</a></figcaption>\n</figure>'
        )
    table = "" if item.display is None else "\n" + _html_table(item.display)
    return (
        f'<figure id="table-{item.stem}" class="table">\n'
        f"<figcaption><strong>{label}. {escape(item.title)}.</strong> {escape(item.caption)} "
        f'<a href="{TABLES}/{item.stem}.csv">CSV</a></figcaption>{table}\n</figure>'
    )


def _html_section(section: Section, labels: dict[int, str]) -> str:
    heading = f'<h{section.level} id="{section.anchor}">{escape(section.title)}</h{section.level}>'
    intro = f"<p>{escape(section.intro)}</p>" if section.intro else ""
    items = "\n".join(_html_item(item, labels) for item in section.items)
    return "\n".join(part for part in (heading, intro, items) if part)


def render_html(document: ReportDocument) -> str:
    labels = _numbers(document)
    facts = (
        '<table class="facts">\n<tbody>\n'
        + "".join(
            f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>\n"
            for label, value in document.facts
        )
        + "</tbody></table>"
    )
    contents = "\n".join(
        f'<li style="margin-left:{(s.level - 2) * 1.5}em"><a href="#{s.anchor}">'
        f"{escape(s.title)}</a></li>"
        for s in document.sections
    )
    body = "\n".join(_html_section(section, labels) for section in document.sections)
    intro = "\n".join(f"<p>{escape(line)}</p>" for line in document.intro)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(document.title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n<main>\n<h1>{escape(document.title)}</h1>\n{intro}\n{facts}\n"
        f"<nav><h2>Contents</h2>\n<ul>\n{contents}\n</ul></nav>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


def _md_cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(_md_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, rule, *rows])


def _md_item(item: FigureItem | TableItem | NoteItem, labels: dict[int, str]) -> str:
    if isinstance(item, NoteItem):
        return f"> **Note.** {item.text}"
    label = labels[id(item)]
    if isinstance(item, FigureItem):
        return (
            f"![{item.alt}]({FIGURES}/{item.stem}.png)\n\n"
            f"*{label}. {item.title}.* {item.caption} ([PDF]({FIGURES}/{item.stem}.pdf))"
        )
    caption = f"**{label}. {item.title}.** {item.caption} ([CSV]({TABLES}/{item.stem}.csv))"
    return caption if item.display is None else f"{caption}\n\n{_md_table(item.display)}"


def render_markdown(document: ReportDocument) -> str:
    labels = _numbers(document)
    parts = [f"# {document.title}", *document.intro]
    parts.append("\n".join(f"- **{label}:** {value}" for label, value in document.facts))
    for section in document.sections:
        parts.append(f"{'#' * section.level} {section.title}")
        if section.intro:
            parts.append(section.intro)
        parts += [_md_item(item, labels) for item in section.items]
    return "\n\n".join(parts) + "\n"
