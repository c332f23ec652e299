"""Data tables from segment geometry: rows on shared baselines, cells in columns aligned down the
table, figures split apart where a table set with narrow gutters left them in one segment.

A table's caption (图表 12: 可比公司估值表), its units (单位: 百万元) and its header row are what
make a row of figures mean something; they travel with every row as the row's context.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from index.pdf.lines import Segment, baseline_rows, is_numeric_token

__all__ = ["Table", "build_tables", "is_tabular_line"]

_YEAR_HEADER = re.compile(
    r"^(19|20)\d{2}([AEFHQ]\d?|[AEF]?\d?[AEF]?|年|E|A)?$|^FY\d{2,4}[AEF]?$|^\d[QH]\d{2}[AE]?$", re.I
)


@dataclass
class Table:
    rows: list[list[str]]  # cells, the header row(s) first
    header_rows: int
    page: int
    top: float
    bottom: float
    left: float
    right: float
    caption: str | None = None
    units: str | None = None
    continued: bool = False  # the rest of a table begun on an earlier page
    notes: list[str] = field(default_factory=list)

    def row_texts(self) -> list[str]:
        return [" | ".join(cell for cell in row) for row in self.rows]

    @property
    def header(self) -> list[str]:
        return [" | ".join(row) for row in self.rows[: self.header_rows]]


def _cells(segment: Segment) -> list[tuple[str, float, float]]:
    """The cells in a segment. Tables set with narrow gutters leave several cells in one segment:
    figures a space apart ("1,327.50 1,555.01") are separate cells, and so are words half an em
    or more apart; words a space apart are one cell ("EPS 2024E", "Net profit")."""
    tokens = segment.tokens()
    if len(tokens) == 1:
        return [(segment.text, segment.x0, segment.x1)]
    cells: list[list] = []  # [text, x0, x1, numeric]
    for text, x0, x1 in tokens:
        numeric = is_numeric_token(text)
        if cells:
            gap = x0 - cells[-1][2]
            if gap < 0.5 * segment.size and not (numeric and cells[-1][3]):
                cells[-1][0] += " " + text
                cells[-1][2] = x1
                cells[-1][3] = cells[-1][3] and numeric
                continue
        cells.append([text, x0, x1, numeric])
    return [(text, x0, x1) for text, x0, x1, _ in cells]


def is_tabular_line(segment: Segment) -> bool:
    """A printed line that reads as a table row: two or more figures, and more figures than words."""
    if segment.text.count(" ") < 2:
        return False
    tokens = segment.tokens()
    if len(tokens) < 3:
        return False
    numeric = sum(1 for text, _, _ in tokens if is_numeric_token(text))
    return numeric >= 2 and numeric * 2 >= len(tokens)


def build_tables(segments: list[Segment]) -> list[Table]:
    """One table, or several side by side (a label column in the middle starts a new table)."""
    clusters = baseline_rows(segments)
    rows = [sorted((c for s in row for c in _cells(s)), key=lambda c: c[1]) for row in clusters]
    # where each row sits, and how tall its text is: wrapped labels are told apart by them
    places = [(sum(s.center for s in row) / len(row), max(s.size for s in row)) for row in clusters]
    columns = _columns(rows)
    starts = [a for a, _ in columns]
    grid: list[list[str]] = []
    for row in rows:
        cells = [""] * len(columns)
        for text, x0, x1 in row:
            index = _column_of(columns, starts, x0, x1)
            cells[index] = f"{cells[index]} {text}".strip() if cells[index] else text
        grid.append(cells)
    page = segments[0].page
    top = min(s.top for s in segments)
    bottom = max(s.bottom for s in segments)
    tables = []
    for start, end in _side_by_side(grid, columns):
        part = [
            (row[start:end], place) for row, place in zip(grid, places, strict=True) if any(row[start:end])
        ]
        left, right = columns[start][0], columns[end - 1][1]
        for rows_of_one in _stacked(_join_wrapped_labels(part)):
            tables.append(Table(rows_of_one, _header_rows(rows_of_one), page, top, bottom, left, right))
    return tables


def _join_wrapped_labels(rows: list[tuple[list[str], tuple[float, float]]]) -> list[list[str]]:
    """A row label that wraps ("归属于母公司" / "股东的净利润") leaves rows holding only a piece of it
    just above and below the row of its figures (set vertically centred on the label): the pieces
    join that row's label. Lines of one cell sit closer than the rows of a table."""

    def label_only(cells: list[str]) -> bool:
        return bool(cells[0]) and not any(cells[1:])

    def near(a: int, b: int) -> bool:
        (center_a, size_a), (center_b, size_b) = rows[a][1], rows[b][1]
        return abs(center_a - center_b) < 1.4 * max(size_a, size_b)

    out: list[list[str]] = []
    taken: set[int] = set()
    for index, (cells, _) in enumerate(rows):
        if index in taken:
            continue
        cells = list(cells)
        if len(cells) > 1 and any(cells[1:]):
            before = [] if not out or index == 0 or index - 1 in taken else [index - 1]
            if (
                before
                and label_only(rows[index - 1][0])
                and near(index - 1, index)
                and out[-1] == rows[index - 1][0]
            ):
                cells[0] = out.pop()[0] + cells[0]
            after = index + 1
            if after < len(rows) and label_only(rows[after][0]) and near(index, after):
                # only if the row after is not itself the start of the next label (its own figures follow close)
                if not (
                    after + 1 < len(rows)
                    and any(rows[after + 1][0][1:])
                    and near(after, after + 1)
                    and not rows[after + 1][0][0]
                ):
                    cells[0] += rows[after][0][0]
                    taken.add(after)
        out.append(cells)
    return out


