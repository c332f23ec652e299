"""Runs of characters into the pieces of printed lines ("segments"): runs on one baseline joined
where the gap between them is no wider than a word space. Two columns side by side, or the cells of
a table row, stay separate segments of one printed line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.pdf.glyphs import CJK_WORD_GAP, RUN_GAP, WORD_GAP, Run, is_cjk

__all__ = ["Segment", "baseline_rows", "is_numeric_token", "page_segments"]

_NUMERIC_TOKEN = re.compile(
    r"^[-+−–(（]?[¥$€]?[\d,，.]*\d[\d,.]*[%x倍]?[)）]?$|^(19|20)\d{2}[AEFHQ]?\d?[AEF]?$|^[-—–]+$|^n\.?[am]\.?$",
    re.I,
)


# A list marker standing alone before its item: •, ●, ■, ➢, -, 1., (1), 一、
_MARKER = re.compile(
    r"^([•●■◆▪►▶❖◇○◎□➢➤√✓·\-*]|\d{1,2}[.)、]|[(（]\d{1,2}[)）]|[一二三四五六七八九十]{1,2}、)$"
)


def is_numeric_token(text: str) -> bool:
    """A figure as tables print them: 1,327.50  -12.5%  (3.2)  2024E  --  n.a."""
    return bool(_NUMERIC_TOKEN.match(text))


@dataclass(slots=True)
class Segment:
    text: str
    starts: list[int]  # where in `text` each piece begins (pieces hold no spaces)
    xs0: list[float]  # left edge of each piece
    xs1: list[float]  # right edge of each piece
    top: float
    bottom: float
    size: float  # the font size of most of its characters
    bold: bool  # most of its characters are bold
    page: int
    first_width: float  # width of its first character
    x0: float = 0.0  # set from xs0, xs1, top and bottom
    x1: float = 0.0
    center: float = 0.0
    _tokens: list[tuple[str, float, float]] | None = None

    def __post_init__(self) -> None:
        self.x0 = self.xs0[0]
        self.x1 = max(self.xs1)
        self.center = (self.top + self.bottom) / 2

    def tokens(self) -> list[tuple[str, float, float]]:
        """(text, x0, x1) of its words and figures: the pieces between spaces."""
        if self._tokens is None:
            out: list[tuple[str, float, float]] = []
            text, starts = self.text, self.starts
            for index, start in enumerate(starts):
                stop = starts[index + 1] if index + 1 < len(starts) else len(text)
                piece = text[start:stop].rstrip(" ")
                if out and start > 0 and text[start - 1] != " ":
                    joined, x0, _ = out[-1]
                    out[-1] = (joined + piece, x0, self.xs1[index])
                else:
                    out.append((piece, self.xs0[index], self.xs1[index]))
            self._tokens = out
        return self._tokens

    def first_word_width(self) -> float:
        """Width of its first word (or first Chinese character): would it have fitted at the end of
        the line above?"""
        if is_cjk(self.text[0]):
            return self.first_width
        first = self.tokens()[0]
        return first[2] - first[1]


def baseline_rows(segments: list[Segment]) -> list[list[Segment]]:
    """Segments grouped by shared baseline (the cells of one table row), top to bottom."""
    ordered = sorted(segments, key=lambda s: s.center)
    rows: list[list[Segment]] = [[ordered[0]]]
    for s in ordered[1:]:
        anchor = rows[-1][0]
        if abs(s.center - anchor.center) <= 0.45 * min(s.size, anchor.size):
            rows[-1].append(s)
        else:
            rows.append([s])
    return rows


def page_segments(runs: list[Run], page: int) -> list[Segment]:
    """The segments of a page, top to bottom and left to right."""
    if not runs:
        return []
    ordered = sorted(runs, key=lambda r: r.top + r.bottom)
    bands: list[list[Run]] = []
    band: list[Run] = [ordered[0]]
    center = ordered[0].top + ordered[0].bottom  # twice the centre, like the sort key
    tolerance = 0.7 * ordered[0].size  # (twice) a third of an em either way is one baseline
    for run in ordered[1:]:
        doubled = run.top + run.bottom
        if doubled - center <= tolerance:
            band.append(run)
        else:
            bands.append(band)
            band = [run]
            center = doubled
            tolerance = 0.7 * run.size
    bands.append(band)
    segments: list[Segment] = []
    for band in bands:
        band.sort(key=lambda r: r.xs0[0])
        pieces: list[Run] = [band[0]]
        for run in band[1:]:
            last = pieces[-1]
            size = min(last.size, run.size)
            gap = run.xs0[0] - last.xs1[-1]
            same_line = abs((run.top + run.bottom) - (last.top + last.bottom)) <= 0.9 * size
            if not same_line and run.top < last.bottom and last.top < run.bottom:
                # A superscript or subscript (a footnote mark, 10⁶): smaller, short, raised or
                # lowered within the line's height. It belongs to the line.
                small = run if run.size < last.size else last
                same_line = small.size <= 0.85 * max(run.size, last.size) and len(small.text) <= 4
            if gap < -0.5 * size and same_line and _overprints(run, pieces):
                continue
            marker = len(pieces) == 1 and _MARKER.match(last.text) is not None and gap <= 4 * size
            if same_line and (-0.5 * size <= gap <= RUN_GAP * size or marker):
                # (a bullet or a number set apart from its item's text starts that text's line)
                pieces.append(run)
            else:
                segments.append(_segment(pieces, page))
                pieces = [run]
        segments.append(_segment(pieces, page))
    segments.sort(key=lambda s: (round(s.top), s.xs0[0]))
    return segments


def _overprints(run: Run, pieces: list[Run]) -> bool:
    """Whether `run` lies over text already read and repeats it: a second copy drawn a fraction of a
    point off the first to make it look bold, cut into different pieces than the first (fonts
    switch at figures). Printed text never overlaps other text, so an overlap that repeats is one."""
    if run.text in "".join(piece.text for piece in pieces):
        for piece in pieces:
            piece.bold = True
        return True
    return False


def _segment(runs: list[Run], page: int) -> Segment:
    if len(runs) == 1:
        r = runs[0]
        return Segment(r.text, r.starts, r.xs0, r.xs1, r.top, r.bottom, r.size, r.bold, page, r.first_width)
    parts: list[str] = []
    starts: list[int] = []
    xs0: list[float] = []
    xs1: list[float] = []
    length = 0
    for index, run in enumerate(runs):
        if index:
            gap = run.xs0[0] - xs1[-1]
            cjk = is_cjk(parts[-1][-1]) and is_cjk(run.text[0])
            wide = CJK_WORD_GAP if cjk else WORD_GAP
            if gap > wide * min(run.size, runs[index - 1].size) or (run.spaced and not cjk):
                parts.append(" ")
                length += 1
        starts.extend(length + start for start in run.starts)
        xs0.extend(run.xs0)
        xs1.extend(run.xs1)
        parts.append(run.text)
        length += len(run.text)
    weights: dict[float, int] = {}
    bold = 0
    for run in runs:
        weights[run.size] = weights.get(run.size, 0) + len(run.text)
        bold += len(run.text) if run.bold else 0
    return Segment(
        text="".join(parts),
        starts=starts,
        xs0=xs0,
        xs1=xs1,
        top=min(r.top for r in runs),
        bottom=max(r.bottom for r in runs),
        size=max(weights, key=weights.__getitem__),
        bold=bold * 2 > length,
        page=page,
        first_width=runs[0].first_width,
    )
