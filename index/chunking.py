"""Paragraph-level chunks with Chinese sentence boundaries.

llama-index's SentenceSplitter counts tokens and splits on English punctuation; research notes are
paragraphs of Chinese sentences, and a citation must show a paragraph as it stands, so the unit
here is the paragraph: long ones split on 。！？；, short ones merged within their section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.clean import Paragraph
from index.normalize import search_form

MAX_CHARS = 360  # a long paragraph is split into sentence runs of about this size
MIN_CHARS = 60  # shorter paragraphs are merged with their neighbours in the same section

_SENTENCE = re.compile(r"[^。！？!?；;]*[。！？!?；;]+[”」』\"')）]*|[^。！？!?；;]+$")
_LEADING_LABEL = re.compile(r"^([\u4e00-\u9fff]{2,8})[:：]")
_CLAUSE = re.compile(r"[^,，、]*[,，、]|[^,，、]+$")


@dataclass
class ChunkText:
    text: str  # as written in the report
    section: str | None
    page: int | None


def split_sentences(text: str) -> list[str]:
    """Chinese and Latin sentence ends; the delimiters stay with their sentence."""
    return [s for s in (m.group(0) for m in _SENTENCE.finditer(text)) if s.strip()]


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
    for sentence in split_sentences(text):
        if len(sentence) > limit * 1.5:  # one run-on sentence: fall back to clauses
            pieces.extend(_pack([m.group(0) for m in _CLAUSE.finditer(sentence)], limit))
        else:
            pieces.append(sentence)
    return [p for p in _pack(pieces, limit) if p.strip()]


def chunk_paragraphs(paragraphs: list[Paragraph]) -> list[ChunkText]:
    """Headings become the section of what follows; table rows are grouped; short text paragraphs
    are merged with the next ones of the same section; long ones are split on sentences."""
    chunks: list[ChunkText] = []
    section: str | None = None
    pending: list[Paragraph] = []

    def flush() -> None:
        if pending:
            # Rows of a table are cited with what makes their figures mean something: the
            # table's caption, units and header row, printed above the rows in every chunk.
            head = [pending[0].context] if pending[0].kind == "table_row" and pending[0].context else []
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


def search_text_for(chunk: ChunkText) -> str:
    """What matching sees: the section heading gives a short paragraph its context."""
    head = f"{chunk.section}\n" if chunk.section else ""
    return search_form(head + chunk.text)
