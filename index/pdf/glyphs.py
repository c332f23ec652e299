"""The text of a PDF page as runs of words with their boxes, read with pypdfium2.

PDFium has parsed the page's content stream by the time its text page exists; asking it for a
character's box costs a microsecond or so, where pdfminer (pdfplumber) re-parses every vector path of
every chart in Python. Everything else the reader knows about a page's layout is derived from these
boxes: no other pass over the page's objects is made.

PDFium's text has a space wherever it saw a gap and a line break wherever the baseline moved, so
the text between them (a "piece": a word, a figure, a stretch of Chinese) needs only the boxes of its
first and last characters. Pieces are grouped as they are read into runs: neighbours on one baseline
in one font, no gap wider than a word space. Later steps handle a page's tens of runs, each knowing
where its pieces start and end, instead of its thousands of characters.

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

# Font names that say bold. 黑体 (SimHei, Heiti) is the bold face of Chinese typesetting, but
# Microsoft YaHei is a common body font: only its Bold is bold.
_BOLD_NAME = ("bold", "black", "heavy", "semibold", "demibold", "-bd", "simhei", "heiti", "黑体", "黑體")
# A gap wider than this (in ems) ends a run: wider than any space between words, narrower than the
# gutter between two columns or the padding of table cells.
RUN_GAP = 0.8
# Between Latin words PDFs leave about a quarter em; between Chinese characters nothing.
WORD_GAP = 0.2
CJK_WORD_GAP = 0.5
_PIECE = re.compile(r"[^\s\x00-\x1f\ufffd\ufffe\ue000-\uf8ff]+")
_CJK = re.compile(r"[\u2e80-\U0002ffff]")
_UNMAPPED = re.compile(r"[\ufffd\ufffe\ue000-\uf8ff]")


def is_cjk(ch: str) -> bool:
    """Chinese characters, CJK punctuation and full-width forms: no spaces between them."""
    return ch >= "\u2e80"


@dataclass(slots=True)
class Run:
    text: str  # with a space wherever the PDF wrote or left room for one between Latin words
    starts: list[int]  # where in `text` each piece begins (pieces hold no spaces)
    xs0: list[float]  # left edge of each piece
    xs1: list[float]  # right edge of each piece
    top: float
    bottom: float
    size: float  # font size in points
    bold: bool
    angle: int
    first_width: float  # width of the first character
    # PDFium's text had a word space right before the run. Runs of one line are joined with a space
    # where their boxes leave room for one, or where this says so: a font the PDF does not embed is
    # measured with a substitute, whose boxes can leave no room between words.
    spaced: bool = False


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
        # Fonts by glyph height, for the whole document: a note sets the same few fonts on every page.
        fonts: dict[int, _Font] = {}
        for index in range(len(document)):
            page = document[index]
            try:
                pages.append(_read_page(page, index + 1, fonts))
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


class _Runs:
    """Pieces collected into runs as they are read."""

    def __init__(self) -> None:
        self.runs: list[Run] = []
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.xs0: list[float] = []
        self.xs1: list[float] = []
        self.length = 0
        self.top = self.bottom = self.center = self.first_width = 0.0
        self.font: _Font | None = None
        self.spaced = False

    def flush(self) -> None:
        font = self.font
        if self.parts and font is not None:
            text = "".join(self.parts)
            self.runs.append(
                Run(text, self.starts, self.xs0, self.xs1, self.top, self.bottom, font.size, font.bold, font.angle, self.first_width, self.spaced)
            )  # fmt: skip
        self.parts, self.starts, self.xs0, self.xs1, self.length = [], [], [], [], 0

    def add(self, font: _Font, piece: str, x0: float, x1: float, top: float, bottom: float, first_width: float, spaced: bool) -> None:  # fmt: skip
        size = font.size
        center = top + bottom
        if self.parts and font is self.font:
            gap = x0 - self.xs1[-1]
            if -0.5 * size <= gap <= RUN_GAP * size and abs(center - self.center) <= 0.6 * size:
                cjk = piece[0] >= "\u2e80" and self.parts[-1][-1] >= "\u2e80"
                if (gap > CJK_WORD_GAP * size) if cjk else (spaced or gap > WORD_GAP * size):
                    self.parts.append(" ")
                    self.length += 1
                self.starts.append(self.length)
                self.xs0.append(x0)
                self.xs1.append(x1)
                self.parts.append(piece)
                self.length += len(piece)
                if top < self.top:
                    self.top = top
                if bottom > self.bottom:
                    self.bottom = bottom
                return
        self.flush()
        self.font, self.top, self.bottom, self.center, self.first_width = (
            font,
            top,
            bottom,
            center,
            first_width,
        )
        self.spaced = spaced
        self.parts, self.starts, self.xs0, self.xs1, self.length = [piece], [0], [x0], [x1], len(piece)


def _read_page(page, number: int, by_height: dict[int, _Font]) -> Page:
    left, bottom_edge, right, top_edge = page.get_bbox()
    width, height = right - left, top_edge - bottom_edge
    textpage = page.get_textpage()
    runs = _Runs()
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
        font = _Font(10.0, False, 0)  # replaced at the first piece: no glyph has height -1
        # Size, boldness and direction belong to the font; a glyph's height (its font's ascent and
        # descent at its size) tells fonts apart, so PDFium is asked once for each height seen, and
        # one object stands for each font, so runs compare fonts fast.
        fonts = {(f.size, f.bold, f.angle): f for f in by_height.values()}
        frame = (left, top_edge, width, height)

        def font_at(index: int, glyph_height: float) -> _Font:
            key = round(glyph_height * 20)
            found = by_height.get(key)
            if found is None:
                found = _font_of(raw, index, buffer)
                found = by_height[key] = fonts.setdefault((found.size, found.bold, found.angle), found)
            return found

        def box(index: int) -> tuple[float, float, float, float]:
            get_box(raw, index, rect_ref)
            return _placed(rect, font, frame)

        last_height = -1.0
        for match in _PIECE.finditer(text):
            start, end = match.span()
            get_box(raw, start, rect_ref)
            r_left, r_right, r_top, r_bottom = rect.left, rect.right, rect.top, rect.bottom
            glyph_height = r_top - r_bottom
            if glyph_height != last_height:
                font = font_at(start, glyph_height)
                last_height = glyph_height
            if font.angle:
                if font.angle == -1:
                    continue
                x0, x1, top, bottom = _placed(rect, font, frame)
            else:
                x0, x1, top, bottom = r_left - left, r_right - left, top_edge - r_top, top_edge - r_bottom
                if glyph_height < 0.3 * font.size:  # fonts with no usable ascent/descent
                    top, bottom = bottom - 0.85 * font.size, bottom + 0.15 * font.size
            chars += end - start
            size = font.size
            spaced = start > 0 and text[start - 1] in " \u3000\xa0"
            if end - start == 1:
                runs.add(font, text[start:end], x0, x1, top, bottom, x1 - x0, spaced)
                continue
            # Within a piece PDFium saw no gap: the last box closes it. A long piece whose step is
            # not its first character's width has its middle checked; where the boxes disagree
            # (text drawn twice over itself, a gutter with no space) every box is read.
            if text[start] < "\u2e80":
                # "2023年末，公司…": figures in a Latin font lead a stretch of Chinese text, whose
                # font (and weight) is the piece's.
                chinese = _CJK.search(text, start, end)
                if chinese is not None:
                    get_box(raw, chinese.start(), rect_ref)
                    if rect.top - rect.bottom != glyph_height:
                        font = font_at(chinese.start(), rect.top - rect.bottom)
                        last_height = -1.0
            lx0, lx1, ltop, lbottom = box(end - 1)
            step = (lx0 - x0) / (end - start - 1)
            trusted = -0.1 * size < step < 2.2 * size and abs((ltop + lbottom) - (top + bottom)) < 0.6 * size
            if trusted and end - start >= 12 and abs(step - (x1 - x0)) > 0.15 * size:
                middle = (end - start) // 2
                mx0, _, mtop, mbottom = box(start + middle)
                trusted = (
                    abs(mx0 - (x0 + step * middle)) < 2 * size
                    and abs((mtop + mbottom) - (top + bottom)) < 0.6 * size
                )
            if trusted:
                runs.add(
                    font, text[start:end], x0, lx1, min(top, ltop), max(bottom, lbottom), x1 - x0, spaced
                )
                continue
            for sub_start, sub_end, sx0, sx1, stop, sbottom, first in _split_piece(
                box, text, start, end, size
            ):
                runs.add(
                    font, text[sub_start:sub_end], sx0, sx1, stop, sbottom, first, spaced or sub_start > start
                )
        runs.flush()
    finally:
        textpage.close()
    kept, width, height = _upright(runs.runs, width, height)
    return Page(number, width, height, _drop_overprint(kept), chars, unmapped)


def _placed(rect, font: _Font, frame: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A character box (PDF coordinates) as (x0, x1, top, bottom) on the page as read."""
    left, top_edge, width, height = frame
    x0, x1, top, bottom = rect.left - left, rect.right - left, top_edge - rect.top, top_edge - rect.bottom
    angle = font.angle
    if angle == 90:  # runs bottom-to-top, the next line to the right: (x, y) -> (H - y, x)
        x0, x1, top, bottom = height - bottom, height - top, x0, x1
    elif angle == 270:  # runs top-to-bottom, the next line to the left: (x, y) -> (y, W - x)
        x0, x1, top, bottom = top, bottom, width - x1, width - x0
    elif angle == 180:
        x0, x1, top, bottom = width - x1, width - x0, height - bottom, height - top
    if bottom - top < 0.3 * font.size:  # fonts with no usable ascent/descent
        top, bottom = bottom - 0.85 * font.size, bottom + 0.15 * font.size
    return x0, x1, top, bottom


