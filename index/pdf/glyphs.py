"""The text of a PDF page as runs of characters with their boxes, read with pypdfium2.

PDFium has parsed the page's content stream by the time its text page exists; asking it for each
character's box costs a microsecond or so, where pdfminer (pdfplumber) re-parses every vector path of
every chart in Python. Everything else the reader knows about a page's layout is derived from these
boxes: no other pass over the page's objects is made.

Characters are grouped as they are read into runs: neighbours on one baseline in one font, with no
gap wider than a word space. A run keeps each character's horizontal extent, so tables and word
widths can still be measured, but later steps handle tens of runs a page instead of thousands of
characters.

Coordinates are points from the top-left corner of the page as read (y grows downwards); a page
whose text runs sideways (a landscape table on a portrait page) is turned so its text reads across.
"""

from __future__ import annotations

import ctypes
import math
import re
from collections import Counter
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

__all__ = ["Page", "PdfFile", "PdfOpenError", "Run", "is_cjk", "open_pdf"]

_BOLD_NAME = ("bold", "black", "heavy", "semibold", "demibold", "-bd", "hei", "黑")
_WHITESPACE = frozenset((0x20, 0x09, 0x0A, 0x0D, 0xA0, 0x3000, 0x2002, 0x2003, 0x2009, 0x200B, 0xFEFF))
# A gap wider than this (in ems) ends a run: wider than any space between words, narrower than the
# gutter between two columns or the padding of table cells.
RUN_GAP = 0.8
# Between Latin words PDFs leave about a quarter em; between Chinese characters nothing.
_WORD_GAP = 0.2
_CJK_WORD_GAP = 0.5


def is_cjk(ch: str) -> bool:
    """Chinese characters, CJK punctuation and full-width forms: no spaces between them."""
    return ch >= "\u2e80"


@dataclass(slots=True)
class Run:
    text: str  # with a space wherever the PDF wrote or left room for one between Latin words
    xs0: list[float]  # left edge of each character of `text` (a space spans the gap it stands for)
    xs1: list[float]  # right edge of each character
    top: float
    bottom: float
    size: float  # font size in points
    bold: bool
    angle: int = 0

    @property
    def x0(self) -> float:
        return self.xs0[0]

    @property
    def x1(self) -> float:
        return self.xs1[-1]


@dataclass
class Page:
    number: int  # 1-based
    width: float
    height: float
    runs: list[Run] = field(default_factory=list)
    chars: int = 0  # characters read (without spaces)
    unmapped: int = 0  # characters without a Unicode value (fonts without a ToUnicode map)


@dataclass
class PdfFile:
    pages: list[Page]
    metadata: dict[str, str]


class PdfOpenError(Exception):
    """PDFium could not open the file; `password` is set when it needs a password."""

    def __init__(self, message: str, password: bool = False) -> None:
        super().__init__(message)
        self.password = password


def open_pdf(data: bytes) -> PdfFile:
    """All pages' runs and the document's metadata. Raises PdfOpenError for unreadable files."""
    try:
        document = pdfium.PdfDocument(data, password="")
    except pdfium.PdfiumError as exc:
        message = str(exc)
        raise PdfOpenError(message, password="password" in message.lower()) from None
    try:
        try:
            items = document.get_metadata_dict(skip_empty=True).items()
            metadata = {k: v for k, v in items if isinstance(v, str)}
        except Exception:  # a broken Info dictionary is no reason to lose the text
            metadata = {}
        pages = []
        for index in range(len(document)):
            page = document[index]
            try:
                pages.append(_read_page(page, index + 1))
            finally:
                page.close()
        return PdfFile(pages=pages, metadata=metadata)
    finally:
        document.close()


class _Font:
    """What a text object's font says about its characters: size, boldness, direction."""

    __slots__ = ("angle", "bold", "size")

    def __init__(self, size: float, bold: bool, angle: int) -> None:
        self.size = size
        self.bold = bold
        self.angle = angle  # 0, 90, 180, 270, or -1 for anything else (watermarks, tilted labels)


