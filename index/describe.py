"""Describe a report from its own text: title, broker, publish date, covered period, analysts, kind,
stocks. A field the text does not support stays None: nothing is guessed.

Real notes say who wrote them and when in many places, most reliable first:
- broker: a title prefix (【山證通信】), the broker named in the title (招商证券-…, 长江证券通信行业周跟踪),
  a line crediting the source (来源:…, 以下内容从XX证券《…》研报附件原文摘录, 本文来自…专栏:XX研究,
  XX证券发布研报称, a dateline XX证券·2026-01-08), the analysts' SAC code prefixes and e-mail domains
  (index/data/broker_codes.tsv), a research institute's sign-off, a broker named in the first lines;
- date: a 报告发布日期/发布日期/报告日期 line, a date in the title (…-20260108, -241230, 2025年2月6日,
  (2025-07-29)), a dateline or a date alone in the first lines, the reprint's timestamp, and last a
  date in the file name;
- title: a scraper's TITLE:/标题: line, the page title, the line above a reprint timestamp, the first
  line that is not a banner (证券研究报告) — with a company header (中际旭创 (300308 CH)) joined to the
  line under it.
Front matter (URL:, TITLE:, 标题:, 来源:, 发布时间:) is metadata: index/clean.py never indexes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

from index.clean import CleanedReport, is_chrome_line, is_meta_line, starts_disclaimer
from index.lexicon import DATA_DIR, Lexicon
from index.readers import ReportHints
from index.text import search_form

_DATE_CN = re.compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATE_ISO = re.compile(r"(20\d{2})[-/.](\d{1,2})[-/.](\d{1,2})")
_PUBLISH_LINE = re.compile(r"(报告)?(?:(?:发布|发表|出具)(?:日期|时间)|(日期))[:：]?\s*(.*)")
_REPRINT_LINE = re.compile(r"^(20\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)\s+\d{1,2}:\d{2}")
_PERIOD = re.compile(
    r"(20\d{2})[.\-/]?(\d{2})[.\-/]?(\d{2})\s*[-—–~至到]\s*(20\d{2})[.\-/]?(\d{2})[.\-/]?(\d{2})"
)
_NAME = r"[\u4e00-\u9fff·]{2,4}(?![\u4e00-\u9fff·])"  # a Chinese name, not the start of a longer word
_ANALYST = re.compile(rf"(?:证券)?分析师[:：]\s*({_NAME}(?:[、,，\s]+{_NAME})*)")
_REGISTRATION = re.compile(r"\b(S\d{4})\d{8,9}\b", re.IGNORECASE)  # SAC codes: S + 12 or 13 digits
_SOURCE_LINE = re.compile(r"来源[:：]\s*([^)）\s]*)")
_TITLE_PREFIX = re.compile(r"^【([^】]{2,12})】")
# Lines that credit where a note comes from: the broker's name follows or precedes these words.
_CREDIT_LINES = (
    re.compile(r"以下内容从([^《]{2,12})《"),  # 以下内容从德邦证券《…》研报附件原文摘录
    re.compile(r"本文(?:来自|转自|来源于?)[^:：]{0,16}[:：]\s*([\u4e00-\u9fff]{2,10})"),  # …专栏:东吴研究
    re.compile(
        r"([\u4e00-\u9fff]{2,8}(?:证券|研究所|研究院|研究))(?:发布|发表)(?:了)?(?:研报|报告|研究报告)"
    ),
    re.compile(r"^([\u4e00-\u9fff]{2,8})\s*[·•|｜]\s*20\d{2}[-/.年]\d{1,2}"),  # dateline 长江证券·2025-01-05
)
_FRONT_TITLE = re.compile(r"^(?:title|标题|題目|题目)\s*[:：]\s*(.+)$", re.I)
_EMAIL = re.compile(r"[\w.+-]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.I)
# Lines that only say what kind of document this is, never its title.
_BANNER = re.compile(
    r"^(证券研究报告|研究报告|公司研究|行业研究|公司报告|行业报告|行业周报|公司点评|策略研究|宏观研究|"
    r"晨会纪要|首次覆盖|深度报告|equity research|research report|company report|industry report|"
    r"本报告仅供.*|请务必阅读.*|ai摘要|摘要|核心观点|投资要点)\s*[|｜:：]?\s*$",
    re.I,
)
# "中际旭创 (300308 CH)", "英维克(002837.SZ)": a company note's header, joined to the line below it.
_COMPANY_HEADER = re.compile(
    r"^[\u4e00-\u9fffA-Za-z]{2,10}\s*[(（]\s*\d{6}(?:\s*(?:cH|CH|\.[A-Za-z]{2}))?\s*[)）]$"
)
_DATE_COMPACT = re.compile(r"(?<!\d)(20\d{2})(\d{2})(\d{2})(?!\d)")
_DATE_SHORT = re.compile(r"(?<![\d])[-_—](\d{2})(\d{2})(\d{2})$")  # title suffix "-241230"
FIRST_LINES = 8  # how far down a dateline or a bare date still dates the note
_ANY_DATE = r"20\d{2}\s*(?:年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|[-/.]\d{1,2}[-/.]\d{1,2})"
_BANNER_WORDS = r"(?:证券研究报告|研究报告|投资评级|评级|报告日期|发布日期)"
_BANNER_DATE = re.compile(
    rf"{_BANNER_WORDS}\s*[|｜:：#│]?\s*{_ANY_DATE}|{_ANY_DATE}\s*[|｜│]?\s*{_BANNER_WORDS}"
)
# Titles that tools write into file metadata, not the author: reportlab's "untitled", Word's file name.
_PLACEHOLDER_TITLE = re.compile(
    r"^(untitled|anonymous|无标题|無標題|document\d*|microsoft word.*|.*\.(docx?|pdf|txt))$", re.I
)
_OFFICE_PREFIX = re.compile(r"^microsoft (word|powerpoint|excel) - ", re.I)
_SITE_SUFFIX = re.compile(r"\s*[-_|｜]\s*[^-_|｜]{2,20}(网|财经|新闻|频道|首页)$")

_KIND_WORDS = {
    "weekly": ("周跟踪", "周报", "周观点", "周度", "每周", "周评", "weekly", "周专题", "周跟蹤"),
    "company": (
        "首次覆盖",
        "公司点评",
        "公司研究",
        "深度报告",
        "业绩点评",
        "年报点评",
        "季报点评",
    ),
    "strategy": ("策略", "宏观", "大势", "a股市场", "美国市场", "市场展望", "资产配置"),
    "industry": ("行业", "产业", "板块"),
}


@dataclass
class Description:
    title: str
    broker: str | None = None
    date: str | None = None
    period: str | None = None
    analysts: list[str] = field(default_factory=list)
    kind: str = "other"
    stocks: list[str] = field(default_factory=list)
    tickers: list[str] = field(default_factory=list)
    rating: str | None = None
    target_price: float | None = None
    ticker: str | None = None


def describe_report(
    blocks: list,
    cleaned: CleanedReport,
    lexicon: Lexicon,
    title_hint: str | None = None,
    hints: ReportHints | None = None,
    *,
    date_hint: str | None = None,
    file_name: str | None = None,
) -> Description:
    """`blocks` are all the lines read from the file (chrome and metadata lines included, which is
    where the source, analysts and dates live); `cleaned` is the report's own content; `hints` what
    the reader found outside the main text (a PDF's sidebar, banner, file name: they win); `date_hint`
    a date the file format carries (HTML meta); `file_name` the file's name (a last-resort date)."""
    lines = [b.text.strip() for b in blocks if b.text.strip()]
    title = _title(lines, cleaned, title_hint)
    meta_forms = [search_form(line) for line in lines]
    desc = Description(title=title)
    desc.broker = _broker(title, lines, meta_forms, lexicon)
    desc.period = _period(title)
    desc.date = _publish_date(meta_forms, search_form(title), date_hint, file_name)
    desc.analysts = _analysts(lines)
    content = "\n".join(p.text for p in cleaned.paragraphs)
    desc.stocks = _unique(canonical_stock_name(lexicon, name) for name, _, _ in lexicon.find_stocks(content))
    desc.tickers = _unique(
        code for code in re.findall(r"(?<!\d)(\d{6})(?!\d)", content) if lexicon.stock_by_code(code)
    )
    headings = " ".join(p.text for p in cleaned.paragraphs if p.kind == "heading")
    desc.kind = _kind(title, headings, desc.stocks)
    if hints is not None:
        prefer_reader_hints(desc, hints)
    return desc


# --- the reader's hints ----------------------------------------------------------------------


def prefer_reader_hints(desc: Description, hints: ReportHints) -> None:
    """What the reader found outside the main text (a PDF's sidebar, banner, disclaimer and file
    name) is read off the note's own metadata: it wins over cues found in the running text."""
    desc.broker = hints.broker or desc.broker
    desc.date = hints.date or desc.date
    if hints.analysts:
        desc.analysts = list(hints.analysts)
    desc.rating = hints.rating
    desc.target_price = hints.target_price
    desc.ticker = hints.ticker
    if hints.ticker and hints.ticker not in desc.tickers and re.fullmatch(r"\d{6}", hints.ticker):
        desc.tickers.insert(0, hints.ticker)
    if hints.ticker and desc.kind == "other":
        desc.kind = "company"  # a note that names the one stock it covers is about that company


def canonical_stock_name(lexicon: Lexicon, written: str) -> str:
    """The current simplified short name for a name as written (traditional or a former name)."""
    stock = lexicon.stocks_by_name.get(search_form(written))
    return stock.name if stock else search_form(written)


def _title(lines: list[str], cleaned: CleanedReport, title_hint: str | None) -> str:
    for line in lines[:FIRST_LINES]:  # a scraper's front matter: TITLE: …
        match = _FRONT_TITLE.match(line.strip())
        if match and len(match.group(1).strip()) >= 4:
            return match.group(1).strip()[:200]
    if title_hint:
        hint = _SITE_SUFFIX.sub("", _OFFICE_PREFIX.sub("", title_hint.strip()))
        if len(hint) >= 6 and not _PLACEHOLDER_TITLE.match(hint):
            return hint
    # Web reprints put the title right above the reprint timestamp ("2024年12月29日 20:41 东方财富").
    for before, line in zip(lines, lines[1:], strict=False):
        if _REPRINT_LINE.match(search_form(line)) and not is_chrome_line(before) and 6 <= len(before) <= 200:
            return before
    paragraphs = [p.text.strip() for p in cleaned.paragraphs]
    for i, text in enumerate(paragraphs):
        if len(text) < 6 and not _COMPANY_HEADER.match(text):
            continue
        if _BANNER.match(search_form(text)):
            continue
        if _COMPANY_HEADER.match(text) and i + 1 < len(paragraphs):
            return f"{text}：{paragraphs[i + 1]}"[:200]
        return text[:200]
    for line in lines:
        if not is_chrome_line(line) and not starts_disclaimer(line):
            return line[:200]
    return "(untitled)"


def _broker(title: str, lines: list[str], forms: list[str], lexicon: Lexicon) -> str | None:
    # 1. the title prefix of WeChat/Sina reprints: 【山證通信】 → 山證 → 山西证券
    match = _TITLE_PREFIX.match(title.strip())
    if match:
        broker = lexicon.canonical_broker(match.group(1))
        if broker:
            return broker
    # 2. the broker named in the title: 招商证券-半导体…, 长江证券通信行业周跟踪, 中泰证券：…
    named = lexicon.broker_mentions(title)
    if named:
        return named[0]
    # 3. a line crediting the source: (來源:山西證券研究所), 以下内容从德邦证券《…》, 本文来自…专栏:东吴研究
    for form in forms:
        for source in _SOURCE_LINE.findall(form):
            broker = _broker_named(source, lexicon)
            if broker:
                return broker
        for pattern in _CREDIT_LINES:
            for credited in pattern.findall(form):
                broker = _broker_named(credited, lexicon)
                if broker:
                    return broker
    # 4. analysts' SAC registration codes (S0760… is 山西证券) and e-mail domains, by majority
    votes: dict[str, int] = {}
    for line in lines:
        for prefix in _REGISTRATION.findall(line):
            broker = _codes().by_prefix.get(prefix.upper()) or lexicon.broker_by_registration(prefix.upper())
            if broker:
                votes[broker] = votes.get(broker, 0) + 1
        for domain in _EMAIL.findall(line):
            broker = _codes().by_domain.get(domain.lower())
            if broker:
                votes[broker] = votes.get(broker, 0) + 1
    if votes:
        return max(votes, key=lambda b: votes[b])
    # 5. sign-offs and chart sources naming the broker's research institute: "資料來源:wind,山西證券研究所"
    for form in forms:
        if "研究所" in form or "研究部" in form:
            for name in lexicon.broker_mentions(form):
                if f"{name}研究" in form or name + "研究" in form:
                    return name
            found = re.findall(r"([\u4e00-\u9fff]{2,6}证券)研究[所部]", form)
            for candidate in found:
                broker = lexicon.canonical_broker(candidate)
                if broker:
                    return broker
    # 6. a broker named in the first lines, where a note's banner says whose it is ("华泰研究 首次覆盖")
    for form in forms[:FIRST_LINES]:
        named = lexicon.broker_mentions(form)
        if len(named) == 1:
            return named[0]
    return None


def _broker_named(text: str, lexicon: Lexicon) -> str | None:
    """The broker a credit names: 山西证券研究所, 德邦证券, 东吴研究 (a house's research brand)."""
    broker = lexicon.canonical_broker(text)
    if broker:
        return broker
    stem = re.sub(r"(研究所|研究院|研究部|研究中心|研究|发展中心)$", "", text.strip())
    return lexicon.canonical_broker(stem) if len(stem) >= 2 and stem != text else None


@dataclass
class _Codes:
    by_prefix: dict[str, str]
    by_domain: dict[str, str]


@cache
def _codes(path: Path = DATA_DIR / "broker_codes.tsv") -> _Codes:
    """index/data/broker_codes.tsv: SAC code prefix and e-mail domain → broker."""
    by_prefix: dict[str, str] = {}
    by_domain: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith(("#", "broker\t")):
            continue
        broker, prefix, domains = (line.split("\t") + ["", ""])[:3]
        if prefix:
            by_prefix[prefix.upper()] = broker
        for domain in domains.split("|"):
            if domain:
                by_domain[domain.lower()] = broker
    return _Codes(by_prefix, by_domain)


def _to_iso(y: str, m: str, d: str) -> str | None:
    try:
        return date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def _first_date(text: str) -> str | None:
    for pattern in (_DATE_CN, _DATE_ISO):
        match = pattern.search(text)
        if match:
            return _to_iso(*match.groups())
    return None


def _publish_date(
    forms: list[str], title: str, date_hint: str | None = None, file_name: str | None = None
) -> str | None:
    """The report's own publish date (报告发布日期) beats a date in its title, which beats a dateline
    or a date standing in the first lines, the reprint's timestamp, the file format's date and, last,
    a date in the file name."""
    publish = reprint = None
    for form in forms:
        match = _PUBLISH_LINE.search(form)
        if match and (match.group(1) or match.start() == 0 or is_meta_line(form)):
            found = _first_date(match.group(3))
            if found and match.group(1):  # "报告发布日期", "报告日期": the report's own date
                return found
            publish = publish or found
        match = _REPRINT_LINE.match(form)
        if match and reprint is None:
            reprint = _first_date(match.group(1))
    titled = _title_date(title)
    banner = next((d for form in forms[:FIRST_LINES] if (d := _banner_date(form))), None)
    early = next((d for form in forms[:FIRST_LINES] if (d := _standing_date(form))), None)
    hinted = _first_date(search_form(date_hint)) if date_hint else None
    return publish or titled or banner or early or reprint or hinted or _file_date(file_name)


def _title_date(title: str) -> str | None:
    """A date the title gives: "…-20260108", "…-241230", "2025年2月6日", "(2025-07-29)"; a covered
    period "(20251020-20251026)" is not a publish date."""
    if _PERIOD.search(title):
        return None
    found = _first_date(title)
    if found:
        return found
    match = _DATE_COMPACT.search(title)
    if match:
        return _to_iso(*match.groups())
    match = _DATE_SHORT.search(title.strip())
    if match:
        return _to_iso("20" + match.group(1), match.group(2), match.group(3))
    return None


def _banner_date(form: str) -> str | None:
    """The date a first page's banner gives, even run together with the sidebar by a PDF
    extract: "证券研究报告2025年05月12日", "# 通信 2026年01月18日 投资评级:看好"."""
    match = _BANNER_DATE.search(form)
    if not match:
        return None
    return _first_date(match.group(0))


def _standing_date(form: str) -> str | None:
    """A date that dates the note from one of its first lines: a line that is (nearly) only a date,
    a dateline "长江证券·2025-01-05", "证券研究报告 | 2025年03月10日", "财富 2025-01-03 08:01 北京"."""
    found = _first_date(form)
    if not found:
        return None
    rest = _DATE_CN.sub("", _DATE_ISO.sub("", form))
    rest = re.sub(r"\d{1,2}:\d{2}(:\d{2})?|[\s·•|｜│/()（）\-—:：,，]", "", rest)
    return found if len(rest) <= 12 else None


def _file_date(file_name: str | None) -> str | None:
    """A date in the file's name ("…_20250423.txt"): how notes are often saved; the last resort."""
    if not file_name:
        return None
    match = _DATE_COMPACT.search(Path(file_name).stem)
    return _to_iso(*match.groups()) if match else None


def _period(title: str) -> str | None:
    match = _PERIOD.search(search_form(title))
    if not match:
        return None
    y1, m1, d1, y2, m2, d2 = match.groups()
    start, end = _to_iso(y1, m1, d1), _to_iso(y2, m2, d2)
    return f"{start}/{end}" if start and end and start <= end else None


def _analysts(lines: list[str]) -> list[str]:
    names: list[str] = []
    for line in lines:
        for match in _ANALYST.finditer(search_form(line)):
            start = match.start(1)
            # report the name as written (the search form only located it)
            written = line[start : start + len(match.group(1))]
            for name in re.split(r"[、,，\s]+", written):
                if 2 <= len(name) <= 4 and name not in names:
                    names.append(name)
    return names


def _kind(title: str, headings: str, stocks: list[str]) -> str:
    text = search_form(title)
    # "英维克(002837)：…", "中际旭创 (300308 CH)" is a company note
    if re.match(r"^[^(（]{2,10}\s*[(（]\s*\d{6}(\.[a-z]{2}|\s*ch)?\s*[)）]", text):
        return "company"
    # a rating or target price makes a company note only where the title is about a company: an
    # industry can be rated 增持 too
    if any(w in text for w in ("买入", "增持", "目标价")) and "行业" not in text and stocks:
        if any(search_form(s) in text for s in stocks):
            return "company"
    for kind in ("weekly", "company", "strategy", "industry"):
        if kind == "company" and "行业" in text:
            continue  # 行业深度报告 is an industry note
        if any(word in text for word in _KIND_WORDS[kind]):
            return kind
    heads = search_form(headings)
    if any(word in heads for word in _KIND_WORDS["strategy"]):
        return "strategy"
    if any(word in heads for word in _KIND_WORDS["industry"]):
        return "industry"
    return "other"


def _unique(items) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)
