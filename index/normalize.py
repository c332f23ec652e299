"""jieba tokens of the search form (index/text.py folds text; this module re-exports its fold).

What users see is always the text as written; these forms are only for matching.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from pathlib import Path
from typing import Any

import jieba

from index.text import search_form, to_simplified

__all__ = ["Tokenizer", "default_tokenizer", "has_cjk", "is_traditional", "search_form", "to_simplified"]

DATA_DIR = Path(__file__).parent / "data"

# Function words and punctuation carry no retrieval signal in these notes.
_STOPWORDS = frozenset(
    "的 了 是 在 和 与 及 或 等 也 将 对 为 以 于 中 上 下 其 之 而 并 但 从 由 被 把 这 那 个 有 我们 认为 "
    "a an the of to in on for and or is are was were be by with as at from that this which what "
    "does do did how much many who whom whose when where why it its their there any".split()
)
_TOKEN_KEEP = re.compile(r"[\w\u4e00-\u9fff%.+-]")
_CJK = re.compile(r"[\u3400-\u9fff]")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def is_traditional(text: str) -> bool:
    """True when converting to simplified changes a noticeable share of the CJK characters."""
    cjk = [c for c in text if _CJK.match(c)]
    if not cjk:
        return False
    changed = sum(1 for a, b in zip(text, to_simplified(text), strict=False) if a != b)
    return changed >= max(1, len(cjk) // 40)


class Tokenizer:
    """jieba with yanbao's user dictionary (stock names, finance terms), so 中科创达 stays whole.

    One jieba.Tokenizer per process instead of the global one, so loading our dictionary never
    changes jieba for other code in the same process.
    """

    def __init__(self, userdict: Path | None = None) -> None:
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        self._userdict = userdict
        self._ready = False
        self._pos: Any = None  # jieba.posseg.POSTokenizer, made on first use

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            jieba.setLogLevel(60)
            self._jieba.initialize()
            if self._userdict and self._userdict.is_file():
                self._jieba.load_userdict(str(self._userdict))
            self._ready = True

    def words(self, text: str) -> list[str]:
        """Whole dictionary words (no sub-word expansion, no guessed words): the words of a
        question. jieba's HMM would invent words across a boundary ("周报中申万" → 中申), which no
        note contains."""
        self._ensure_ready()
        return [w for w in self._jieba.cut(search_form(text), HMM=False) if _keep(w)]

    def tagged_words(self, text: str) -> list[tuple[str, str]]:
        """`words` with jieba's part-of-speech tags (r pronoun, t time, m numeral, …); words of our
        user dictionary carry its tags (stock, fin, term, broker, media)."""
        self._ensure_ready()
        with self._lock:
            if self._pos is None:
                self._pos = _pos_tagger(self._jieba)
            pos = self._pos
        return [(p.word, p.flag) for p in pos.cut(search_form(text), HMM=False) if _keep(p.word)]

    def tokens(self, text: str) -> list[str]:
        """Tokens for BM25: jieba search-mode cut (a long word also yields its known sub-words)."""
        self._ensure_ready()
        return [w for w in self._jieba.cut_for_search(search_form(text)) if _keep(w)]


def _pos_tagger(tokenizer: jieba.Tokenizer) -> Any:
    """jieba's part-of-speech tagger over `tokenizer`. Importing jieba.posseg already read the
    default dictionary's tags (~1 s); a tagger made the documented way reads them again on the
    first question, so one over the default dictionary takes a copy of those tags instead (a copy:
    the tagger adds our user dictionary's tags to its table)."""
    import jieba.posseg

    shared = jieba.posseg.dt
    if tokenizer.dictionary != shared.tokenizer.dictionary:
        return jieba.posseg.POSTokenizer(tokenizer)
    tagger = jieba.posseg.POSTokenizer.__new__(jieba.posseg.POSTokenizer)
    tagger.tokenizer = tokenizer
    tagger.word_tag_tab = dict(shared.word_tag_tab)
    return tagger


def _keep(word: str) -> bool:
    word = word.strip()
    return bool(word) and word not in _STOPWORDS and bool(_TOKEN_KEEP.search(word))


@cache
def default_tokenizer() -> Tokenizer:
    return Tokenizer(DATA_DIR / "userdict.txt")