def _font_of(textpage, index: int, buffer) -> _Font:
    size = pdfium_c.FPDFText_GetFontSize(textpage, index)
    radians = pdfium_c.FPDFText_GetCharAngle(textpage, index)  # -1 when PDFium cannot tell
    degrees = math.degrees(radians) % 360 if radians >= 0 else 0.0
    angle = next((a % 360 for a in (0, 90, 180, 270, 360) if abs(degrees - a) < 3), -1)
    bold = False
    obj = pdfium_c.FPDFText_GetTextObject(textpage, index)
    if obj:
        # Render mode 2 (fill, then stroke the outline) is one way PDFs fake bold.
        bold = pdfium_c.FPDFTextObj_GetTextRenderMode(obj) == pdfium_c.FPDF_TEXTRENDERMODE_FILL_STROKE
        font = pdfium_c.FPDFTextObj_GetFont(obj)
        if font and not bold:
            length = pdfium_c.FPDFFont_GetBaseFontName(font, buffer, len(buffer))
            name = bytes(buffer[: max(0, length - 1)]).decode("latin-1").lower()
            bold = pdfium_c.FPDFFont_GetWeight(font) >= 600 or any(mark in name for mark in _BOLD_NAME)
    return _Font(size if size > 0 else 10.0, bold, angle)


# Pieces of the text PDFium returns between the whitespace it writes or generates (it puts a space
# at a gap and a line break where the baseline moves): a word, or a stretch of Chinese text.
_PIECE = re.compile(r"[^\s\x00-\x1f\ufffd\ufffe\ue000-\uf8ff]+")
_LATIN = re.compile(r"[A-Za-z]")
_UNMAPPED = re.compile(r"[\ufffd\ufffe\ue000-\uf8ff]")


