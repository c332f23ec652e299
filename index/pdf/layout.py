"""Where each piece of a page belongs, and in what order it is read.

* Running headers and footers: lines near the top or bottom edge that repeat from page to page
  (page numbers counted as the same line), and the known footer reminders.
* The first page's sidebar: a narrow column beside the main text (rating, analysts, SAC codes,
  market data, a price chart, related reports), found as the longest uninterrupted vertical gutter
  with a narrow side. Its lines are kept apart: they describe the report, they are not its text.
* Reading order: recursive XY-cut. A region is cut at a vertical gutter that runs through all of
  it (columns, figures side by side), else at its widest horizontal gaps, until single lines remain.
  A gutter between cells whose rows share baselines is a table's, not a column's: the region is
  kept whole as a table.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from index.pdf.lines import Segment, baseline_rows

__all__ = ["Placed", "TableRegion", "drop_running_lines", "read_order", "split_sidebar"]

_PAGE_NUMBER = re.compile(
    r"^(第#页([/,，]?共#页)?|共#页第#页|#/#|[-—–]?#[-—–]?|page#(of#)?|#of#|p\.?#)$", re.IGNORECASE
)
# Footer reminders many brokers print on every page; on a one- or two-page note repetition can't
# show them to be running lines.
_FOOTER_REMINDER = re.compile(
    r"请务必阅读|請務必閱讀|敬请(参阅|阅读)|敬請(參閱|閱讀)|请仔细阅读|请参阅|是报告的一部分|是報告的一部分|"
    r"please (refer|read)|see (the )?(important )?disclosures",
    re.I,
)
_CAPTION = re.compile(
    r"^\s*(图表|圖表|图|圖|表|附表|附图|Figure|Fig\.|Table|Exhibit|Chart)\s*[\d一二三四五六七八九十]+", re.I
)
_WORDS = re.compile(r"[\u4e00-\u9fff]|[A-Za-z]{2,}")
_SOURCE = re.compile(r"^\s*(资料|數據|数据|資料)?来源|^\s*(资料|數據|数据|資料)?來源|^\s*source", re.I)


@dataclass(slots=True)
class Placed:
    """A segment in reading order, with the left and right edges of the column it was read in."""

    segment: Segment
    left: float
    right: float


@dataclass(slots=True)
class TableRegion:
    """Segments that make a table: cells on shared baselines across gutters."""

    segments: list[Segment]
    left: float
    right: float


def _key(text: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", text)).lower()


def drop_running_lines(
    pages: list[list[Segment]], heights: list[float]
) -> tuple[list[list[Segment]], list[list[Segment]]]:
    """(pages without their running headers and footers, the lines dropped from each page).

    A running line sits among the first or last lines of a page, near its edge, and its text (digits
    aside) recurs near the same edge on at least two pages and most of them."""
    candidates: list[list[Segment]] = []
    for segments, height in zip(pages, heights, strict=True):
        edge = [s for s in segments if s.bottom < 0.13 * height or s.top > 0.87 * height]
        candidates.append(edge)
    counts: Counter[tuple[str, int]] = Counter()
    for edge, height in zip(candidates, heights, strict=True):
        counts.update({(_key(s.text), int(s.top < height / 2)) for s in edge})
    pages_with_text = sum(1 for segments in pages if segments) or 1
    running = {key for key, n in counts.items() if n >= 2 and n * 2.5 >= pages_with_text}
    # Anywhere on the page, the same text at the same place on most pages is a watermark or a
    # page decoration ("仅供机构投资者使用"), not the report's text.
    texts: Counter[str] = Counter()
    for segments in pages:
        texts.update({s.text for s in segments})
    often = {text for text, n in texts.items() if n >= 3 and n * 2 >= pages_with_text}
    placed: Counter[tuple[str, int, int]] = Counter()
    for segments in pages:
        placed.update({(s.text, round(s.x0 / 8), round(s.top / 8)) for s in segments if s.text in often})
    stamped = {key for key, n in placed.items() if n >= 3 and n * 2 >= pages_with_text}
    kept_pages, dropped_pages = [], []
    for segments, edge, height in zip(pages, candidates, heights, strict=True):
        drop = {
            id(s)
            for s in segments
            if s.text in often and (s.text, round(s.x0 / 8), round(s.top / 8)) in stamped
        }
        for s in edge:
            key = _key(s.text)
            if (key, int(s.top < height / 2)) in running or _PAGE_NUMBER.match(key):
                drop.add(id(s))
            elif _FOOTER_REMINDER.search(s.text) and len(s.text) < 80:
                drop.add(id(s))
        kept_pages.append([s for s in segments if id(s) not in drop])
        dropped_pages.append([s for s in segments if id(s) in drop])
    return kept_pages, dropped_pages


# --- the sidebar ------------------------------------------------------------------------------


def split_sidebar(
    segments: list[Segment], width: float, height: float
) -> tuple[list[Segment], list[Segment]]:
    """(main segments, sidebar segments) of a first page. The sidebar is the narrow side of the
    vertical gutter that runs uncrossed, with text on both sides, for the most of the page: over a
    third of the page's text, with the narrow side at most two fifths of its width. A table or a
    title across the page may interrupt it; the sidebar is what lies on its narrow side in every
    uncrossed stretch."""
    body = [s for s in segments if s.text.strip()]
    if len(body) < 6:
        return segments, []
    left = min(s.x0 for s in body)
    right = max(s.x1 for s in body)
    span = right - left
    text_top = min(s.top for s in body)
    text_height = max(s.bottom for s in body) - text_top
    if span < 0.4 * width or text_height <= 0:
        return segments, []
    by_top = sorted(body, key=lambda s: s.top)
    best: tuple[float, float, list[tuple[float, float, bool, bool]]] | None = None  # (height, x, stretches)
    for x in _gutter_candidates(body, left + 0.15 * span, right - 0.15 * span):
        stretches = _uncrossed_stretches(by_top, x)
        both = sum(bottom - top for top, bottom, on_left, on_right in stretches if on_left and on_right)
        if both and (best is None or both > best[0] + 0.5):
            best = (both, x, stretches)
    if best is None or best[0] < 0.33 * text_height:
        return segments, []
    _, gutter, stretches = best
    narrow_left = gutter - left < right - gutter
    narrow = (gutter - left) if narrow_left else (right - gutter)
    if narrow > 0.42 * span:
        return segments, []

    def beside(s: Segment, spans: list[tuple[float, float]]) -> bool:
        return any(s.bottom > top - 2 and s.top < bottom + 2 for top, bottom in spans)

    two_sided = [(top, bottom) for top, bottom, on_left, on_right in stretches if on_left and on_right]
    one_sided = [
        (top, bottom)
        for top, bottom, on_left, on_right in stretches
        if (on_left, on_right) == (narrow_left, not narrow_left)
    ]
    side: list[Segment] = []
    main: list[Segment] = []
    for s in segments:
        on_side = not _crosses(s, gutter) and (s.x0 + s.x1 < 2 * gutter) == narrow_left
        (side if on_side and beside(s, two_sided) else main).append(s)
    # Stretches with text on the narrow side only (the sidebar running on above or below the main
    # text) are sidebar too when they hold no running text.
    for top, bottom in one_sided:
        alone = [s for s in main if s.bottom > top - 2 and s.top < bottom + 2 and not _crosses(s, gutter)]
        if alone and all(len(s.text) < 40 for s in alone):
            side.extend(alone)
            main = [s for s in main if not any(s is a for a in alone)]
    if len(side) < 3:
        return segments, []
    # The sidebar stands beside the main text: running prose on the wide side (two figures side
    # by side leave a gutter like a sidebar's, with tick labels on both sides of it).
    beside_text = [
        s
        for s in main
        if beside(s, two_sided) and len(s.text) >= 15 and (s.x0 >= gutter if narrow_left else s.x1 <= gutter)
    ]
    if len(beside_text) < 3:
        return segments, []
    return main, side


def _gutter_candidates(segments: list[Segment], low: float, high: float, step: float = 2.0) -> list[float]:
    """Where a gutter may run: the x positions (every `step` points) crossed by fewest segments,
    each the middle of a stretch of such positions."""
    bins = int((high - low) / step) + 1
    if bins <= 0:
        return []
    crossing = [0] * bins
    for s in segments:
        first = max(0, int((s.x0 - low) / step) + 1)
        last = min(bins - 1, int((s.x1 - low) / step))
        for index in range(first, last + 1):
            crossing[index] += 1
    fewest = min(crossing)
    candidates: list[float] = []
    index = 0
    while index < bins:
        if crossing[index] <= fewest + 2:
            end = index
            while end + 1 < bins and crossing[end + 1] <= fewest + 2:
                end += 1
            candidates.append(low + step * (index + end) / 2)
            index = end + 1
        else:
            index += 1
    return candidates


def _crosses(s: Segment, x: float) -> bool:
    """Whether a segment runs across x, rather than overhanging it by a few points (a chart's last
    tick label poking past the edge of a sidebar cell)."""
    return min(x - s.x0, s.x1 - x) > max(3.0, 0.15 * (s.x1 - s.x0))


def _uncrossed_stretches(by_top: list[Segment], x: float) -> list[tuple[float, float, bool, bool]]:
    """(top, bottom, text left of x, text right of x) of each vertical stretch where no segment
    crosses x, top to bottom."""
    out: list[tuple[float, float, bool, bool]] = []
    start: float | None = None
    end = 0.0
    sides = [False, False]
    for s in by_top:
        if _crosses(s, x):
            if start is not None:
                out.append((start, end, sides[0], sides[1]))
            start, sides = None, [False, False]
            continue
        if start is None:
            start, end = s.top, s.bottom
        else:
            end = max(end, s.bottom)
        sides[int(s.x0 + s.x1 >= 2 * x)] = True
    if start is not None:
        out.append((start, end, sides[0], sides[1]))
    return out


# --- reading order --------------------------------------------------------------------------


def read_order(segments: list[Segment]) -> list[Placed | TableRegion]:
    out: list[Placed | TableRegion] = []
    if segments:
        _cut(segments, min(s.x0 for s in segments), max(s.x1 for s in segments), out, 0)
    return out


def _cut(segments: list[Segment], left: float, right: float, out: list, depth: int) -> None:
    if len(segments) == 1:
        out.append(Placed(segments[0], left, right))
        return
    parts = _columns(segments) if depth <= 60 else [segments]
    if len(parts) > 1:
        if _is_table(segments, parts):
            _emit_table(segments, left, right, out)
            return
        for part in parts:
            _cut(part, min(s.x0 for s in part), max(s.x1 for s in part), out, depth + 1)
        return
    bands = _bands(segments) if depth <= 60 else [segments]
    if len(bands) == 1:
        # Segments that overlap vertically and cannot be cut apart: read them line by line.
        for row in baseline_rows(segments):
            out.extend(Placed(s, left, right) for s in sorted(row, key=lambda s: s.x0))
        return
    for band in bands:
        if len(band) == 1:
            out.append(Placed(band[0], left, right))
        else:
            _cut(band, left, right, out, depth + 1)


def _emit_table(segments: list[Segment], left: float, right: float, out: list) -> None:
    """The table's rows as one region; single lines above its first row of cells and below its
    last (a caption, the units, the end of a paragraph, the source line) are read as lines."""
    rows = baseline_rows(segments)
    multi = [index for index, row in enumerate(rows) if len(row) >= 2]
    first, last = multi[0], multi[-1]
    for row in rows[:first]:
        out.extend(Placed(s, left, right) for s in sorted(row, key=lambda s: s.x0))
    core = [s for row in rows[first : last + 1] for s in row]
    out.append(TableRegion(sorted(core, key=lambda s: (s.top, s.x0)), left, right))
    for row in rows[last + 1 :]:
        out.extend(Placed(s, left, right) for s in sorted(row, key=lambda s: s.x0))


def _columns(segments: list[Segment]) -> list[list[Segment]]:
    """The segments split at every vertical gutter that no segment crosses."""
    ordered = sorted(segments, key=lambda s: s.x0)
    sizes = sorted(s.size for s in segments)
    minimum = max(4.0, 0.8 * sizes[len(sizes) // 2])
    parts: list[list[Segment]] = [[ordered[0]]]
    reach = ordered[0].x1
    for s in ordered[1:]:
        if s.x0 - reach >= minimum:
            parts.append([s])
        else:
            parts[-1].append(s)
        if s.x1 > reach:
            reach = s.x1
    return parts


def _bands(segments: list[Segment]) -> list[list[Segment]]:
    """The segments split at their widest horizontal gaps (all gaps within a fifth of the widest)."""
    ordered = sorted(segments, key=lambda s: s.top)
    groups: list[list[Segment]] = [[ordered[0]]]
    gaps: list[float] = []
    reach = ordered[0].bottom
    for s in ordered[1:]:
        # Lines of one paragraph touch or overlap a little; a glyph box overlaps the next line's by
        # less than a fifth of its height.
        if s.top - reach > -0.2 * s.size:
            groups.append([s])
            gaps.append(s.top - reach)
        else:
            groups[-1].append(s)
        if s.bottom > reach:
            reach = s.bottom
    if len(groups) == 1:
        return groups
    widest = max(gaps)
    threshold = widest - max(1.0, 0.2 * abs(widest))
    bands: list[list[Segment]] = [groups[0]]
    for gap, group in zip(gaps, groups[1:], strict=True):
        if gap >= threshold:
            bands.append(group)
        else:
            bands[-1].extend(group)
    return bands


def _is_prose(part: list[Segment]) -> bool:
    lengths = sorted(len(s.text) for s in part)
    return len(part) >= 3 and lengths[len(lengths) // 2] >= 15


def _is_table(segments: list[Segment], parts: list[list[Segment]]) -> bool:
    """Columns of cells on shared baselines, none of them running text: a table's gutters."""
    if any(_is_prose(part) for part in parts):
        return False
    part_of = {id(s): index for index, part in enumerate(parts) for s in part}
    rows = baseline_rows(segments)
    spread = [len({part_of[id(s)] for s in row}) >= 2 for row in rows]
    shared = [row for row, wide in zip(rows, spread, strict=True) if wide]
    if len(shared) < 2:
        return False
    # Between its first and last row of cells (a caption above and a source line below don't
    # count), most rows of a table have cells on both sides of its gutters.
    first, last = spread.index(True), len(spread) - 1 - spread[::-1].index(True)
    if len(shared) < 0.6 * (last - first + 1):
        return False
    labels = sum(1 for row in shared if all(_CAPTION.match(s.text) or _SOURCE.match(s.text) for s in row))
    if labels * 2 >= len(shared):
        return False  # captions and source lines of figures side by side
    # A data table's rows are labelled; rows of bare figures side by side are the tick labels of
    # charts side by side.
    labelled = sum(1 for row in shared if any(_WORDS.search(s.text) for s in row))
    return labelled >= 2 and labelled * 2 >= len(shared)
