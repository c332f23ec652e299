"""Data tables in notes: which lines are a table's header and rows, and which cell a question asks for.

Research notes print forecasts as tables whose columns are periods ("项目 2024A 2025E 2026E 2027E",
"財年 | 2024A | 2025A | 2026E") and whose rows are metrics ("归母净利润(百万元) 662 1,105 1,612
2,085"). A row means nothing without its header, so:

- `mark_tables` turns such runs of lines (space- or pipe-separated, in text and markdown notes) into
  table rows whose context is the caption and header, as the PDF reader already does, so every chunk
  of a table prints its header and a row is retrieved and cited with its columns.
- `find_cell` answers "光迅科技2026E归母净利润" from a row and its header: the row whose label holds
  the question's words, the column whose header holds the asked year (or other words of the
  question), and the value where they cross. A year the header does not have is not answered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# A column header naming a period: 2025E, 2024A, FY2026, 25E, 2026E PE, 净利润2025E
_PERIOD_CELL = re.compile(r"(?<![\d.])(?:fy)?(20\d{2}|\d{2})([aepf])?(?![\d.%])", re.I)
_FULL_YEAR = re.compile(r"(?<!\d)20\d{2}(?!\d)")
_VALUE = re.compile(r"^[-+]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)\s*(?:%|x|倍)?$|^(?:-|—|–|n/?a|nm|/)$", re.I)
_CAPTION = re.compile(r"^(?:图表|圖表|表|图|圖|附表|table|exhibit|figure)\s*\d*\s*[:：.、]|单位|單位", re.I)


def cells(line: str) -> list[str]:
    """A row's cells: split on '|' when it has them, else on runs of spaces."""
    if "|" in line:
        return [c.strip() for c in line.strip().strip("|").split("|")]
    return line.split()


def _period_of(cell: str) -> str | None:
    """The year a header cell names ("2026E" -> "2026", "25E" -> "2025"), else None."""
    if _VALUE.match(cell) and not re.search(r"[aepf]$", cell, re.I):
        # a plain number is a value, not a header: only 4-digit years count then
        match = _FULL_YEAR.fullmatch(cell.strip())
        return match.group(0) if match else None
    for match in _PERIOD_CELL.finditer(cell):
        year, suffix = match.group(1), match.group(2)
        if len(year) == 2 and not suffix:
            continue  # "25" alone is a number, "25E" a year
        return year if len(year) == 4 else "20" + year
    return None


def header_periods(line: str) -> list[str | None] | None:
    """For a header line, each cell's period (None for label cells); None when it is no header."""
    parts = cells(line)
    periods = [_period_of(c) for c in parts]
    if sum(p is not None for p in periods) < 2:
        return None
    return periods


def _split_row(line: str) -> tuple[str, list[str]]:
    """A row's label and its values (the trailing cells that are numbers)."""
    parts = cells(line)
    i = len(parts)
    while i > 0 and _VALUE.match(parts[i - 1]):
        i -= 1
    return " ".join(parts[:i]).strip(), parts[i:]


def is_row(line: str, width: int) -> bool:
    label, values = _split_row(line)
    return bool(label) and len(values) >= max(2, width - 1) and not header_periods(line)


def mark_tables(blocks: list) -> list:
    """Runs of lines under a header of periods become table rows with caption+header as context
    (blocks from the plain-text, markdown and HTML readers; the header is the first of the rows)."""
    out: list = []
    i = 0
    while i < len(blocks):
        block = blocks[i]
        periods = header_periods(block.text) if block.kind in ("text", "table_row") else None
        if not periods:
            out.append(block)
            i += 1
            continue
        width = sum(p is not None for p in periods)
        j = i + 1
        while j < len(blocks) and blocks[j].kind in ("text", "table_row") and is_row(blocks[j].text, width):
            j += 1
        if j == i + 1:  # a header with no rows under it is a line of text
            out.append(block)
            i += 1
            continue
        caption = out[-1].text if out and _CAPTION.search(out[-1].text) and len(out[-1].text) <= 80 else None
        context = "\n".join(p for p in (caption, block.text) if p)
        for row in blocks[i:j]:  # the header stays the table's first row
            row.kind = "table_row"
            row.context = context
            out.append(row)
        i = j
    return out


@dataclass
class Cell:
    label: str  # the row's label as written
    column: str  # the column's header cell as written
    value: str  # the value as written
    row: str  # the whole row as written
    header: str  # the header line as written


def find_cell(
    text: str,
    fits: Callable[[str], float],
    year: str | None,
    header: str | None = None,
) -> Cell | None:
    """The cell of a table in `text` (rows, with their header in `text` or given) that the question
    asks for: the row whose label `fits` best (a share of the question's words), the column of
    `year` when one is asked, else the column whose header `fits` best. None when the asked year
    is not a column, or no row label fits."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    headers = [(n, header_periods(ln)) for n, ln in enumerate(lines)]
    best: tuple[float, Cell] | None = None
    current = header
    for n, line in enumerate(lines):
        if headers[n][1] or (("|" in line) and n == 0 and header is None and not is_row(line, 2)):
            current = line
            continue
        if current is None:
            continue
        head_cells = cells(current)
        label, values = _split_row(line)
        if not label or not values:
            continue
        # align values with the header's last cells (a header may start with a label cell or not)
        columns = head_cells[len(head_cells) - len(values) :] if len(head_cells) >= len(values) else []
        if not columns:
            continue
        label_fit = fits(label)
        if label_fit <= 0:
            continue
        if year:
            picks = [k for k, c in enumerate(columns) if _period_of(c) == year]
            if not picks:
                continue
            # "净利润2026E | EPS2026E": of the year's columns, the one the question's words name
            column_fit, k = max((1.0 + fits(columns[k]), -k) for k in picks)
            k = -k
        else:
            scored = [(fits(c), k) for k, c in enumerate(columns)]
            column_fit, k = max(scored)
            if column_fit <= 0:
                continue
        score = label_fit + column_fit
        if best is None or score > best[0]:
            best = (score, Cell(label, columns[k], values[k], line, current))
    return best[1] if best else None