class _RunBuilder:
    """Collects pieces into runs: same font, one baseline, no gap wider than a word space."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.text: list[str] = []
        self.xs0: list[float] = []
        self.xs1: list[float] = []
        self.top = self.bottom = self.center = 0.0
        self.font: _Font | None = None

    def flush(self) -> None:
        if self.text and self.font is not None:
            font = self.font
            self.runs.append(
                Run(
                    "".join(self.text),
                    self.xs0,
                    self.xs1,
                    self.top,
                    self.bottom,
                    font.size,
                    font.bold,
                    font.angle,
                )
            )
        self.text, self.xs0, self.xs1 = [], [], []

    def breaks(self, font: _Font, x0: float, center: float) -> bool:
        """Whether a piece starting at x0 on a line centred at `center` starts a new run."""
        if not self.text:
            return True
        size = font.size
        gap = x0 - self.xs1[-1]
        return (
            font is not self.font
            or gap > RUN_GAP * size
            or gap < -0.5 * size
            or abs(center - self.center) > 0.6 * size
        )

    def add(
        self,
        font: _Font,
        piece: str,
        xs0: list[float],
        xs1: list[float],
        top: float,
        bottom: float,
        spaced: bool,
    ) -> None:
        center = top + bottom
        if self.breaks(font, xs0[0], center):
            self.flush()
            self.top, self.bottom, self.center, self.font = top, bottom, center, font
        else:
            gap = xs0[0] - self.xs1[-1]
            both_cjk = piece[0] >= "\u2e80" and self.text[-1][-1] >= "\u2e80"
            if (gap > _CJK_WORD_GAP * font.size) if both_cjk else (spaced or gap > _WORD_GAP * font.size):
                self.text.append(" ")
                self.xs0.append(self.xs1[-1])
                self.xs1.append(xs0[0])
            self.top = min(self.top, top)
            self.bottom = max(self.bottom, bottom)
        self.text.append(piece)
        self.xs0.extend(xs0)
        self.xs1.extend(xs1)


def _read_page(page, number: int) -> Page:
    left, bottom_edge, right, top_edge = page.get_bbox()
    width, height = right - left, top_edge - bottom_edge
    textpage = page.get_textpage()
    builder = _RunBuilder()
    chars = unmapped = 0
    try:
        raw = textpage.raw
        count = textpage.count_chars()
        # One call for the text; it has one UTF-16 unit per character index (surrogate pairs two).
        text = textpage.get_text_range(0, count) if count else ""
        if len(text) != count:
            text = "".join(chr(pdfium_c.FPDFText_GetUnicode(raw, i) or 0xFFFD) for i in range(count))
        unmapped = len(_UNMAPPED.findall(text))
        rect = pdfium_c.FS_RECTF()
        rect_ref = ctypes.byref(rect)
        get_box = pdfium_c.FPDFText_GetLooseCharBox
        buffer = ctypes.create_string_buffer(128)
        font: _Font | None = None
        fonts: dict[tuple[float, bool, int], _Font] = {}  # one object per font, so runs compare them fast
        last_height = -1.0

        def box(index: int, font: _Font) -> tuple[float, float, float, float]:
            get_box(raw, index, rect_ref)
            if font.angle == 0:
                x0, x1, top, bottom = (
                    rect.left - left,
                    rect.right - left,
                    top_edge - rect.top,
                    top_edge - rect.bottom,
                )
            else:
                x0, x1, top, bottom = _turned(font.angle, rect, left, top_edge, width, height)
            if bottom - top < 0.3 * font.size:  # fonts with no usable ascent/descent
                top, bottom = bottom - 0.85 * font.size, bottom + 0.15 * font.size
            return x0, x1, top, bottom

        for match in _PIECE.finditer(text):
            start, end = match.span()
            get_box(raw, start, rect_ref)
            glyph_height = rect.top - rect.bottom
            # Size, boldness and direction belong to the font: ask again only when the glyph height
            # (the font's ascent and descent at its size) says the font changed.
            if font is None or abs(glyph_height - last_height) > 0.05 * last_height:
                found = _font_of(raw, start, buffer)
                font = fonts.setdefault((found.size, found.bold, found.angle), found)
                last_height = glyph_height
            if font.angle == -1:
                continue
            chars += end - start
            spaced = start > 0 and text[start - 1] in " \u3000\xa0"
            for sub_start, sub_end, xs0, xs1, top, bottom in _piece_boxes(box, font, text, start, end):
                builder.add(font, text[sub_start:sub_end], xs0, xs1, top, bottom, spaced or sub_start > start)
        builder.flush()
    finally:
        textpage.close()
    runs, width, height = _upright(builder.runs, width, height)
    return Page(number, width, height, _drop_overprint(runs), chars, unmapped)


def _piece_boxes(
    box, font: _Font, text: str, start: int, end: int
) -> list[tuple[int, int, list[float], list[float], float, float]]:
    """The characters of a piece with their extents, cut where a gap separates them.

    PDFium writes a space where it sees a gap, but not always between Latin words set with
    positioning instead of spaces; so a piece with Latin letters has every box read. In a piece of
    Chinese text and figures the first and last boxes place the others (evenly spaced); a long
    piece whose step is not its characters' width gets a box in the middle checked, and where that
    disagrees every box is read (text drawn twice over itself, a gutter left without a space)."""
    size = font.size
    count = end - start
    x0, x1, top, bottom = box(start, font)
    if count == 1:
        return [(start, end, [x0], [x1], top, bottom)]
    if not _LATIN.search(text, start, end):
        lx0, lx1, ltop, lbottom = box(end - 1, font)
        step = (lx0 - x0) / (count - 1)
        trusted = -0.1 * size < step < 2.2 * size and abs((ltop + lbottom) - (top + bottom)) < 0.6 * size
        if trusted and count >= 8 and abs(step - (x1 - x0)) > 0.15 * size:
            middle = start + count // 2
            mx0, _, mtop, mbottom = box(middle, font)
            trusted = (
                abs(mx0 - (x0 + step * (count // 2))) < 2 * size
                and abs((mtop + mbottom) - (top + bottom)) < 0.6 * size
            )
        if trusted:
            xs0 = [x0 + step * k for k in range(count)]
            xs1 = xs0[1:] + [lx1]
            return [(start, end, xs0, xs1, min(top, ltop), max(bottom, lbottom))]
    pieces = []
    current: list = [(x0, x1, top, bottom, start)]
    for index in range(start + 1, end):
        cx0, cx1, ctop, cbottom = box(index, font)
        gap = cx0 - current[-1][1]
        word_gap = _CJK_WORD_GAP if text[index] >= "\u2e80" and text[index - 1] >= "\u2e80" else _WORD_GAP
        if (
            gap > word_gap * size
            or gap < -0.5 * size
            or abs((ctop + cbottom) - (current[0][2] + current[0][3])) > 0.6 * size
        ):
            pieces.append(_sub_piece(current))
            current = []
        current.append((cx0, cx1, ctop, cbottom, index))
    pieces.append(_sub_piece(current))
    return pieces


def _sub_piece(chars: list) -> tuple[int, int, list[float], list[float], float, float]:
    return (
        chars[0][4],
        chars[-1][4] + 1,
        [c[0] for c in chars],
        [c[1] for c in chars],
        min(c[2] for c in chars),
        max(c[3] for c in chars),
    )


def _turned(
    angle: int, rect, left: float, top_edge: float, width: float, height: float
) -> tuple[float, float, float, float]:
    """A sideways character's box in the frame where its text reads left to right."""
    x0, x1, top, bottom = rect.left - left, rect.right - left, top_edge - rect.top, top_edge - rect.bottom
    if angle == 90:  # runs bottom-to-top, the next line to the right: (x, y) -> (H - y, x)
        return height - bottom, height - top, x0, x1
    if angle == 270:  # runs top-to-bottom, the next line to the left: (x, y) -> (y, W - x)
        return top, bottom, width - x1, width - x0
    return width - x1, width - x0, height - bottom, height - top  # upside down


