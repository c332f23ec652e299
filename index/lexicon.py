"""What yanbao knows about names: A-share stocks, brokers and an English->Chinese finance glossary.

Loaded once from the files in index/data/ (built by scripts/build_data.py, see index/data/README.md).
Everything that matches Chinese text folds it first (traditional->simplified, full->half width,
one character for one) so offsets found in the folded text are offsets in the text as written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from index.text import fold_same_length as fold  # one fold for everyone (index/text.py)

DATA_DIR = Path(__file__).resolve().parent / "data"


# Between items of a run of stock names: "A、B", "A,B", "A和B", or nothing at all ("AB").
_LIST_GAP = re.compile(r"[\s、,，;；/与和及]?")
# A stock code right after a name: "农产品(000061)", "农产品 000061.SZ".
_CODE_AFTER = re.compile(r"\s?[(（]?\s?\d{6}")
_CODE = re.compile(r"(?<![0-9A-Za-z.])(\d{6})(?:\.(?:SH|SZ|BJ|sh|sz|bj))?(?![0-9])")
# A broker's own name followed by these is the research house, not the stock (山西证券研究所).
_RESEARCH_HOUSE_AFTER = ("研究", "证券研究", "分析师", "首席")
_ASCII_ALNUM = re.compile(r"[0-9A-Za-z]")
# Glossary words keep their inner "&", "/", "." and "'" (S&P, P/E, U.S., Doubao's); hyphens split.
_GLOSSARY_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[&/.'][A-Za-z0-9]+)*(?:'s)?")
_ENGLISH_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[&'.\-][A-Za-z0-9]+)*")

# Words that end a company's English name without naming it ("Shenzhen Envicool Technology Co.,
# Ltd." is "Envicool"); stripped repeatedly from the end.
_LEGAL_TAIL = re.compile(
    r"[\s,.]*(co\.?,?\s*ltd\.?|company\s+limited|co\.?,?\s*limited|corporation\s+limited|corp\.?|"
    r"corporation|incorporated|inc\.?|limited|ltd\.?|company|co\.?|group|holdings?|joint\s+stock|"
    r"stock|shares?|\(group\)|\(holdings?\)|plc|s\.a\.)\s*$",
    re.IGNORECASE,
)
_GENERIC_TAIL_WORDS = set(
    """technology technologies tech science sci-tech industry industries industrial electronics
    electronic electric electrical new material materials information communication communications
    network networks software pharmaceutical pharmaceuticals medical biotechnology bio-technology
    biological energy power equipment development investment intelligent environmental engineering
    systems system international manufacturing machinery chemical chemicals wireless and &
    precision digital optoelectronics optoelectronic semiconductor semiconductors microelectronics
    automation automotive intelligence smart new-material hi-tech high-tech high resources products
    holding enterprise enterprises the of computing data health healthcare culture media green""".split()
)
_PLACE_WORDS = set(
    """china chinese shenzhen beijing shanghai guangzhou hangzhou jiangsu zhejiang guangdong suzhou
    wuxi ningbo xiamen fujian anhui hubei hunan sichuan chengdu chongqing tianjin shandong qingdao
    henan hebei shaanxi xian xi'an yunnan guangxi jiangxi jilin liaoning heilongjiang inner
    mongolia xinjiang tibet gansu hainan guizhou ningxia qinghai shanxi dalian nanjing wuhan
    changsha zhuhai dongguan foshan hefei fuzhou jinan zhengzhou kunming nanning guiyang harbin
    shenyang changchun taiyuan lanzhou urumqi haikou yantai weihai zibo weifang changzhou nantong
    shaoxing jiaxing huzhou taizhou wenzhou jinhua zhuzhou yangzhou zhenjiang hong kong xinhua""".split()
)
# An English company alias must not be an everyday or finance word (these are checked in lower case).
_COMMON_ENGLISH = set(
    """the a an and of in on for with to from by at as is are be it its this that which what who how
    new great golden gold sun star ocean eastern western northern southern east west north south central
    first united universal advanced smart digital data cloud global asia pacific dragon phoenix lion tiger
    eagle sunshine bright rainbow crystal diamond jade pearl orient oriental grand royal victory fortune
    wealth harmony unity hope future century times era wisdom vision focus leader pioneer power energy
    electric motor auto steel iron silver copper water fire earth sky air light green red blue white black
    yellow health care home life food foods wine tea paper glass cable wire optical laser robot robotics
    media culture education travel tourism hotel airlines airport port shipping logistics express bank
    securities insurance trust capital finance financial investment real estate property construction
    building cement chemical pharma medicine bio gene agriculture seed forest mining coal oil gas nuclear
    solar wind grid network internet software information communication technology systems solutions
    services service trading commerce development resources materials tools machine equipment instrument
    precision metal metals textile fashion sports game games entertainment film music publishing printing
    packaging security defense aerospace aviation marine river lake mountain spring summer autumn winter
    apple orange tesla meta capex compute server switch chip chips market stock stocks index fund funds
    weekly report note notes risk china shanxi best top edge module modules liquid cooling sector
    recommend growth value quality alpha beta delta omega prime core link one two three win
    sail bridge road way path gate hub center centre city world nation national people union""".split()
)
# All-capital glossary alternatives whose lower case is an English word keep their case (UPS, BAT).
_CASE_SENSITIVE = {"UPS", "BAT", "PE", "PB", "TP", "EV", "US", "IT", "GW", "CAT", "A-share", "A-shares"}


def userdict_path() -> Path:
    """The jieba user dictionary: stock names, broker names, finance and glossary words."""
    return DATA_DIR / "userdict.txt"


@dataclass(frozen=True)
class Stock:
    code: str
    name: str
    english: str = ""
    former: tuple[str, ...] = ()
    exchange: str = ""


@dataclass(frozen=True)
class Broker:
    name: str
    english: str
    aliases: tuple[str, ...]
    sac_prefix: str = ""


@dataclass(frozen=True)
class GlossaryEntry:
    english: tuple[str, ...]
    chinese: tuple[str, ...]
    category: str


def _read_tsv(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    return [dict(zip(header, ln.split("\t"), strict=False)) for ln in lines[1:]]


def _english_key(text: str) -> tuple[str, ...]:
    """English words as compared: lower case, possessive 's dropped."""
    words = []
    for tok in _ENGLISH_TOKEN.findall(text):
        tok = tok.lower()
        if tok.endswith("'s"):
            tok = tok[:-2]
        words.append(tok)
    return tuple(words)


