"""Which sectors a note is about, by the sector names of the glossary (index/data/glossary.tsv):
its title names them ("通信行业周跟踪", "【国盛计算机】周报"). One canonical Chinese name per
sector (the glossary's first), so "telecom", "通信" and "通信行业" all mean 通信 in a channel
scope, a subscription and a note's record alike."""

from __future__ import annotations

from index.lexicon import Lexicon


def title_sectors(title: str, lexicon: Lexicon) -> list[str]:
    """The canonical sectors a title names, in order; a broker's own name does not count (证券 of
    山西证券 is not the brokerage sector)."""
    for _, start, end in reversed(lexicon.broker_spans(title)):
        title = title[:start] + " " + title[end:]
    found = [entry.chinese[0] for entry, _ in lexicon.glossary_chinese(title) if entry.category == "sector"]
    return list(dict.fromkeys(found))


def canonical_sector(words: str, lexicon: Lexicon) -> str | None:
    """The sector `words` name ("telecom", "通信", "通信行业", "券商"), canonical; None when the
    glossary knows no such sector."""
    words = words.strip()
    if not words:
        return None
    for entry, _, _ in lexicon.match_glossary(words):
        if entry.category == "sector":
            return entry.chinese[0]
    for entry, _ in lexicon.glossary_chinese(words):
        if entry.category == "sector":
            return entry.chinese[0]
    return None
