"""One definition, for everyone, of what a sentence, a clause and a phrase are, how text is folded
for matching, and what a paragraph's fingerprint is. Chunking, cleaning, quoting, verifying and
rendering all use these, so the sentence an answer quotes is the sentence verification checks.

A *sentence* ends at 。！？!? (with any closing quote or bracket), at an English full stop followed
by a space, or at a line break. 「；」 does not end a sentence: research notes join the figures of one
statement with it ("营收298.4亿元，同比+35.1%；归母净利润56.2亿元…"), and a quote cut there loses its
second figure. A *clause* ends at ；; and a *phrase* at ，,、：: — the units a long sentence is
shortened to (when quoting) or packed from (when chunking).

Folding: `search_form` is what matching sees (simplified, NFKC, lower-case); `fold_same_length` is
the same fold without changing length or case, for finding spans in the text as written;
`compact_form` drops whitespace (for "does this answer contain that figure");
`fingerprint` also drops punctuation (for "is this the same paragraph").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

SENTENCE_END = "。！？!?"
CLAUSE_END = "；;"
PHRASE_END = "，,、：:"
_CLOSERS = "”」』\"')）】"
# A line that ends with one of these closes a sentence, a clause or an introduction ("建议关注：");
# a line ending otherwise was wrapped in the middle of a sentence.
LINE_END = SENTENCE_END + CLAUSE_END + "：:…." + '”」』"'  # a PDF line ending in "." ends a sentence too

_SENTENCE = re.compile(
    rf"[^{SENTENCE_END}\n]*?(?:[{SENTENCE_END}]+[{_CLOSERS}]*|\.(?=\s)|\n+|$)",
)
_CLAUSE = re.compile(rf"[^{CLAUSE_END}]*[{CLAUSE_END}]+[{_CLOSERS}]*|[^{CLAUSE_END}]+$")
_PHRASE = re.compile(
    rf"[^{CLAUSE_END}{PHRASE_END}]*[{CLAUSE_END}{PHRASE_END}]+[{_CLOSERS}]*|[^{CLAUSE_END}{PHRASE_END}]+$"
)
_ANY_END = re.compile(rf"[{SENTENCE_END}{CLAUSE_END}]")
_WHITESPACE = re.compile(r"\s+")
_PUNCT_OR_SPACE = re.compile(r"[\s\W_]+")

_t2s = opencc.OpenCC("t2s")


# ---- units of text --------------------------------------------------------------------------------
def sentences(text: str) -> list[str]:
    """The sentences of `text` in order; delimiters and closing quotes stay with their sentence, so
    "".join(sentences(t)) == t. Blank pieces (runs of line breaks) are left out."""
    out: list[str] = []
    for match in _SENTENCE.finditer(text):
        piece = match.group(0)
        if not piece:
            continue
        if piece.strip():
            out.append(piece)
        elif out:  # a bare line break belongs to the sentence before it
            out[-1] += piece
    return out


def clauses(sentence: str) -> list[str]:
    """A sentence cut after each ；/; (delimiters stay with their clause)."""
    return [c for c in _CLAUSE.findall(sentence) if c.strip()]


def phrases(sentence: str) -> list[str]:
    """A sentence cut after each ；; ，, 、 ：: — the finest unit a quote is trimmed to."""
    return [p for p in _PHRASE.findall(sentence) if p.strip()]


def has_sentence_punctuation(text: str) -> bool:
    """Whether `text` contains a sentence or clause end (headings and tags do not)."""
    return bool(_ANY_END.search(text))


def closes_line(line: str) -> bool:
    """Whether a line ends where a sentence, clause or introduction ends (not mid-sentence)."""
    return line.rstrip().endswith(tuple(LINE_END))


# ---- folding --------------------------------------------------------------------------------------
def to_simplified(text: str) -> str:
    return _t2s.convert(text)


def search_form(text: str) -> str:
    """Simplified, NFKC-folded (full-width → half-width), lower-cased: what matching sees."""
    return _search_form_cached(text) if len(text) <= 256 else _search_form(text)


def _search_form(text: str) -> str:
    return _t2s.convert(unicodedata.normalize("NFKC", text)).lower()


@lru_cache(maxsize=65536)
def _search_form_cached(text: str) -> str:
    return _search_form(text)


def fold_same_length(text: str) -> str:
    """Simplified and half-width like `search_form`, but case kept and always as long as `text`, so
    a position found in the fold is the same position in the text as written."""
    chars = []
    for ch in text:
        norm = unicodedata.normalize("NFKC", ch) if ord(ch) >= 0x3000 else ch
        chars.append(norm if len(norm) == 1 else ch)
    half = "".join(chars)
    out = _t2s.convert(half)
    if len(out) == len(half):
        return out
    # OpenCC maps a few phrases to strings of another length; fall back to one character at a time.
    return "".join(s if len(s := _t2s.convert(c)) == 1 else c for c in half)


def compact_form(text: str) -> str:
    """The search form without whitespace: "does this answer contain 4.27%" compares these."""
    return _WHITESPACE.sub("", search_form(text or ""))


@lru_cache(maxsize=32768)
def fingerprint(text: str) -> str:
    """The search form without whitespace or punctuation: two copies of one paragraph (another
    script, other spacing or punctuation) share it. Cached: search asks it of the same chunks often."""
    return _PUNCT_OR_SPACE.sub("", search_form(text))