# Words a broker's English name may start with that say nothing on their own.
_COMMON_NAME_WORDS = frozenset(
    "china great first new western eastern southern northern southwest northeast northwest southeast central "
    "capital pacific golden united international global national asia hong kong the of and corporation "
    "industrial founder fortune post wall shanghai dongguan merchants".split()
)


def _broker_short_key(english: str) -> tuple[str, ...] | None:
    """ "Zheshang Securities" -> ("zheshang",): the one distinctive word before "Securities"."""
    words = _english_key(english)
    while words and words[-1] in {"securities", "security", "international", "co", "ltd", "group"}:
        words = words[:-1]
    while len(words) > 1 and words[0] in _COMMON_NAME_WORDS:  # "China Galaxy" -> "Galaxy"
        words = words[1:]
    if len(words) == 1 and len(words[0]) >= 4 and words[0] not in _COMMON_NAME_WORDS:
        return words
    return None


def short_english_names(english: str) -> list[str]:
    """Names a company goes by in English text, from its registered name.

    "SHENZHEN ENVICOOL TECHNOLOGY CO., LTD." -> ["SHENZHEN ENVICOOL", "ENVICOOL"]
    """
    name = re.sub(r"\s+", " ", english).strip()
    while True:
        cut = _LEGAL_TAIL.sub("", name).strip(" ,.")
        if cut == name:
            break
        name = cut
    words = name.split()
    while len(words) > 1 and words[-1].lower().strip(",.") in _GENERIC_TAIL_WORDS:
        words.pop()
    out = []
    if words:
        out.append(" ".join(words))
    while words and words[0].lower().strip(",.()") in _PLACE_WORDS:
        words.pop(0)
    while words and words[-1].lower().strip(",.") in _GENERIC_TAIL_WORDS:
        words.pop()
    if words:
        out.append(" ".join(words))
    return list(dict.fromkeys(out))


