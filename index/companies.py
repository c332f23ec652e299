"""Every company a text names, by any name yanbao knows for it.

A company is named by its A-share short name or a former one (`Lexicon.find_stocks`), its English
name or a stock code (`Lexicon.company_spans`), a Chinese short form (茅台, 中兴: company_short_names.tsv)
or, for companies listed in Hong Kong or the US, any of their names and tickers (腾讯控股, Tencent,
0700.HK, NVDA: listed_abroad.tsv). Each mention carries one key per company, whatever the alias:
"600519" for 贵州茅台, Kweichow Moutai, Moutai and 茅台 alike; an A+H company (中兴通讯, ZTE, 0763.HK)
has its A-share code. Answer verification compares these keys, so an answer cannot name a company in
a form the cited paragraph does not use and slip past the check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from index.lexicon import Lexicon, _read_tsv, fold

_CJK = re.compile(r"[\u3400-\u9fff]")
# Tickers shorter than this only count with an exchange suffix ("MU" is a word, "NVDA" is not).
_MIN_BARE_TICKER = 3
_HK_CODE = re.compile(r"(?<![0-9A-Za-z.])0{0,2}(\d{1,4})(?:\.HK|\s?HK\b)(?![A-Za-z])", re.IGNORECASE)


@dataclass(frozen=True)
class Mention:
    key: str  # the company: an A-share code ("600519"), else "HK:0700", "US:NVDA"…
    name: str  # its canonical name (the A-share short name, or the listing's Chinese name)
    surface: str  # as written in the text
    start: int
    end: int


@dataclass(frozen=True)
class _Company:
    key: str
    name: str


class CompanyNames:
    """The alias tables beyond the lexicon's own, with one matcher per kind of alias."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        chinese: dict[str, _Company] = {}
        english: dict[str, _Company] = {}  # lower-case alias -> company (matched case-insensitively)
        english_cased: dict[str, _Company] = {}  # one-word names: matched with their capital letter
        tickers: dict[str, _Company] = {}
        self._hk: dict[str, _Company] = {}
        for rec in _read_tsv(lexicon.data_dir / "company_short_names.tsv"):
            stock = lexicon.stocks_by_name.get(fold(rec["name"]))
            if stock is not None:
                chinese.setdefault(fold(rec["alias"]), _Company(stock.code, stock.name))
        for rec in _read_tsv(lexicon.data_dir / "listed_abroad.tsv"):
            a_share = lexicon.stock_by_code(rec["a_share"]) if rec.get("a_share") else None
            company = _Company(a_share.code, a_share.name) if a_share else _Company(rec["key"], rec["name"])
            names = [rec["name"], *_split(rec.get("aliases", ""))]
            for name in names:
                if _CJK.search(name):
                    chinese.setdefault(fold(name), company)
                else:
                    _add_english(name, company, english, english_cased)
            for name in _split(rec.get("english", "")):
                _add_english(name, company, english, english_cased)
            for ticker in _split(rec.get("tickers", "")):
                if ticker.upper().endswith(".HK"):
                    self._hk[ticker.split(".")[0].lstrip("0")] = company
                elif "." in ticker or len(ticker) >= _MIN_BARE_TICKER:
                    tickers.setdefault(ticker, company)
        self._chinese = chinese
        self._chinese_re = _alternation(chinese)
        self._english = english
        self._english_re = _alternation(english, flags=re.IGNORECASE, word=True)
        self._english_cased = english_cased
        self._english_cased_re = _alternation(english_cased, word=True)
        self._tickers = tickers
        self._tickers_re = _alternation(tickers, word=True)

    def mentions(self, text: str) -> list[Mention]:
        """Company mentions in `text`, in order; where two aliases overlap the longer one wins,
        and the lexicon's own matches (full names, English names, codes) come first."""
        lex = self.lexicon
        found: list[Mention] = []
        for surface, start, end in lex.find_stocks(text):
            stock = lex.stocks_by_name[fold(surface)]
            found.append(Mention(stock.code, stock.name, surface, start, end))
        for stock, start, end in lex.company_spans(text):
            found.append(Mention(stock.code, stock.name, text[start:end], start, end))
        taken = [(m.start, m.end) for m in found]

        def add(company: _Company, start: int, end: int) -> None:
            if any(start < e and s < end for s, e in taken):
                return
            taken.append((start, end))
            found.append(Mention(company.key, company.name, text[start:end], start, end))

        folded = fold(text)
        if self._chinese_re is not None:
            for m in self._chinese_re.finditer(folded):
                add(self._chinese[m.group()], m.start(), m.end())
        if self._english_re is not None:
            for m in self._english_re.finditer(text):
                add(self._english[_english_form(m.group())], m.start(), m.end())
        if self._english_cased_re is not None:
            for m in self._english_cased_re.finditer(text):
                add(self._english_cased[m.group()], m.start(), m.end())
        if self._tickers_re is not None:
            for m in self._tickers_re.finditer(text):
                add(self._tickers[m.group()], m.start(), m.end())
        for m in _HK_CODE.finditer(text):
            if company := self._hk.get(m.group(1).lstrip("0")):
                add(company, m.start(), m.end())
        return sorted(found, key=lambda m: (m.start, -m.end))

    def keys(self, text: str) -> set[str]:
        """The companies `text` names, as keys."""
        return {m.key for m in self.mentions(text)}


@cache
def _names_for(data_dir: str) -> CompanyNames:
    return CompanyNames(Lexicon.load(Path(data_dir)))


def company_names(lexicon: Lexicon) -> CompanyNames:
    """The matcher for `lexicon`'s data folder, built once per process."""
    if lexicon is Lexicon.load(lexicon.data_dir):
        return _names_for(str(lexicon.data_dir))
    return CompanyNames(lexicon)


def _split(field: str) -> list[str]:
    return [part.strip() for part in field.split("|") if part.strip()]


def _english_form(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def _add_english(
    name: str, company: _Company, english: dict[str, _Company], cased: dict[str, _Company]
) -> None:
    # A one-word name that is also an English word (Apple, Meta, Oracle) names the company only
    # when capitalised as a name; longer names and acronyms match in any case.
    if " " not in name and not name.isupper() and not any(ch.isdigit() for ch in name):
        cased.setdefault(name, company)
    else:
        english.setdefault(_english_form(name), company)


def _alternation(names: dict[str, _Company], *, flags: int = 0, word: bool = False) -> re.Pattern[str] | None:
    if not names:
        return None
    # longest first, so a regex alternation takes the longest alias at each position
    parts = [re.escape(n).replace(r"\ ", r"\s+") for n in sorted(names, key=len, reverse=True)]
    body = "|".join(parts)
    if word:
        body = rf"(?<![0-9A-Za-z])(?:{body})(?![0-9A-Za-z])"
    return re.compile(body, flags)
