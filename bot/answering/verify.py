"""Citation verification, for extractive and LLM answers alike.

Every [n] must point to a supplied paragraph (others are removed). Every company named in a sentence,
by any alias yanbao knows (贵州茅台, 茅台, Kweichow Moutai, 600519; 腾讯控股, Tencent, 0700.HK), and
every number must occur in a paragraph that sentence cites. A sentence without a marker of its own
cites what the next marker in its passage cites ("A. B [1]." - both A and B rest on [1]); a claim
with no marker after it at all is uncited and dropped. A sentence that fails is dropped and
reported. A stock named without support is the worst bug this product can have; this is the one
place that guards against it.

Note text is data, never markup: `inert` turns a note's own "[1]" into "［1］" before it is quoted
in an answer or shown to an LLM, so a note cannot forge a citation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.answer import Citation
from index.companies import Mention, company_names
from index.lexicon import Lexicon
from index.normalize import search_form
from index.text import SENTENCE_END

MARKER = re.compile(r"\[(\d{1,3})\]")
_MARKER_RUN = re.compile(r"^(\s*(?:\[\d{1,3}\]\s*)+)")
# Numbers that carry meaning: decimals, percentages, and anything of two digits or more (also
# right after a Chinese character: 上涨2.35%).
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])[-+]?\d+(?:[.,]\d+)*(?:\.\d+)?%?")
# Where a claim ends: Chinese sentence ends, newlines, an English full stop followed by a space or
# a marker (not 4.27), and a run of citation markers.
# (the sentence ends are index/text.py's, so the sentence verified is the sentence quoted)
_CLAIM_END = re.compile(rf"[{SENTENCE_END}]+|\n|\.(?=\s|$|\[)|(?:\[\d{{1,3}}\][ \t]*)+")
_OPEN_QUOTES, _CLOSE_QUOTES = "“「『", "”」』"
_SPACES = re.compile(r"[\s,，]")
_PASSAGE_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\w")


@dataclass
class Verified:
    text: str
    cited: list[int] = field(default_factory=list)  # marker numbers still in the text, in order
    dropped: list[str] = field(default_factory=list)


def inert(text: str) -> str:
    """Note text made safe to quote: its own citation markers become full-width brackets."""
    return MARKER.sub(lambda m: f"［{m.group(1)}］", text)


def _sentences(text: str) -> list[str]:
    """Claims as the answer writes them: sentences, and the words before each run of markers
    ("乐鑫科技 [1]、泰凌微 [2]" is two claims). Never cut inside a quotation (an extractive answer
    quotes whole clauses); markers written right after a sentence end ("…5998万。[1]") stay with it."""
    cuts, depth, i = [], 0, 0
    while i < len(text):
        ch = text[i]
        if ch in _OPEN_QUOTES:
            depth += 1
        elif ch in _CLOSE_QUOTES:
            depth = max(0, depth - 1)
        elif ch == "\n":
            depth = 0  # an unclosed quotation ends with its line
        if depth == 0:
            match = _CLAIM_END.match(text, i)
            if match:
                cuts.append(match.end())
                i = match.end()
                continue
        i += 1
    pieces, start = [], 0
    for cut in [*cuts, len(text)]:
        if cut > start:
            pieces.append(text[start:cut])
            start = cut
    merged: list[str] = []
    for piece in pieces:
        run = _MARKER_RUN.match(piece)
        if merged and run and not merged[-1].endswith("\n"):
            merged[-1] += run.group(1)
            piece = piece[run.end() :]
        if piece:
            merged.append(piece)
    return merged


def _numbers(text: str) -> list[str]:
    out = []
    for raw in _NUMBER.findall(MARKER.sub(" ", text)):
        digits = raw.strip("+-")
        if "." in digits or "%" in digits or len(digits.replace(",", "")) >= 2:
            out.append(digits.replace(",", "").rstrip("%"))
    return out


def _compact(text: str) -> str:
    return _SPACES.sub("", search_form(text)).replace(",", "")


@dataclass
class _Support:
    """What a citation supports: its paragraph and section heading, plus its report's title,
    broker and date (which answers state as who said it and when)."""

    text: str  # compact search form
    companies: set[str]  # keys of the companies it names, by any alias


def _support(citation: Citation, lexicon: Lexicon) -> _Support:
    raw = "\n".join(
        part
        for part in (citation.section, citation.text, citation.title, citation.broker, citation.date)
        if part
    )
    return _Support(_compact(raw), company_names(lexicon).keys(raw))


def unsupported(sentence: str, supports: list[_Support], lexicon: Lexicon) -> list[str]:
    """The companies and numbers in `sentence` found in none of `supports`. A company counts as
    found when a support names the same company in any alias, or contains the very words used."""
    missing: list[str] = []
    mentions = company_names(lexicon).mentions(sentence)
    for mention in mentions:
        if any(mention.key in s.companies for s in supports):
            continue
        if any(_compact(mention.surface) in s.text for s in supports):
            continue
        missing.append(mention.surface)
    for number in _numbers(_without(sentence, mentions)):
        if not any(number in s.text for s in supports):
            missing.append(number)
    return missing


def _passages(text: str) -> list[str]:
    """Blank-line separated passages, each keeping its trailing separator."""
    out, start = [], 0
    for match in _PASSAGE_BREAK.finditer(text):
        out.append(text[start : match.end()])
        start = match.end()
    out.append(text[start:])
    return out


def verify_answer(text: str, citations: list[Citation], lexicon: Lexicon) -> Verified:
    by_number = {c.n: c for c in citations}
    supports = {c.n: _support(c, lexicon) for c in citations}
    dropped: list[str] = []

    def check_marker(match: re.Match[str]) -> str:
        if int(match.group(1)) in by_number:
            return match.group(0)
        dropped.append(match.group(0))
        return ""

    text = MARKER.sub(check_marker, text)
    kept: list[str] = []
    for passage in _passages(text):
        kept.extend(_verify_passage(passage, supports, lexicon, dropped))
    result = "".join(kept).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    cited = []
    for n in (int(m) for m in MARKER.findall(result)):
        if n not in cited:
            cited.append(n)
    return Verified(text=result, cited=cited, dropped=dropped)


def _verify_passage(
    passage: str, supports: dict[int, _Support], lexicon: Lexicon, dropped: list[str]
) -> list[str]:
    """The sentences of one passage that their citations support. A sentence without markers
    rests on the next marked sentence's citations; when that sentence is dropped, its markers
    move to the last sentence kept on their strength, so every kept claim still shows its source."""
    sentences = _sentences(passage)
    own = [[int(n) for n in MARKER.findall(s)] for s in sentences]
    kept: list[str] = []
    waiting: list[int] = []  # indexes into `kept` of unmarked sentences resting on the next marker
    last_dropped = False
    for i, sentence in enumerate(sentences):
        if not sentence.strip() or not _WORD.search(sentence):
            # spacing and bare punctuation go with the claim before them
            if not (last_dropped and sentence.strip()):
                kept.append(sentence)
            continue
        last_dropped = True
        markers = own[i] or next((m for m in own[i + 1 :] if m), [])
        missing = (
            unsupported(sentence, [supports[n] for n in markers], lexicon)
            if markers
            else _claims(sentence, lexicon)
        )
        if missing:
            reason = "unsupported" if markers else "uncited"
            dropped.append(f"{sentence.strip()} ({reason}: {', '.join(missing)})")
            if own[i] and waiting:
                _carry_markers(kept, waiting[-1], own[i])
            if own[i]:
                waiting = []
            continue
        kept.append(sentence)
        last_dropped = False
        if own[i]:
            waiting = []
        elif markers:
            waiting.append(len(kept) - 1)
    return kept


def _carry_markers(kept: list[str], index: int, markers: list[int]) -> None:
    sentence = kept[index]
    body = sentence.rstrip()
    kept[index] = body + " " + "".join(f"[{n}]" for n in markers) + sentence[len(body) :]


def _claims(sentence: str, lexicon: Lexicon) -> list[str]:
    """What an uncited sentence claims: the companies and numbers it names."""
    mentions = company_names(lexicon).mentions(sentence)
    return [m.surface for m in mentions] + _numbers(_without(sentence, mentions))


def _without(text: str, mentions: list[Mention]) -> str:
    """`text` with the company mentions blanked: a stock code is checked as a company, not a number."""
    for m in mentions:
        text = text[: m.start] + " " * (m.end - m.start) + text[m.end :]
    return text


def renumber(text: str, citations: list[Citation], cited: list[int]) -> tuple[str, list[Citation]]:
    """Keep only cited paragraphs and number them 1..k in order of first mention."""
    mapping = {old: new for new, old in enumerate(cited, start=1)}
    by_number = {c.n: c for c in citations}
    text = MARKER.sub(lambda m: f"[{mapping[int(m.group(1))]}]" if int(m.group(1)) in mapping else "", text)
    kept = []
    for old, new in mapping.items():
        c = by_number[old]
        kept.append(
            Citation(new, c.report_id, c.title, c.broker, c.date, c.source, c.paragraph, c.text, c.section)
        )
    return text, kept