def _columns(rows: list[list[tuple[str, float, float]]]) -> list[tuple[float, float]]:
    """Column extents: the x-ranges the cells of the fullest rows cover, merged where they overlap.
    Rows with fewer cells (headers spanning columns, wrapped labels) don't decide the columns."""
    # Rows of figures decide; header rows span and wrap (EPS over three years), and a title row is
    # one cell across the table.
    figures = [row for row in rows if sum(1 for text, _, _ in row if _is_numeric_cell(text)) >= 2] or rows
    most = max(len(row) for row in figures)
    deciding = [row for row in figures if len(row) >= max(2, most - 1)] or figures
    spans = sorted((x0, x1) for row in deciding for _, x0, x1 in row)
    columns: list[list[float]] = [list(spans[0])]
    for x0, x1 in spans[1:]:
        if x0 <= columns[-1][1] + 0.5:
            columns[-1][1] = max(columns[-1][1], x1)
        else:
            columns.append([x0, x1])
    return [(a, b) for a, b in columns]


def _column_of(columns: list[tuple[float, float]], starts: list[float], x0: float, x1: float) -> int:
    """The column a cell overlaps most (or lies nearest to)."""
    index = bisect.bisect_right(starts, x1) - 1
    best, best_overlap = 0, -1e9
    for candidate in (index - 1, index, index + 1):
        if 0 <= candidate < len(columns):
            a, b = columns[candidate]
            overlap = min(b, x1) - max(a, x0)  # negative: the distance between them
            if overlap > best_overlap:
                best, best_overlap = candidate, overlap
    return best


def _is_numeric_cell(cell: str) -> bool:
    if not cell:
        return False
    if " " not in cell:
        return is_numeric_token(cell)
    return all(is_numeric_token(part) for part in cell.split())


def _is_header_row(row: list[str]) -> bool:
    values = [cell.replace(" ", "") for cell in row[1:] if cell]
    return len(values) >= 2 and all(_YEAR_HEADER.match(v) for v in values)


def _stacked(rows: list[list[str]]) -> list[list[list[str]]]:
    """Tables printed one under the other in one column: a header row (a label and years) after
    rows of figures starts the next one (资产负债表 … 现金流量表 2023A 2024E …)."""
    out: list[list[list[str]]] = []
    for index, row in enumerate(rows):
        if (
            out
            and index > 0
            and _is_header_row(row)
            and not _is_header_row(rows[index - 1])
            and len(out[-1]) >= 2
        ):
            out.append([row])
        elif out:
            out[-1].append(row)
        else:
            out.append([row])
    return out


def _side_by_side(grid: list[list[str]], columns: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """Column ranges of the tables printed side by side in one grid: a column of labels after
    columns of figures starts another table (financial statements come four to a page)."""
    kinds = []
    for index in range(len(columns)):
        cells = [row[index] for row in grid if row[index]]
        numeric = sum(1 for cell in cells if _is_numeric_cell(cell))
        kinds.append("figures" if cells and numeric * 2 >= len(cells) else "labels")
    starts = [0]
    for index in range(1, len(kinds)):
        if kinds[index] == "labels" and kinds[index - 1] == "figures" and index - starts[-1] >= 2:
            starts.append(index)
    ends = [*starts[1:], len(columns)]
    return list(zip(starts, ends, strict=True))


def _header_rows(rows: list[list[str]]) -> int:
    """Leading rows that name the columns: years (2023A, 2024E), or words where figures follow."""
    count = 0
    for row in rows[:3]:
        values = [cell for cell in row[1:] if cell]
        if not values:
            if count == 0 and row[0]:  # a title row over the table ("资产负债表")
                count += 1
                continue
            break
        if all(_YEAR_HEADER.match(cell.replace(" ", "")) or not _is_numeric_cell(cell) for cell in values):
            count += 1
            continue
        break
    return min(count, max(0, len(rows) - 1))