def _split_piece(box, text: str, start: int, end: int, size: float) -> list[tuple]:
    """A piece whose boxes disagree with even spacing, read box by box and cut at its gaps:
    (start, end, x0, x1, top, bottom, first character's width) of each part."""
    parts: list[tuple] = []
    first = box(start)
    part = [start, first[0], first[1], first[2], first[3], first[1] - first[0]]
    previous_x1, center = first[1], first[2] + first[3]
    for index in range(start + 1, end):
        x0, x1, top, bottom = box(index)
        gap = x0 - previous_x1
        word_gap = CJK_WORD_GAP if text[index] >= "\u2e80" and text[index - 1] >= "\u2e80" else WORD_GAP
        if gap > word_gap * size or gap < -0.5 * size or abs(top + bottom - center) > 0.6 * size:
            parts.append((part[0], index, part[1], part[2], part[3], part[4], part[5]))
            part = [index, x0, x1, top, bottom, x1 - x0]
            center = top + bottom
        else:
            part[2], part[3], part[4] = x1, min(part[3], top), max(part[4], bottom)
        previous_x1 = x1
    parts.append((part[0], end, part[1], part[2], part[3], part[4], part[5]))
    return parts


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
    by_text: dict[str, list[Run]] = {}
    kept: list[Run] = []
    for run in runs:
        same = by_text.get(run.text)
        if same is None:
            by_text[run.text] = [run]
        else:
            x0, top = run.xs0[0], run.top
            twin = next((c for c in same if abs(c.xs0[0] - x0) < 1.5 and abs(c.top - top) < 1.5), None)
            if twin is not None:
                twin.bold = True
                continue
            same.append(run)
        kept.append(run)
    return kept
