"""Read a broker note PDF into a Document: main-text blocks in reading order, the first page's
sidebar and banner kept apart, and hints about the report (broker, date, title, analysts, ...)."""

from __future__ import annotations

import gc
import logging
import statistics
from pathlib import Path

from index.errors import ReadError
from index.pdf.glyphs import PdfFile, PdfOpenError, open_pdf
from index.pdf.layout import Placed, drop_running_lines, read_order, split_sidebar
from index.pdf.lines import Segment, page_segments
from index.pdf.metadata import Evidence, report_hints
from index.pdf.paragraphs import SECTION, PageItems, assemble
from index.readers import Block, Document

__all__ = ["read_pdf"]

log = logging.getLogger("yanbao.pdf")

# The sidebar is looked for on the first page only (the second when the first is a cover):
# later pages of a note are one column wide, or hold figures side by side.
_COVER_GLYPHS = 200


def read_pdf(data: bytes, path: Path) -> Document:
    # Reading a page makes tens of thousands of short-lived lists and tuples and no reference
    # cycles; the cycle collector would walk them over and over (8% of the time) for nothing.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_pdf(data, path)
    finally:
        if enabled:
            gc.enable()


def _read_pdf(data: bytes, path: Path) -> Document:
    if b"%PDF-" not in data[:1024]:
        raise ReadError(path, "damaged PDF (no %PDF- header: not a PDF file)")
    if b"%%EOF" not in data[-4096:]:
        # PDFium would recover what it can from a cut-off file; half a report is worse than none.
        raise ReadError(path, "damaged PDF (truncated: no %%EOF end marker)")
    try:
        pdf = open_pdf(data)
    except PdfOpenError as exc:
        if exc.password:
            raise ReadError(path, "password-protected PDF") from None
        raise ReadError(path, f"damaged PDF ({exc})") from None

    glyph_count = sum(page.chars for page in pdf.pages)
    unmapped = sum(page.unmapped for page in pdf.pages)
    if not glyph_count and not unmapped:
        raise ReadError(path, "no text layer (scanned PDF? OCR it first)")
    if unmapped > 0.3 * (glyph_count + unmapped):
        raise ReadError(path, "no usable text layer (fonts without a Unicode map; OCR it first)")

    try:
        return _laid_out(pdf, path)
    except ReadError:
        raise
    except Exception:
        # A layout this reader has not met must not cost the report its text: read it line by line.
        log.exception("PDF layout failed; reading line by line", extra={"path": str(path)})
        return _line_by_line(pdf, path)


def _laid_out(pdf: PdfFile, path: Path) -> Document:
    pages = [page_segments(page.runs, page.number) for page in pdf.pages]
    heights = [page.height for page in pdf.pages]
    pages, running = drop_running_lines(pages, heights)

    evidence = Evidence(file_name=path.name, metadata=pdf.metadata)
    evidence.running = [s.text for dropped in running for s in dropped]
    laid_out: list[PageItems] = []
    aside: list[Block] = []
    title: list[Segment] = []
    for index, (segments, page) in enumerate(zip(pages, pdf.pages, strict=True)):
        if index == 0:
            segments, banner, title = _front_matter(segments, page.height)
            evidence.banner = [s.text for s in banner]
            evidence.title_lines = [s.text for s in title]
            aside.extend(Block(s.text, page=page.number) for s in banner)
        if index == 0 or (index == 1 and pdf.pages[0].chars < _COVER_GLYPHS):
            # The title may run across the page and wrap onto the sidebar's side: it is not sidebar.
            heading = [s for s in segments if any(s is t for t in title)] if index == 0 else []
            rest = [s for s in segments if not any(s is t for t in heading)]
            segments, side = split_sidebar(rest, page.width, page.height)
            segments = heading + segments
            side_lines = [item.segment for item in read_order(side) if isinstance(item, Placed)]
            aside.extend(Block(s.text, page=page.number) for s in side_lines)
            if index == 0:
                evidence.sidebar = [s.text for s in side_lines]
        laid_out.append(PageItems(page.number, read_order(segments)))

    assembled = assemble(laid_out)
    blocks = [Block(b.text, page=b.page, kind=b.kind, context=b.context) for b in assembled.blocks]
    if not blocks:
        raise ReadError(path, "no text layer (scanned PDF? OCR it first)")
    evidence.sources = assembled.sources
    evidence.disclaimer = assembled.disclaimer
    evidence.first_page = [b.text for b in blocks if b.page == 1][:40]
    hints = report_hints(evidence)
    aside.extend(Block(text) for text in assembled.sources)
    return Document(
        path=path,
        blocks=blocks,
        title_hint=hints.title,
        date_hint=pdf.metadata.get("CreationDate") or None,
        pages=len(pdf.pages),
        aside=aside,
        disclaimer=assembled.disclaimer,
        hints=hints,
    )


def _line_by_line(pdf: PdfFile, path: Path) -> Document:
    blocks = [
        Block(segment.text, page=page.number)
        for page in pdf.pages
        for segment in page_segments(page.runs, page.number)
        if segment.text.strip()
    ]
    if not blocks:
        raise ReadError(path, "no text layer (scanned PDF? OCR it first)")
    hints = report_hints(Evidence(file_name=path.name, metadata=pdf.metadata))
    return Document(path=path, blocks=blocks, title_hint=hints.title, pages=len(pdf.pages), hints=hints)


def _front_matter(
    segments: list[Segment], height: float
) -> tuple[list[Segment], list[Segment], list[Segment]]:
    """(the rest, the banner, the title) of a first page. The banner is the small print across the
    top (证券研究报告, report type, date); the title is the largest text in the page's upper part."""
    if not segments:
        return segments, [], []
    body_size = statistics.median_low(s.size for s in segments)
    upper = [s for s in segments if s.top < 0.45 * height]
    title: list[Segment] = []
    from index.pdf.metadata import plausible_title

    # The largest text that reads like a title: a stock's name and code printed larger still
    # ("英维克(002837)") or the rating in the sidebar (买入) is not, so the next size down is tried.
    for size in sorted({round(s.size, 1) for s in upper if s.size >= 1.25 * body_size}, reverse=True):
        candidates = sorted((s for s in upper if abs(s.size - size) < 0.5), key=lambda s: (s.top, s.x0))
        # The title starts at the first line that reads like one (a numbered section heading,
        # 一、行业动向, on a note with no title is not its title) and takes the lines it wraps onto.
        for s in candidates:
            if not title and not (plausible_title(s.text) and not SECTION.match(s.text)):
                continue
            if title and s.top - title[-1].bottom > 1.2 * size:
                break
            title.append(s)
        if title:
            break
    # The banner is small print above the title; with no title found, only the page's top edge.
    title_top = title[0].top if title else 0.08 * height
    banner = [
        s
        for s in segments
        if s.bottom <= title_top + 1
        and s.top < 0.12 * height
        and s.size <= 1.2 * body_size
        and s not in title
    ]
    banner_ids = {id(s) for s in banner}
    return [s for s in segments if id(s) not in banner_ids], banner, title
