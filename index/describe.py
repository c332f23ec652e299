"""Describe a report from its own text: title, broker, publish date, covered period, analysts, kind,
stocks. A field the text does not support stays None: nothing is guessed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from index.clean import CleanedReport, is_chrome_line, starts_disclaimer
from index.lexicon import Lexicon
from index.normalize import search_form
from index.readers import ReportHints

_DATE_CN = re.compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATE_ISO = re.compile(r"(20\d{2})[-/.](\d{1,2})[-/.](\d{1,2})")
_PUBLISH_LINE = re.compile(r"(报告)?(发布|发表|出具)(日期|时间)[:：]\s*(.*)")
_REPRINT_LINE = re.compile(r"^(20\d{2}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)\s+\d{1,2}:\d{2}")
_PERIOD = re.compile(
    r"(20\d{2})[.\-/]?(\d{2})[.\-/]?(\d{2})\s*[-—–~至到]\s*(20\d{2})[.\-/]?(\d{2})[.\-/]?(\d{2})"
)
_NAME = r"[\u4e00-\u9fff·]{2,4}(?![\u4e00-\u9fff·])"  # a Chinese name, not the start of a longer word
_ANALYST = re.compile(rf"(?:证券)?分析师[:：]\s*({_NAME}(?:[、,，\s]+{_NAME})*)")
_REGISTRATION = re.compile(r"\b(S\d{4})\d{8,9}\b", re.IGNORECASE)  # SAC codes: S + 12 or 13 digits
_SOURCE_LINE = re.compile(r"来源[:：]\s*([^)）\s]*)")
_TITLE_PREFIX = re.compile(r"^【([^】]{2,12})】")
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
        "买入",
        "增持",
        "目标价",
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
) -> Description:
    """`blocks` are all the lines read from the file (chrome and metadata lines included, which is
    where the source, analysts and dates live); `cleaned` is the report's own content."""
    lines = [b.text.strip() for b in blocks if b.text.strip()]
    title = _title(lines, cleaned, title_hint)
    meta_forms = [search_form(line) for line in lines]
    desc = Description(title=title)
    desc.broker = _broker(title, lines, meta_forms, lexicon)
    desc.date = _publish_date(meta_forms)
    desc.period = _period(title)
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
    if title_hint:
        hint = _SITE_SUFFIX.sub("", _OFFICE_PREFIX.sub("", title_hint.strip()))
        if len(hint) >= 6 and not _PLACEHOLDER_TITLE.match(hint):
            return hint
    # Web reprints put the title right above the reprint timestamp ("2024年12月29日 20:41 东方财富").
    for before, line in zip(lines, lines[1:], strict=False):
        if _REPRINT_LINE.match(search_form(line)) and not is_chrome_line(before) and 6 <= len(before) <= 200:
            return before
    for para in cleaned.paragraphs:
        if len(para.text) >= 6:
            return para.text[:200]
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
    # 2. an explicit source line: (來源:山西證券研究所)
    for form in forms:
        for source in _SOURCE_LINE.findall(form):
            broker = lexicon.canonical_broker(source)
            if broker:
                return broker
    # 3. analysts' SAC registration codes: S0760… is 山西证券
    for line in lines:
        for prefix in _REGISTRATION.findall(line):
            broker = lexicon.broker_by_registration(prefix.upper())
            if broker:
                return broker
    # 4. sign-offs and chart sources naming the broker's research institute: "資料來源:wind,山西證券研究所"
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
    return None


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


def _publish_date(forms: list[str]) -> str | None:
    """The report's own publish date (报告发布日期) beats the reprint's timestamp."""
    publish = reprint = None
    for form in forms:
        match = _PUBLISH_LINE.search(form)
        if match:
            found = _first_date(match.group(4))
            if found and match.group(1):  # "报告发布日期": the report's own date
                return found
            publish = publish or found
        match = _REPRINT_LINE.match(form)
        if match and reprint is None:
            reprint = _first_date(match.group(1))
    return publish or reprint


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
    if re.match(r"^[^(（]{2,10}[(（]\d{6}(\.[a-z]{2})?[)）]", text):  # "英维克(002837)：…" is a company note
        return "company"
    for kind in ("weekly", "company", "strategy", "industry"):
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
