"""Paragraph-level chunks with Chinese sentence boundaries.

llama-index's SentenceSplitter counts tokens and splits on English punctuation; research notes are
paragraphs of Chinese sentences, and a citation must show a paragraph as it stands, so the unit
here is the paragraph: long ones are split between sentences (index/text.py: 。！？, not ；), a
run-on sentence between its clauses, then its phrases; short ones are merged within their section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.clean import Paragraph
from index.text import clauses, phrases, search_form, sentences

MAX_CHARS = 360  # a long paragraph is split into sentence runs of about this size
MIN_CHARS = 60  # shorter paragraphs are merged with their neighbours in the same section
LISTING_RUN = 3  # item-like heading lines in a row that make a listing
LISTING_ITEM_CHARS = 12
_CAPTION = re.compile(r"^[图表圖]\s*\d")

_LEADING_LABEL = re.compile(r"^([\u4e00-\u9fff]{2,8})[:：]")


@dataclass
class ChunkText:
    text: str  # as written in the report
    section: str | None
    page: int | None


def _pack(pieces: list[str], limit: int) -> list[str]:
    out: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) > limit:
            out.append(current)
            current = ""
        current += piece
    if current:
        out.append(current)
    return out


def split_long_paragraph(text: str, limit: int = MAX_CHARS) -> list[str]:
    if len(text) <= limit * 1.25:
        return [text]
    pieces: list[str] = []
    for sentence in sentences(text):
        if len(sentence) <= limit * 1.5:
            pieces.append(sentence)
            continue
        # one run-on sentence: its clauses (；), and a clause still too long, its phrases (，、：)
        for clause in clauses(sentence):
            pieces.extend(_pack(phrases(clause), limit) if len(clause) > limit * 1.5 else [clause])
    return [p for p in _pack(pieces, limit) if p.strip()]


def chunk_paragraphs(paragraphs: list[Paragraph]) -> list[ChunkText]:
    """Headings become the section of what follows; table rows are grouped; short text paragraphs
    are merged with the next ones of the same section; long ones are split on sentences."""
    chunks: list[ChunkText] = []
    section: str | None = None
    pending: list[Paragraph] = []
    paragraphs = _listings_as_text(paragraphs)

    def flush() -> None:
        if pending:
            # Rows of a table are cited with what makes their figures mean something: the
            # table's caption, units and header row, printed above the rows in every chunk.
            head = [pending[0].context] if pending[0].kind == "table_row" and pending[0].context else []
            if head and head[0].split("\n")[-1] == pending[0].text:  # the header is the first row
                head = head[0].split("\n")[:-1]
            chunks.append(ChunkText("\n".join(head + [p.text for p in pending]), section, pending[0].page))
            pending.clear()

    for para in paragraphs:
        if para.kind == "heading":
            flush()
            section = para.text.strip().rstrip(":：")
            continue
        label = _LEADING_LABEL.match(para.text)
        if label and para.kind == "text":
            # "建議關注:…", "市場整體:…": the label heads this paragraph's own section
            flush()
            section = label.group(1)
        if pending and (pending[-1].kind != para.kind or pending[-1].context != para.context):
            flush()
        if para.kind == "table_row":
            if pending and sum(len(p.text) for p in pending) + len(para.text) > MAX_CHARS:
                flush()
            pending.append(para)
            continue
        if len(para.text) > MAX_CHARS:
            flush()
            for piece in split_long_paragraph(para.text):
                chunks.append(ChunkText(piece, section, para.page))
            continue
        if pending and sum(len(p.text) for p in pending) + len(para.text) > MAX_CHARS:
            flush()
        pending.append(para)
        if sum(len(p.text) for p in pending) >= MIN_CHARS:
            flush()
    flush()
    return chunks


def _listings_as_text(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Three or more item-like heading lines in a row (long enough to say something, not figure
    or table captions) are a listing — a digest's 本期内容, a contents page — not nested sections:
    they become text, so what they say is searchable instead of lost."""
    out = list(paragraphs)
    i = 0
    while i < len(out):
        j = i
        while j < len(out) and out[j].kind == "heading" and _is_listing_item(out[j].text):
            j += 1
        if j - i >= LISTING_RUN:
            for n in range(i, j):
                out[n] = Paragraph(text=out[n].text, page=out[n].page, kind="text")
        i = max(j, i + 1)
    return out


def _is_listing_item(text: str) -> bool:
    return len(text.strip()) >= LISTING_ITEM_CHARS and not _CAPTION.match(text.strip())


def search_text_for(chunk: ChunkText) -> str:
    """What matching sees: the section heading gives a short paragraph its context."""
    head = f"{chunk.section}\n" if chunk.section else ""
    return search_form(head + chunk.text)