def _upright(runs: list[Run], width: float, height: float) -> tuple[list[Run], float, float]:
    """The runs of the page's main reading direction, and the page's size as read. Runs in other
    directions (watermarks, vertical axis titles) are left out."""
    if not runs:
        return runs, width, height
    weights: Counter[int] = Counter()
    for run in runs:
        weights[run.angle] += len(run.text)
    direction = weights.most_common(1)[0][0]
    kept = [run for run in runs if run.angle == direction] if len(weights) > 1 else runs
    if direction in (90, 270):
        return kept, height, width
    return kept, width, height


def _drop_overprint(runs: list[Run]) -> list[Run]:
    """Text drawn twice a fraction of a point apart is how many PDFs make Chinese text bold; the
    second copy is dropped and the first marked bold."""
    seen: dict[tuple[str, int, int], Run] = {}
    texts: set[str] = set()
    kept: list[Run] = []
    for run in runs:
        key_x, key_y = round(run.xs0[0] / 2), round(run.top / 2)
        twin = None
        if run.text in texts:
            for dx in (0, -1, 1):
                for dy in (0, -1, 1):
                    candidate = seen.get((run.text, key_x + dx, key_y + dy))
                    if (
                        candidate is not None
                        and abs(candidate.xs0[0] - run.xs0[0]) < 1.5
                        and abs(candidate.top - run.top) < 1.5
                    ):
                        twin = candidate
                        break
                if twin is not None:
                    break
        if twin is not None:
            twin.bold = True
            continue
        texts.add(run.text)
        seen[(run.text, key_x, key_y)] = run
        kept.append(run)
    return kept