def _usable_english_alias(alias: str) -> bool:
    key = _english_key(alias)
    if not key or all(w in _COMMON_ENGLISH or w in _PLACE_WORDS or w.isdigit() for w in key):
        return False
    return len("".join(key)) >= 3


class Lexicon:
    """Stocks, brokers and the glossary, with the matchers built on them. Use `Lexicon.load()`."""

    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        self.data_dir = data_dir
        self.stocks: list[Stock] = []
        self.stocks_by_name: dict[str, Stock] = {}
        self._by_code: dict[str, Stock] = {}
        self._load_stocks()
        self.ambiguous_names = self._load_ambiguous()
        self._max_name_len = max(len(k) for k in self.stocks_by_name)
        self._known_words = self._load_known_words()
        self._covers = self._index_covering_words(self.stocks_by_name)
        self.brokers: list[Broker] = []
        self._broker_zh: dict[str, str] = {}
        self._broker_en: dict[tuple[str, ...], str] = {}
        self._load_brokers()
        self._broker_covers = self._index_covering_words(set(self._broker_zh))
        self.glossary: list[GlossaryEntry] = self._load_glossary()
        self._index_glossary_english()
        self._glossary_zh = self._index_glossary_chinese()
        self._max_glossary_len = max(len(t) for t in self._glossary_zh)
        self._load_company_aliases()
        self._max_en_words = max(
            len(k) for k in [*self._company_en, *self._company_en_derived, *self._broker_en]
        )

    @classmethod
    def load(cls, data_dir: Path | None = None) -> Lexicon:
        """The lexicon for `data_dir` (default index/data), built once per process."""
        return _load_cached(str(data_dir or DATA_DIR))

    # --- loading -------------------------------------------------------------------------------

    def _load_stocks(self) -> None:
        for rec in _read_tsv(self.data_dir / "stocks.tsv"):
            former = tuple(f for f in rec.get("former", "").split("|") if f)
            stock = Stock(rec["code"], rec["name"], rec.get("english", ""), former, rec.get("exchange", ""))
            self.stocks.append(stock)
            self._by_code[stock.code] = stock
        # Current names first so a former name never shadows a company's present one.
        for stock in self.stocks:
            for key in (stock.name, fold(stock.name)):
                self.stocks_by_name.setdefault(key, stock)
        for stock in self.stocks:
            for name in stock.former:
                for key in (name, fold(name)):
                    self.stocks_by_name.setdefault(key, stock)

    def _load_ambiguous(self) -> frozenset[str]:
        path = self.data_dir / "ambiguous_names.txt"
        if not path.is_file():
            return frozenset()
        lines = path.read_text(encoding="utf-8").splitlines()
        return frozenset(ln.split("\t")[0] for ln in lines if ln and not ln.startswith("#"))

    def _load_known_words(self) -> frozenset[str]:
        """Finance, glossary and broker words of the user dictionary (not stock names)."""
        words = set()
        for line in userdict_path_for(self.data_dir).read_text(encoding="utf-8").splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[2] != "stock":
                words.add(parts[0])
        return frozenset(words)

    def _index_covering_words(self, names: Container[str]) -> dict[str, list[tuple[str, int]]]:
        """name -> [(longer known word containing it, offset of the name in that word)]."""
        covers: dict[str, list[tuple[str, int]]] = {}
        for word in self._known_words:
            if word in names:
                continue
            for i in range(len(word)):
                for j in range(i + 2, len(word) + 1):
                    if (i, j) != (0, len(word)) and word[i:j] in names:
                        covers.setdefault(word[i:j], []).append((word, i))
        return covers

    def _covered(self, covers: dict[str, list[tuple[str, int]]], folded: str, start: int, name: str) -> bool:
        for word, offset in covers.get(name, ()):
            ws = start - offset
            if ws >= 0 and folded.startswith(word, ws):
                return True
        return False

    def _load_brokers(self) -> None:
        for rec in _read_tsv(self.data_dir / "brokers.tsv"):
            aliases = tuple(a for a in rec["aliases"].split("|") if a)
            broker = Broker(rec["broker"], rec["english"], aliases, rec.get("sac_prefix", ""))
            self.brokers.append(broker)
            for alias in (broker.name, broker.english, *aliases):
                if re.search(r"[\u4e00-\u9fff]", alias):
                    self._broker_zh.setdefault(fold(alias), broker.name)
                elif key := _english_key(alias):
                    self._broker_en.setdefault(key, broker.name)
        # "Zheshang", "Orient", "Galaxy": a broker is called by its name without "Securities" as often
        # as with it; a remainder that is an everyday word (Western, Great Wall) stays ambiguous.
        for broker in self.brokers:
            short = _broker_short_key(broker.english)
            if short and short not in self._broker_en:
                self._broker_en[short] = broker.name
        self._max_broker_len = max(len(k) for k in self._broker_zh)

    def _load_glossary(self) -> list[GlossaryEntry]:
        out = []
        for rec in _read_tsv(self.data_dir / "glossary.tsv"):
            english = tuple(e.strip() for e in rec["english"].split("|") if e.strip())
            chinese = tuple(c.strip() for c in rec["chinese"].split(",") if c.strip())
            out.append(GlossaryEntry(english, chinese, rec["category"]))
        return out

    def _index_glossary_english(self) -> None:
        """Glossary phrases keyed by their words: lower case, or as written for _CASE_SENSITIVE ones."""
        self._glossary_en: dict[tuple[str, ...], GlossaryEntry] = {}
        self._glossary_en_cased: dict[tuple[str, ...], GlossaryEntry] = {}
        for entry in self.glossary:
            for phrase in entry.english:
                words = tuple(m.group() for m in _GLOSSARY_TOKEN.finditer(phrase))
                if phrase in _CASE_SENSITIVE:
                    self._glossary_en_cased.setdefault(words, entry)
                else:
                    self._glossary_en.setdefault(tuple(w.lower() for w in words), entry)
        self._max_glossary_words = max(len(k) for k in [*self._glossary_en, *self._glossary_en_cased])

    def _index_glossary_chinese(self) -> dict[str, list[GlossaryEntry]]:
        index: dict[str, list[GlossaryEntry]] = {}
        for entry in self.glossary:
            for term in entry.chinese:
                if re.search(r"[\u4e00-\u9fff]", term) and len(term) >= 2:
                    index.setdefault(fold(term), []).append(entry)
        return index

    def _load_company_aliases(self) -> None:
        """English names -> stocks: the curated table, and short forms of the registered names."""
        glossary_words = {w for e in self.glossary for p in e.english for w in _english_key(p)}
        derived: dict[tuple[str, ...], set[str]] = {}
        for stock in self.stocks:
            if not stock.english:
                continue
            for alias in short_english_names(stock.english):
                key = _english_key(alias)
                if _usable_english_alias(alias) and not (len(key) == 1 and key[0] in glossary_words):
                    derived.setdefault(key, set()).add(stock.code)
        # A derived alias shared by two companies names neither of them; a broker's name is the broker.
        self._company_en_derived = {
            k: self._by_code[next(iter(v))]
            for k, v in derived.items()
            if len(v) == 1 and k not in self._broker_en
        }
        self._company_en: dict[tuple[str, ...], Stock] = {}
        for rec in _read_tsv(self.data_dir / "company_aliases.tsv"):
            aliased = self.stocks_by_name.get(fold(rec["name"]))
            if aliased is not None:
                self._company_en[_english_key(rec["alias"])] = aliased

    # --- stocks ---------------------------------------------------------------------------------

    def stock_by_code(self, code: str) -> Stock | None:
        return self._by_code.get(code.strip()[:6])

    def find_stocks(self, text: str) -> list[tuple[str, int, int]]:
        """Stock names in `text` as (name as written, start, end), longest match first.

        Splits run-together lists ("樂鑫科技泰凌微廣和通中科創達"). A name inside a longer known word
        is skipped, and names that are everyday words (农产品, 机器人) count only in a run of other
        stock names or right before a stock code.
        """
        folded = fold(text)
        found: list[tuple[int, int, bool]] = []  # start, end, ambiguous
        i = 0
        while i < len(folded):
            match = self._longest_name_at(folded, i)
            if match is None:
                i += 1
                continue
            end = i + match
            name = folded[i:end]
            if not self._stands_alone(folded, i, end, name):
                i += 1
                continue
            found.append((i, end, name in self.ambiguous_names))
            i = end
        kept = self._accept_ambiguous(folded, found)
        return [(text[s:e], s, e) for s, e, _ in kept]

    def stocks_in(self, text: str) -> list[Stock]:
        """The companies `find_stocks` finds, each once, in order of first mention."""
        out: dict[str, Stock] = {}
        for _, start, end in self.find_stocks(text):
            stock = self.stocks_by_name[fold(text[start:end])]
            out.setdefault(stock.code, stock)
        return list(out.values())

    def _longest_name_at(self, folded: str, i: int) -> int | None:
        for length in range(min(self._max_name_len, len(folded) - i), 1, -1):
            if folded[i : i + length] in self.stocks_by_name:
                return length
        return None

    def _stands_alone(self, folded: str, start: int, end: int, name: str) -> bool:
        # ASCII names (TCL科技, *ST...) must not continue a longer ASCII word.
        if _ASCII_ALNUM.match(name[0]) and start > 0 and _ASCII_ALNUM.match(folded[start - 1]):
            return False
        if _ASCII_ALNUM.match(name[-1]) and end < len(folded) and _ASCII_ALNUM.match(folded[end]):
            return False
        if name in self._broker_zh and folded.startswith(_RESEARCH_HOUSE_AFTER, end):
            return False
        return not self._covered(self._covers, folded, start, name)

    @staticmethod
    def _accept_ambiguous(folded: str, found: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
        accepted = [not amb for _, _, amb in found]
        for k, (_, end, amb) in enumerate(found):
            if amb and _CODE_AFTER.match(folded, end):
                accepted[k] = True
        changed = True
        while changed:  # a run of names accepts its everyday-word members, in either direction
            changed = False
            for k in range(len(found)):
                if accepted[k]:
                    continue
                for n in (k - 1, k + 1):
                    if (
                        0 <= n < len(found)
                        and accepted[n]
                        and _adjacent(folded, found[min(k, n)], found[max(k, n)])
                    ):
                        accepted[k] = changed = True
                        break
        return [f for f, ok in zip(found, accepted, strict=True) if ok]

    # --- English companies ------------------------------------------------------------------------

    def link_companies(self, text: str) -> list[Stock]:
        """A-share companies named in English (ZTE, Innolight, Kweichow Moutai) or by code (000063)."""
        out: dict[str, Stock] = {}
        for stock, _, _ in self.company_spans(text):
            out.setdefault(stock.code, stock)
        return list(out.values())

    def company_spans(self, text: str) -> list[tuple[Stock, int, int]]:
        """Like `link_companies`, with where each name or code is in `text`, in order."""
        out: list[tuple[Stock, int, int]] = []
        tokens = [(m, key) for m in _ENGLISH_TOKEN.finditer(text) for key in _english_key(m.group())]
        i = 0
        while i < len(tokens):
            for n in range(min(self._max_en_words, len(tokens) - i), 0, -1):
                window = tokens[i : i + n]
                key = tuple(t[1] for t in window)
                if key in self._broker_en:  # "Ping An Securities" is the broker, not 中国平安
                    i += n
                    break
                stock = self._company_en.get(key)
                # Names derived from registered names must look like names (Camel, not camel).
                if stock is None and all(
                    t[0].group()[0].isupper() or t[0].group()[0].isdigit() for t in window
                ):
                    stock = self._company_en_derived.get(key)
                if stock is not None:
                    out.append((stock, window[0][0].start(), window[-1][0].end()))
                    i += n
                    break
            else:
                i += 1
        for m in _CODE.finditer(text):
            if stock := self._by_code.get(m.group(1)):
                out.append((stock, m.start(), m.end()))
        return sorted(out, key=lambda t: t[1])

    # --- brokers -------------------------------------------------------------------------------

    def canonical_broker(self, text: str) -> str | None:
        """The broker `text` names (山证, 山西證券, Shanxi, 【山證通信】, ...), as its canonical name."""
        if not text or not text.strip():
            return None
        key = fold(text.strip())
        if key in self._broker_zh:
            return self._broker_zh[key]
        if (en := _english_key(key)) in self._broker_en and not re.search(r"[\u4e00-\u9fff]", key):
            return self._broker_en[en]
        mentions = self.broker_mentions(text)
        return mentions[0] if mentions else None

    def broker_by_registration(self, code: str) -> str | None:
        """The broker an analyst's SAC registration code (S0760523050002) belongs to, where known."""
        m = re.search(r"[Ss]\d{4}", code)
        if not m:
            return None
        prefix = m.group().upper()
        return next((b.name for b in self.brokers if b.sac_prefix and b.sac_prefix == prefix), None)

    def broker_mentions(self, text: str) -> list[str]:
        """Canonical names of the brokers named in `text`, in order of first mention."""
        return list(dict.fromkeys(name for name, _, _ in self.broker_spans(text)))

    def broker_spans(self, text: str) -> list[tuple[str, int, int]]:
        """(canonical broker, start, end) for every broker alias in `text`, in order."""
        hits: list[tuple[str, int, int]] = []
        folded = fold(text)
        i = 0
        while i < len(folded):
            length = self._broker_alias_at(folded, i)
            if length:
                hits.append((self._broker_zh[folded[i : i + length]], i, i + length))
                i += length
            else:
                i += 1
        tokens = [(m, key) for m in _ENGLISH_TOKEN.finditer(text) for key in _english_key(m.group())]
        j = 0
        while j < len(tokens):
            for n in range(min(self._max_en_words, len(tokens) - j), 0, -1):
                key = tuple(t[1] for t in tokens[j : j + n])
                if key in self._broker_en and not self._longer_company_at(tokens, j, n):
                    hits.append((self._broker_en[key], tokens[j][0].start(), tokens[j + n - 1][0].end()))
                    j += n
                    break
            else:
                j += 1
        return sorted(hits, key=lambda h: h[1])

    def _longer_company_at(self, tokens: list[tuple[re.Match[str], str]], j: int, n: int) -> bool:
        """Everbright Bank is the bank, not the broker Everbright."""
        for m in range(min(self._max_en_words, len(tokens) - j), n, -1):
            key = tuple(t[1] for t in tokens[j : j + m])
            if key in self._company_en or key in self._company_en_derived:
                return True
        return False

    def _broker_alias_at(self, folded: str, i: int) -> int:
        for length in range(min(self._max_broker_len, len(folded) - i), 1, -1):
            alias = folded[i : i + length]
            if alias not in self._broker_zh:
                continue
            # 中泰 in 中泰化学, 华泰 in 华泰股份: a longer stock name at the same place wins.
            stock_len = self._longest_name_at(folded, i)
            if length <= 2 and stock_len and stock_len > length:
                return 0
            # 上海证券 in 上海证券报 (a newspaper), 中金 in 中金在线 (a website)
            if self._covered(self._broker_covers, folded, i, alias):
                return 0
            return length
        return 0

    # --- glossary ------------------------------------------------------------------------------

    def match_glossary(self, text: str) -> list[tuple[GlossaryEntry, int, int]]:
        """English glossary phrases in `text`, longest first, as (entry, start, end).

        Words are compared case-insensitively (UPS-like acronyms as written), hyphens count as
        spaces ("liquid-cooling"), and the last word may be plural ("optical modules").
        """
        tokens = list(_GLOSSARY_TOKEN.finditer(text))
        out: list[tuple[GlossaryEntry, int, int]] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._max_glossary_words, len(tokens) - i), 0, -1):
                window = tokens[i : i + n]
                if not _contiguous(text, window):
                    continue
                entry = self._glossary_lookup([t.group() for t in window])
                if entry is not None:
                    out.append((entry, window[0].start(), window[-1].end()))
                    i += n
                    break
            else:
                i += 1
        return out

    def _glossary_lookup(self, words: list[str]) -> GlossaryEntry | None:
        last = words[-1]
        if last.lower().endswith("'s"):
            last = last[:-2]
        for form in _singulars(last):
            key = (*words[:-1], form)
            entry = self._glossary_en_cased.get(key) or self._glossary_en.get(tuple(w.lower() for w in key))
            if entry is not None:
                return entry
        return None

    def expand_english(self, text: str) -> list[str]:
        """Chinese search terms for the English finance phrases in `text` (edge compute -> 边缘算力...)."""
        terms: dict[str, None] = {}
        for entry, _, _ in self.match_glossary(text):
            for term in entry.chinese:
                terms.setdefault(term)
        return list(terms)

    def glossary_chinese(self, text: str) -> list[tuple[GlossaryEntry, str]]:
        """Glossary entries whose Chinese terms occur in `text` (any script), longest term first:
        申万通信指数 is an index, not also the sector 通信."""
        folded = fold(text)
        out: list[tuple[GlossaryEntry, str]] = []
        i = 0
        while i < len(folded):
            for length in range(min(self._max_glossary_len, len(folded) - i), 1, -1):
                term = folded[i : i + length]
                if term in self._glossary_zh:
                    out.extend((e, term) for e in self._glossary_zh[term])
                    i += length
                    break
            else:
                i += 1
        return out


def userdict_path_for(data_dir: Path) -> Path:
    return data_dir / "userdict.txt"


def _adjacent(folded: str, left: tuple[int, int, bool], right: tuple[int, int, bool]) -> bool:
    gap = folded[left[1] : right[0]]
    return len(gap) <= 1 and bool(_LIST_GAP.fullmatch(gap))


def _singulars(word: str) -> list[str]:
    """The word and the singular forms it may be a plural of (modules, companies, switches)."""
    forms = [word]
    low = word.lower()
    if low.endswith("ies") and len(word) > 4:
        forms.append(word[:-3] + "y")
    if low.endswith("es") and len(word) > 3:
        forms.append(word[:-2])
    if low.endswith("s") and not low.endswith("ss") and len(word) > 2:
        forms.append(word[:-1])
    return forms


def _contiguous(text: str, window: list[re.Match[str]]) -> bool:
    """Words of one phrase: separated only by spaces or a hyphen (after U.S. also its dot)."""
    return all(
        re.fullmatch(r"\.?[\s\-]{1,3}", text[a.end() : b.start()])
        for a, b in zip(window, window[1:], strict=False)
    )


@functools.cache
def _load_cached(data_dir: str) -> Lexicon:
    return Lexicon(Path(data_dir))
