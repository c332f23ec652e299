"""Query understanding: what a question asks for, beyond its words.

`parse_query` reads the broker, the time range, whether the newest notes are wanted, the companies
and sectors named, and adds the Chinese search terms an English question needs. Everything it reads
is a preference that re-ranks (index/search.py); explicit --broker/--since/--until are applied by
the caller as filters. Words that are not the question — greetings, thanks, "please cite" —
are taken out first (`strip_courtesy`), so a question with them gets the answer it gets without.

Time ranges describe the period the question is about. A weekly covering 12/16-12/22 is published
a few days later, so a search should accept a report whose date *or* period overlaps the range.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from index.lexicon import Lexicon, Stock, fold
from index.text import fold_same_length

Date = dt.date


@dataclass
class QueryPlan:
    question: str  # the question without courtesy words (what is searched and answered)
    language: str  # "en" | "zh-Hans" | "zh-Hant"
    broker: str | None  # canonical simplified broker name
    since: str | None  # YYYY-MM-DD inclusive
    until: str | None  # YYYY-MM-DD inclusive
    prefer_latest: bool  # "latest", "recent", "this week", 最新, 最近, 本周 ...
    kind: str | None  # "weekly" when a weekly note is asked for
    terms: list[str] = field(default_factory=list)  # Chinese search terms added (simplified)
    companies: list[str] = field(default_factory=list)  # canonical stock names mentioned
    sectors: list[str] = field(default_factory=list)  # sector/theme words recognized (simplified)
    wants_list: bool = False  # asks which stocks/companies/标的
    # Set by a caller that applied explicit --since/--until: those are a hard filter, while dates
    # read from words are a preference. parse_query never sets it.
    strict_dates: bool = False
    asked: str = ""  # the question as asked, courtesy words included
    wants_figure: bool = False  # "多少", "how much": answered by a number
    wants_publish_date: bool = False  # "when was this note published": answered by the report's date
    wants_recommendation: bool = False  # "recommend", "推荐", "看好": answered by a recommendation
    wants_analysts: bool = False  # "who wrote it", "分析师是谁": answered by the note's analysts

    def search_text(self) -> str:
        """The question followed by the added terms: one string for a lexical retriever."""
        return " ".join([self.question, *self.terms])

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_query(question: str, today: Date, lexicon: Lexicon | None = None) -> QueryPlan:
    """Understand `question` as asked on `today` (see the module docstring for the time semantics)."""
    asked, question = question, strip_courtesy(question)
    lex = lexicon or Lexicon.load()
    folded = fold(question)
    language = detect_language(question)

    broker_spans = lex.broker_spans(question)
    broker = broker_spans[0][0] if broker_spans else None
    # 山西证券 is a listed company too; where it names the broker it is not a company asked about.
    stock_spans = [
        (lex.stocks_by_name[fold(name)], s, e)
        for name, s, e in lex.find_stocks(question)
        if not any(bs <= s and e <= be for _, bs, be in broker_spans)
    ]
    company_spans = lex.company_spans(question)

    companies: dict[str, Stock] = {}
    for stock, _, _ in [*stock_spans, *company_spans]:
        companies.setdefault(stock.code, stock)

    # Glossary words inside names are not topics: 证券 in 山西证券, bank in China Merchants Bank.
    masked = _mask(folded, [(s, e) for _, s, e in [*broker_spans, *stock_spans, *company_spans]])
    english_hits = [entry for entry, _, _ in lex.match_glossary(masked)]
    chinese_hits = lex.glossary_chinese(masked)

    terms: dict[str, None] = {}
    for entry in english_hits:
        for term in entry.chinese:
            terms.setdefault(term)
    for entry, _ in chinese_hits:  # synonyms: 推荐 also finds 建议关注, 月活 also MAU
        for term in entry.chinese:
            terms.setdefault(term)
    for stock in companies.values():
        for name in (stock.name, *stock.former):
            if re.fullmatch(r"[\u4e00-\u9fffA-Z]{3,}", name):
                terms.setdefault(name)
    added = [t for t in terms if fold(t) not in folded]

    sectors: dict[str, None] = {}
    for entry in english_hits:
        if entry.category in {"theme", "sector"}:
            sectors.setdefault(entry.chinese[0])
    for entry, term in chinese_hits:
        if entry.category in {"theme", "sector"}:
            sectors.setdefault(term)
    # Keep the most specific: 边缘算力 makes 算力 redundant.
    sector_list = [s for s in sectors if not any(s != o and s in o for o in sectors)]

    since, until, latest = parse_dates(question, today)
    return QueryPlan(
        question=question,
        language=language,
        broker=broker,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
        prefer_latest=latest,
        kind="weekly" if _WEEKLY.search(folded) else None,
        terms=added,
        companies=[s.name for s in companies.values()],
        sectors=sector_list,
        # "标的重合度是多少" asks for a figure, not a list of stocks; "哪些标的涨幅超过20%" asks for both
        wants_list=wants_list(folded) and not (_QUANTITY.search(folded) and not _WHICH.search(folded)),
        asked=asked,
        wants_figure=bool(_QUANTITY.search(folded)),
        wants_publish_date=bool(_PUBLISH_DATE.search(folded)),
        wants_recommendation=bool(_RECOMMEND_WORDS.search(folded)),
        wants_analysts=bool(_ANALYSTS.search(folded)),
    )


# --- words that are not the question ---------------------------------------------------------------

# Courtesy, greetings and requests to cite: said around a question, never part of what it asks.
_COURTESY = re.compile(
    r"(?:请|麻烦|烦请)?(?:帮我|帮忙)?(?:引用|附上?|给出|注明|标明|提供)(?:一下)?(?:原文|出处|来源|引用|引文)(?:并?(?:说明|注明)?出处)?"
    r"|(?:并|请)?(?:注明|给出|标明)出处"
    r"|(?:非常|十分)?(?:谢谢|多谢|感谢|谢了|谢啦)(?:你|您|大家)?(?:啦|了|哈|哦)?"
    r"|麻烦(?:你|您)?(?:了|啦|问一下|问下|帮忙看下|看下)?|辛苦(?:了|啦)?|劳驾"
    r"|(?:你好|您好|哈喽|嗨)(?:呀|啊)?"
    r"|请问(?:一下)?|请教(?:一下)?|想问(?:一下|下)?|问一下|问下"
    r"|\b(?:please|pls|plz|kindly)\s+(?:cite|quote|include|give|add|show)\s+(?:the\s+|your\s+|a\s+)?"
    r"(?:original\s+)?(?:sources?|citations?|text|quotes?|references?|passages?)\b"
    r"|\b(?:with|and)\s+(?:the\s+)?(?:sources?|citations?|references?)\b"
    r"|\b(?:many\s+)?thanks(?:\s+(?:a\s+lot|in\s+advance))?\b|\bthank\s+you(?:\s+(?:so|very)\s+much)?\b|\bthx\b|\bcheers\b"
    r"|^\s*(?:hi|hello|hey|dear\s+\w+)\b|\b(?:please|pls|plz|kindly)\b"
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF]",
    re.IGNORECASE,
)
_LEFTOVER = re.compile(r"^[\s,，、。.!！:：;；~～]+|[\s,，、:：;；~～]+$")


def strip_courtesy(question: str) -> str:
    """`question` without greetings, thanks and requests to cite ("谢谢", "麻烦了", "请引用原文",
    "please cite the source"), which would otherwise count as words the answer must contain."""
    # matched on the simplified fold (麻煩了, 謝謝, 請引用原文 too), cut from the question as written
    folded = fold_same_length(question)
    stripped, end = "", 0
    for match in _COURTESY.finditer(folded):
        stripped += question[end : match.start()] + " "
        end = match.end()
    stripped += question[end:]
    stripped = re.sub(r"\s*([，,。.!！?？])(?:\s*[，,。.!！])+", r"\1", stripped)
    stripped = re.sub(r"([?？])[\s.。!！]+$", r"\1", _LEFTOVER.sub("", stripped))
    stripped = re.sub(r"\s{2,}", " ", stripped).strip()
    # a question made only of courtesy ("谢谢!") stays as it was: there is nothing else to answer
    return stripped if re.search(r"[\w\u4e00-\u9fff]", stripped) else question.strip()


# --- what kind of answer ----------------------------------------------------------------------------

_RECOMMEND_WORDS = re.compile(
    r"推荐|推薦|建议关注|建議關注|重点关注|看好|首选|增配|超配|\brecommend\w*|\bpicks?\b|\bfavou?r(?:s|ed|ite)?\b|\boverweight\b",
    re.I,
)
_WHICH = re.compile(r"哪些|哪几|哪家|列出|列举|\bwhich\b|\blist\b|\bname\b", re.I)
_QUANTITY = re.compile(
    r"多少|几[个家倍成年月天颗只部]?|幾|收于|收在|how (?:much|many|far|high|low)|"
    # "what price", "what target price", "what 2026E P/E": a measure named right after "what"
    r"\bwhat (?:[\w'-]+ ){0,2}?(?:level|price|percentage|share|p/e|p/b|pe|pb|eps|multiple)s?\b|"
    r"\bwhere (?:did|does|do|will|is|was)\b.{0,60}\b(?:close|end|finish|stand|trade|settle)|"
    r"\bwhat (?:is|was|are|were|will be) (?:the |its |their )?(?:[\w'-]+ ){0,4}?(?:rate|ratio|share|level|size|"
    r"value|amount|price|percentage|yield|growth|margin|multiple|target|forecast|penetration)s?\b",
    re.I,
)
_PUBLISH_DATE = re.compile(
    r"(?:哪天|哪一天|何时|什么时候|几号|幾號|日期).{0,4}(?:发布|發布|发表|發表|出的)|发布(?:日期|时间)|發布(?:日期|時間)|"
    r"when was .{0,60}(?:published|released|issued|out)|publish(?:ed)? date|release date|date of (?:the )?(?:note|report)",
    re.I,
)

_ANALYSTS = re.compile(
    r"(?:分析师|研究员|作者|执笔人?)(?:团队)?(?:都|分别)?(?:是谁|有谁|是哪|哪位|哪几位|叫什么|姓名|名字)|"
    r"谁(?:写|撰写|执笔)|哪位分析师|哪些分析师|"
    r"\bwho\b[^?]{0,20}\b(?:wrote|writes|authored|written|analysts?|authors?)\b|"
    r"\b(?:which|name the|names? of the)\s+(?:analysts?|authors?)\b|\b(?:analysts?|authors?)\s+(?:of|on|behind)\b",
    re.I,
)


# --- language -------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
_SIMPLIFIED_FOLDED_BY_OPENCC = set("昇乾")


def detect_language(text: str) -> str:
    """Return "en", "zh-Hant" when any character is traditional-only, else "zh-Hans"."""
    cjk = _CJK.findall(text)
    words = _ENGLISH_WORD.findall(text)
    if not cjk or (len(words) >= 3 and 2 * len(words) >= len(cjk)):
        return "en"
    folded = fold(text)
    traditional = sum(
        1
        for a, b in zip(text, folded, strict=True)
        if a != b and _CJK.match(a) and a not in _SIMPLIFIED_FOLDED_BY_OPENCC
    )
    return "zh-Hant" if traditional else "zh-Hans"


_WEEKLY = re.compile(r"weekly|week in review|周报|周跟踪|周观点|周度|周评|周刊|周点评|每周", re.I)
_LIST_EN = re.compile(
    r"\b(?:which|what|list|name)\b[^?.!]{0,50}?\b(?:stocks?|compan(?:y|ies)|names|tickers?|equities|shares|"
    r"picks?|beneficiar(?:y|ies)|targets|plays)\b|\b(?:top|stock) picks?\b|\brecommend\w*\b|\bwho (?:benefits|gains)\b",
    re.I,
)
_LIST_ZH = re.compile(
    r"(?:哪些|哪几|哪家|什么|有何|名单|列出|列举)[^?？。]{0,8}?(?:股票|公司|个股|标的|企业|厂商|龙头|受益)|"
    r"(?:股票|公司|个股|标的|企业|厂商|龙头)[^?？。]{0,6}?(?:哪些|哪几|有谁|名单)|推荐|建议关注|重点关注|标的|"
    r"的(?:个股|股票|公司)[?？]?\s*$"
)


def wants_list(folded: str) -> bool:
    """Whether the question asks which stocks or companies (a recommendation or ranking list)."""
    return bool(_LIST_EN.search(folded) or _LIST_ZH.search(folded))


# --- dates ----------------------------------------------------------------------------------------

_MONTH_NAMES = "jan january|feb february|mar march|apr april|may|jun june|jul july|aug august|sep sept september|oct october|nov november|dec december"
_MONTHS = {name: n for n, names in enumerate(_MONTH_NAMES.split("|"), start=1) for name in names.split()}
_MONTH = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_ZH_NUM = {ch: n for n, ch in enumerate("一二三四五六七八九十", start=1)} | {"两": 2, "十一": 11, "十二": 12}
_N = r"(?P<n>\d{1,2}|[一二两三四五六七八九十]{1,2})"

# Words that make a year or month describe a figure rather than when a note was written:
# "2025年资本开支", "capex in 2025", "Doubao's MAU in November".
_METRIC_ZH = re.compile(
    r"^(?:的)?(?:全年|上半年|下半年|前三季度|[一二三四]季度|Q[1-4]|H[12]|底|末|初|中|资本开支|收入|营收|利润|净利|业绩|"
    r"增速|增长|目标|预测|预计|预期|出货|销量|需求|capex|规模|月活|日活|mau|用户|gdp|cpi|经济|有望|将|或|会)",
    re.I,
)
_METRIC_EN = re.compile(
    r"\b(?:capex|spending|spend|revenue|revenues|sales|profit|profits|earnings|growth|target|forecast|forecasts|expect|"
    r"expected|expects|plan|plans|planned|demand|shipments?|budget|capacity|investment|mau|users|actives?|guidance|"
    r"estimate|estimates|outlook|gdp|cpi|output|orders?|volume|price|yield)\b[^.?!]{0,25}$",
    re.I,
)
# A whole year dates the notes only when the question is about notes or calls ("Which stocks did
# Shanxi recommend in 2024?"), not about a figure ("How much did southbound funds buy in 2024?").
_ABOUT_NOTES = re.compile(
    r"\b(?:reports?|notes?|research|weekl(?:y|ies)|publish\w*|wr[io]te|written|recommend\w*|picks?|said|say|says|"
    r"view|views|calls?|ratings?|coverage|upgrade\w*|downgrade\w*)\b|研报|报告|周报|周跟踪|推荐|建议关注|观点|发布|点评|评级|看好|覆盖",
    re.I,
)
_REPORT_WORDS_ZH = (
    r"(?:份)?(?:的)?(?:研报|报告|周报|周跟踪|点评|策略|笔记|发布|写的|以来|以后|之后|至今|之前|以前)"
)


@dataclass
class _Span:
    start: int
    end: int
    since: Date
    until: Date
    grain: str  # "day" | "week" | "month" | "year"


def parse_dates(question: str, today: Date) -> tuple[Date | None, Date | None, bool]:
    """(since, until, prefer_latest) from the time words of `question`, relative to `today`."""
    text = fold(question)
    low = text.lower()
    latest = bool(
        re.search(
            r"\b(?:latest|newest|most recent|recent(?:ly)?|this week'?s?|current week|new(?:est)? (?:note|report|weekly))\b",
            low,
        )
        or re.search(r"最新|最近|近期|近日|本周|这周|这一周|本星期|这个星期", text)
    )
    spans = _find_spans(text, low, today)
    if not spans:
        return None, None, latest
    spans.sort(key=lambda s: s.start)

    # A range: "from Dec 16 to Dec 20", "between 2024-12-01 and 2024-12-31", "12月16日至12月20日".
    for a, b in zip(spans, spans[1:], strict=False):
        gap = low[a.end : b.start]
        if re.fullmatch(r"\s*(?:to|through|thru|until|till|and|-|–|—|~|至|到|～)\s*", gap):
            return a.since, b.until, latest

    span = spans[0]
    before = low[max(0, span.start - 14) : span.start]
    after = text[span.end : span.end + 4]
    # "from X" alone means written in X ("notes from December"); "from X to Y" was handled above.
    if re.search(r"\b(?:since|after|starting)\s*(?:the\s+)?(?:week of\s+)?$", before) or re.match(
        r"(?:以来|起|至今|开始)", after
    ):
        since = span.since + dt.timedelta(days=1) if re.search(r"\bafter\s*$", before) else span.since
        return since, None, latest
    if re.match(r"(?:以后|之后)", after):
        return span.until + dt.timedelta(days=1), None, latest
    if re.search(r"\b(?:before|prior to)\s*$", before) or re.match(r"(?:之前|以前)", after):
        return None, span.since - dt.timedelta(days=1), latest
    if re.search(r"\b(?:until|till|through|by)\s*$", before):
        return None, span.until, latest
    return span.since, span.until, latest


def _find_spans(text: str, low: str, today: Date) -> list[_Span]:
    spans: list[_Span] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, since: Date | None, until: Date | None, grain: str) -> None:
        if since is None or until is None or any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        spans.append(_Span(start, end, since, until, grain))

    def day(y: int, m: int, d: int) -> Date | None:
        try:
            return Date(y, m, d)
        except ValueError:
            return None

    # "week of Dec 16", "the week of 2024-12-16", "12月16日那周"
    for m in re.finditer(r"\bweek of\s+", low):
        rest = sorted(_find_spans(text[m.end() :], low[m.end() :], today), key=lambda s: s.start)
        if rest and rest[0].start == 0:
            d = rest[0].since
            monday = d - dt.timedelta(days=d.weekday())
            add(m.start(), m.end() + rest[0].end, monday, monday + dt.timedelta(days=6), "week")

    # full dates: 2024-12-16, 2024/12/16, 2024.12.16, 20241216, 2024年12月16日
    for m in re.finditer(r"(?<!\d)(20\d{2})(?:[-/.]|年)(\d{1,2})(?:[-/.]|月)(\d{1,2})(?:日|号)?(?!\d)", text):
        found = day(int(m[1]), int(m[2]), int(m[3]))
        add(m.start(), m.end(), found, found, "day")
    for m in re.finditer(r"(?<!\d)(20\d{2})(\d{2})(\d{2})(?!\d)", text):
        found = day(int(m[1]), int(m[2]), int(m[3]))
        add(m.start(), m.end(), found, found, "day")
    # English day ranges: "Jan 26-30, 2026", "Aug 25–29"
    for m in re.finditer(
        _MONTH + r"\s+(?P<d>\d{1,2})\s*[-–~]\s*(?P<e>\d{1,2})\b(?:,?\s*(?P<y>20\d{2}))?", low
    ):
        mon = _MONTHS[m["mon"]]
        year = (
            int(m["y"])
            if m["y"]
            else (today.year if (mon, int(m["d"])) <= (today.month, today.day) else today.year - 1)
        )
        add(m.start(), m.end(), day(year, mon, int(m["d"])), day(year, mon, int(m["e"])), "week")
    # English day dates: "Dec 16", "December 16th, 2024", "16 Dec 2024"
    for m in re.finditer(_MONTH + r"\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?\b(?:,?\s*(?P<y>20\d{2}))?", low):
        _add_day(add, m, today, int(m["d"]), _MONTHS[m["mon"]], m["y"])
    for m in re.finditer(
        r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"(?:,?\s*(?P<y>20\d{2}))?\b", low
    ):
        _add_day(add, m, today, int(m["d"]), _MONTHS[m["mon"]], m["y"])
    # 12月16日 (year: the most recent such day not after today)
    for m in re.finditer(r"(?<![\d年])" + _N + r"月(?P<d>\d{1,2})(?:日|号)", text):
        _add_day(add, m, today, int(m["d"]), _zh_num(m["n"]), None)

    # months: 2024年12月, 2024-12, December 2024, Dec 2024
    for m in re.finditer(r"(?<!\d)(20\d{2})年" + _N + r"月(?!\d|日|号)", text):
        if not _METRIC_ZH.match(text[m.end() :]):
            add(m.start(), m.end(), *_month_range(int(m[1]), _zh_num(m["n"])), "month")
    for m in re.finditer(r"(?<![\d.])(20\d{2})[-/](\d{1,2})(?![\d/-])", text):
        if 1 <= int(m[2]) <= 12:
            add(m.start(), m.end(), *_month_range(int(m[1]), int(m[2])), "month")
    for m in re.finditer(r"\b" + _MONTH + r",?\s+(?P<y>20\d{2})\b", low):
        add(m.start(), m.end(), *_month_range(int(m["y"]), _MONTHS[m["mon"]]), "month")
    # bare months only when they clearly date the notes: "12月的周报", "12月以来", "in December"
    for m in re.finditer(r"(?<![\d年])" + _N + r"月(?=" + _REPORT_WORDS_ZH + ")", text):
        mon = _zh_num(m["n"])
        if 1 <= mon <= 12:
            add(m.start(), m.end(), *_month_range(*_recent_month(today, mon)), "month")
    for m in re.finditer(
        r"\b(?:in|during|since|from|until|before|after|of)\s+(?:early\s+|late\s+|mid-?)?"
        + _MONTH
        + r"(?![\w-])",
        low,
    ):
        if m["mon"] == "may" and not text[m.start("mon")].isupper():
            continue
        if _METRIC_EN.search(low[max(0, m.start() - 40) : m.start()]):
            continue
        start = m.start("mon")
        add(start, m.end(), *_month_range(*_recent_month(today, _MONTHS[m["mon"]])), "month")

    # relative ranges
    monday = today - dt.timedelta(days=today.weekday())
    for m in re.finditer(r"\blast week\b|\bprevious week\b|\bpast week\b|上周|上一周|上个星期|上星期", low):
        last_monday = monday - dt.timedelta(days=7)
        add(m.start(), m.end(), last_monday, last_monday + dt.timedelta(days=6), "week")
    for m in re.finditer(r"\bthis month\b|本月|这个月|当月", low):
        add(m.start(), m.end(), *_month_range(today.year, today.month), "month")
    for m in re.finditer(r"\blast month\b|\bprevious month\b|上月|上个月", low):
        prev = today.replace(day=1) - dt.timedelta(days=1)
        add(m.start(), m.end(), *_month_range(prev.year, prev.month), "month")
    about_notes = bool(_ABOUT_NOTES.search(low))
    for m in re.finditer(r"\bthis year\b|今年|本年", low):
        if (
            about_notes
            and not _METRIC_ZH.match(text[m.end() :])
            and not _METRIC_EN.search(low[max(0, m.start() - 40) : m.start()])
        ):
            add(m.start(), m.end(), Date(today.year, 1, 1), Date(today.year, 12, 31), "year")
    for m in re.finditer(r"\blast year\b|去年", low):
        if (
            about_notes
            and not _METRIC_ZH.match(text[m.end() :])
            and not _METRIC_EN.search(low[max(0, m.start() - 40) : m.start()])
        ):
            add(m.start(), m.end(), Date(today.year - 1, 1, 1), Date(today.year - 1, 12, 31), "year")
    for m in re.finditer(
        r"\b(?:past|last)\s+(\d{1,3}|two|three|four|five|six|seven)\s+(day|week|month)s?\b", low
    ):
        n = int(m[1]) if m[1].isdigit() else ["two", "three", "four", "five", "six", "seven"].index(m[1]) + 2
        add(m.start(), m.end(), today - _ago(n, m[2]), today, "day")
    for m in re.finditer(
        r"(?:最近|近|过去)" + r"(\d{1,3}|[一二两三四五六七八九十]{1,2})" + r"(?:个)?(天|日|周|星期|月)", text
    ):
        n = int(m[1]) if m[1].isdigit() else _zh_num(m[1])
        unit = {"天": "day", "日": "day", "周": "week", "星期": "week", "月": "month"}[m[2]]
        add(m.start(), m.end(), today - _ago(n, unit), today, "day")
    for m in re.finditer(r"\byesterday\b|昨天|昨日", low):
        y = today - dt.timedelta(days=1)
        add(m.start(), m.end(), y, y, "day")
    for m in re.finditer(r"\btoday\b|今天|今日", low):
        add(m.start(), m.end(), today, today, "day")

    # years: "2024年的周报", "in 2024" (a year that dates a figure — 2025年资本开支 — is not a filter)
    for m in re.finditer(r"(?<![\d-])(20\d{2})年(?![\d一二两三四五六七八九十]+月)", text):
        if (
            about_notes
            and int(m[1]) <= today.year
            and not _METRIC_ZH.match(text[m.end() :])
            and not text[m.end() :].startswith("-")
        ):
            add(m.start(), m.end(), Date(int(m[1]), 1, 1), Date(int(m[1]), 12, 31), "year")
    for m in re.finditer(
        r"\b(?:in|during|from|since|throughout|until|before|after)\s+(20\d{2})\b(?![-/.]?\d|\s*[qh]\d)", low
    ):
        if (
            about_notes
            and int(m[1]) <= today.year
            and not _METRIC_EN.search(low[max(0, m.start() - 40) : m.start()])
        ):
            add(m.start(1), m.end(1), Date(int(m[1]), 1, 1), Date(int(m[1]), 12, 31), "year")

    # "12月16日那周", "Dec 16 week": widen a day to its Monday..Sunday
    for span in spans:
        if span.grain == "day" and re.match(
            r"(?:那周|当周|这周|那一周|所在周|这一周|一周)|\s*week\b", low[span.end : span.end + 6]
        ):
            span.since = span.since - dt.timedelta(days=span.since.weekday())
            span.until = span.since + dt.timedelta(days=6)
            span.grain = "week"
    return spans


def _add_day(add: Any, m: re.Match[str], today: Date, d: int, mon: int, year: str | None) -> None:
    if not 1 <= mon <= 12:
        return
    if year:
        y = int(year)
    else:
        # the most recent such day not after today
        y = today.year if (mon, d) <= (today.month, today.day) else today.year - 1
    try:
        date = Date(y, mon, d)
    except ValueError:
        return
    add(m.start(), m.end(), date, date, "day")


def _zh_num(token: str) -> int:
    return int(token) if token.isdigit() else _ZH_NUM.get(token, 0)


def _month_range(year: int, month: int) -> tuple[Date | None, Date | None]:
    if not 1 <= month <= 12:
        return None, None
    return Date(year, month, 1), Date(year, month, calendar.monthrange(year, month)[1])


def _recent_month(today: Date, month: int) -> tuple[int, int]:
    return (today.year if month <= today.month else today.year - 1), month


def _ago(n: int, unit: str) -> dt.timedelta:
    return dt.timedelta(days=n * {"day": 1, "week": 7, "month": 30}[unit])


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, min(end, len(chars))):
            chars[i] = " "
    return "".join(chars)
