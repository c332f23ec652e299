"""Citation verification, for extractive and LLM answers alike.

Every [n] must point to a supplied paragraph (others are removed), and every stock name and number
in a sentence must occur in a paragraph that sentence cites (or, for a sentence without markers, in
any cited paragraph). A sentence that fails is dropped and reported. A stock named without support
is the worst bug this product can have; this is the one place that guards against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.answer import Citation
from index.lexicon import Lexicon
from index.normalize import search_form
from index.text import sentences

MARKER = re.compile(r"\[(\d{1,3})\]")
# Numbers that carry meaning: decimals, percentages, and anything of two digits or more.
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?:\.\d+)?%?")
_SPACES = re.compile(r"[\s,，]")


@dataclass
class Verified:
    text: str
    cited: list[int] = field(default_factory=list)  # marker numbers still in the text, in order
    dropped: list[str] = field(default_factory=list)


def _numbers(text: str) -> list[str]:
    out = []
    for raw in _NUMBER.findall(MARKER.sub(" ", text)):
        digits = raw.strip("+-")
        if "." in digits or "%" in digits or len(digits.replace(",", "")) >= 2:
            out.append(digits.replace(",", "").rstrip("%"))
    return out


def _support_text(citation: Citation) -> str:
    """What a citation supports: its paragraph and section heading, plus its report's title,
    broker and date (which answers state as who said it and when)."""
    parts = [
        citation.section or "",
        citation.text,
        citation.title,
        citation.broker or "",
        citation.date or "",
    ]
    return _SPACES.sub("", search_form(" ".join(parts))).replace(",", "")


def unsupported(sentence: str, supports: list[str], lexicon: Lexicon) -> list[str]:
    """The stock names and numbers in `sentence` found in none of `supports`."""
    missing: list[str] = []
    for name, _, _ in lexicon.find_stocks(sentence):
        form = search_form(name)
        if not any(form in s for s in supports):
            missing.append(name)
    for number in _numbers(sentence):
        if not any(number in s for s in supports):
            missing.append(number)
    return missing


def verify_answer(text: str, citations: list[Citation], lexicon: Lexicon) -> Verified:
    by_number = {c.n: c for c in citations}
    supports = {c.n: _support_text(c) for c in citations}
    dropped: list[str] = []

    def check_marker(match: re.Match[str]) -> str:
        if int(match.group(1)) in by_number:
            return match.group(0)
        dropped.append(match.group(0))
        return ""

    text = MARKER.sub(check_marker, text)
    kept: list[str] = []
    for sentence in sentences(text):  # the sentences extractive answers quote (index/text.py)
        if not sentence.strip():
            kept.append(sentence)
            continue
        markers = [int(n) for n in MARKER.findall(sentence)]
        pool = [supports[n] for n in markers] if markers else list(supports.values())
        missing = unsupported(sentence, pool, lexicon)
        if missing:
            dropped.append(f"{sentence.strip()} (unsupported: {', '.join(missing)})")
            continue
        kept.append(sentence)
    result = "".join(kept).strip()
    result = re.sub(r"\n{3,}", "\n\n", result)
    cited = []
    for n in (int(m) for m in MARKER.findall(result)):
        if n not in cited:
            cited.append(n)
    return Verified(text=result, cited=cited, dropped=dropped)


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
