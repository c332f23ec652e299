"""What a question is about, as concepts with alternative Chinese forms, and how much of it a
passage covers. The relevance gate and sentence picking of the extractive answerer stand on this."""

from __future__ import annotations

import re
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import date

from index.lexicon import Lexicon
from index.normalize import Tokenizer, search_form
from index.query import (
    QueryPlan,
    _find_spans,  # the parser's own time-word spans, so both agree on them
)
from index.text import fold_same_length
from index.translate import Expansion

# Words that ask *how* (which, recommend, stocks) rather than *what about*: they never decide relevance.
GENERIC_ZH = frozenset(
    "推荐 建议 建议关注 重点关注 关注 标的 股票 个股 公司 哪些 哪个 什么 多少 如何 怎么 怎样 观点 看法 报告 研报 周报 "
    "周跟踪 最新 最近 本周 上周 本月 受益 受益标的 投资建议 说 认为 提到 提及 介绍 总结 一下 请问 情况 多 少 是否 有没有 "
    "推荐标的 哪家 券商 分析师 今年 去年 月 年 周 日 吗 呢 吧 啊 达到 预计 预期 会 将 是 有 为 了 的 中 里 在 "
    "哪 几 多少钱 什么样 预测 估计 大约 约 周观点 板块 行业 领域 方向 机会 怎么看 看法 一期 一篇 这份 这篇 该 发布 "
    "策略 判断 对 哪天 哪一天 何时 什么时候 几号 时间 日期 出的 多长时间 多久 多长 多大 怎么样".split()
)
GENERIC_EN = frozenset(
    "which what who whom how much many does do did is are was were be been stock stocks share shares company "
    "companies name names pick picks list say says said think view views note notes report reports broker brokers "
    "latest recent week weekly month year according tell me please give show summary summarize key main point "
    "points for about on in the a an of to and or by with from its their this that these those there any some "
    "top best good should could would will can their his her our your my i we you they it as at into than then "
    "so if up down recommend recommends recommended recommendation recommendations rate rated rating call "
    "calls mention mentions mentioned expect expects expected see sees believe project projected estimate "
    "estimates estimated forecast forecasts when published release released issued date".split()
)
# English words never looked up in the dictionary (index/translate.py): they ask how, not about what.
NOT_EXPANDED = GENERIC_EN | frozenset(
    "also all any anything around besides both each else ever every few get gets got give given like likes "
    "make makes made more most much other others per same something such than that's then there these they "
    "very via what's where while who's whose why yet more less least new old own same figure figures number "
    "numbers data level levels value values amount total big large small high low how's according "
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday friday week's "
    "quarter quarters half first second third fourth last next previous current chinese china's english "
    "mn bn rmb yuan usd us percent pct bp bps x e securities security research institute team teams analyst "
    "analysts author authors wrote write written morning update strategist desk "
    # prepositions: a dictionary reads them as function words (among: 其中)
    "among amongst between within without across along during since until into onto upon over under "
    "above below behind beyond toward towards through throughout against".split()
)
# An expansion (a dictionary's reading of an English word the glossary lacks) counts less than a
# glossary phrase or a word of the question: it may be a sense the question did not mean.
EXPANSION_WEIGHT = 0.75
MISSING_EXPANSION = 0.5  # share of its weight an expansion a passage lacks counts against it
# Glossary words that only say "which stocks" or "went up": true of any recommendation or market line.
GENERIC_FORMS = GENERIC_ZH | frozenset(
    "建议关注 推荐 重点关注 看好 受益 受益标的 标的 个股 板块 主题 主题行情 细分板块 环节 涨 跌 周报 周跟踪 研报 "
    "报告发布日期 发布日期 发布时间".split()
)
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9.+\-]*")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
_MONTH_WORD = re.compile(r"(?<![\d年.])(?:1[0-2]|[1-9])月(?![\d日号份])")
PARTIAL_CREDIT = 0.5
# jieba part-of-speech tags of words that never say what a question is about: pronoun, time word,
# numeral, locative, particle, preposition, conjunction, adverb, modal, interjection, onomatopoeia,
# measure word.
_FUNCTION_TAGS = frozenset("r rr rz rg t tg m mq f u uj ul uv uz ud ug p c d dg y e o q".split())
# An English word no note contains (no glossary entry, not in the index) cannot match a Chinese
# paragraph: it counts against coverage only a little ("capture", "according").
UNKNOWN_ENGLISH = 0.1
# A Chinese word no note contains weighs most (its absence is usually why a question goes
# unanswered), but not so much that one odd word outweighs two that a passage holds.
UNKNOWN_CHINESE = 1.5
_YEAR = re.compile(r"20\d{2}")
_YEAR_RANGE = re.compile(r"(20\d{2})\s*[-–—~至到]\s*(20\d{2}|\d{2})(?=\s*年|e|\b)")


def _year_ranges(form: str) -> list[tuple[str, str]]:
    out = []
    for match in _YEAR_RANGE.finditer(form):
        start, end = match.group(1), match.group(2)
        end = start[:2] + end if len(end) == 2 else end
        if start < end:
            out.append((start, end))
    return out


_CN_DIGIT = {"1": "一", "2": "二", "3": "三", "4": "四"}
_EN_ORDINAL = {"first": "1", "second": "2", "third": "3", "fourth": "4"}
_EN_MONTHS = {
    name: n
    for n, names in enumerate(
        "january|february|march|april|may|june|july|august|september sept|october|november|december".split(
            "|"
        ),
        start=1,
    )
    for name in names.split()
}
# Any period of a grain, as notes write them (a month-day date is a dateline, not a month asked about)
_ANY_PERIOD = {
    "year": re.compile(r"(?<!\d)20\d{2}(?!\d)|(?<![\d.])\d{2}[ea]\b"),
    "month": re.compile(
        r"(?<![\d.])(?:1[0-2]|[1-9])月(?![\d日号份])(?!\d{1,2}[日号])|\b(?:january|february|march|april|june|july|august|september|october|november|december)\b"
    ),
    "quarter": re.compile(
        r"[一二三四1-4]季度|[一二三四]季报|\bq[1-4]\b|(?<![\d.])[1-4]q\b|\b(?:first|second|third|fourth)[\s-]quarter"
    ),
    "half": re.compile(r"[上下]半年|\b[h][12]\b|(?<![\d.])[12]h\b|\b(?:first|second) half"),
}
_YEAR_ASKED = re.compile(r"(?<![\d.-])(?:fy)?(20\d{2})(?:年|e\b|a\b|(?=q[1-4])|(?![\d/.-]))")
_QUARTER_ASKED = re.compile(
    r"(?<!前)第?([一二三四1-4])季度|(?<![a-z])q([1-4])\b|(?<![\d.])([1-4])q\b|\b(first|second|third|fourth)[\s-]quarter"
)
_HALF_ASKED = re.compile(r"([上下])半年|\bh([12])\b|\b(first|second) half")
_EN_MONTH_ASKED = re.compile(r"\b(" + "|".join(_EN_MONTHS) + r")\b")


def _year_concept(year: str) -> Concept:
    pattern = re.compile(rf"(?<!\d){year}(?!\d)|(?<![\d.]){year[2:]}[ea]\b|(?<![\d.]){year[2:]}年")
    return Concept(year, (year,), period="year", pattern=pattern)


def _quarter_concept(n: str) -> Concept:
    cn = _CN_DIGIT[n]
    pattern = re.compile(rf"(?<!前)第?[{cn}{n}]季度|{cn}季报|\bq{n}\b|(?<![\d.]){n}q\b")
    return Concept(f"q{n}", (f"{cn}季度", f"q{n}"), period="quarter", pattern=pattern)


def _half_concept(first: bool) -> Concept:
    zh, n = ("上半年", "1") if first else ("下半年", "2")
    pattern = re.compile(rf"{zh}|\bh{n}\b|(?<![\d.]){n}h\b")
    return Concept(zh, (zh,), period="half", pattern=pattern)


def _month_concept(n: int) -> Concept:
    pattern = re.compile(rf"(?<![\d.]){n}月(?!\d{{1,2}}[日号])")
    return Concept(f"{n}月", (f"{n}月",), period="month", pattern=pattern)


def period_concepts(text: str, original: str | None = None) -> tuple[list[Concept], str]:
    """The periods `text` (a folded question, dates already blanked) names as its subject, and the
    text with them blanked: years (2028, 2026E, FY2027), quarters (二季度, Q2), halves (上半年, H1)
    and months (8月, January). `original` is the question as written (same length), for case."""
    original = original if original is not None and len(original) == len(text) else text
    found: list[Concept] = []
    spans: list[tuple[int, int]] = []
    for match in _YEAR_ASKED.finditer(text):
        if re.search(r"\b[a-z]{2,6}\s*$", text[max(0, match.start() - 8) : match.start()]) and re.search(
            r"\b[A-Z]{2,6}\s*$", original[max(0, match.start() - 8) : match.start()]
        ):
            continue  # "GTC 2025", "CES 2026": an event's name, not a period asked about
        found.append(_year_concept(match.group(1)))
        spans.append(match.span())
    for match in _QUARTER_ASKED.finditer(text):
        n = next(g for g in match.groups() if g)
        n = _EN_ORDINAL.get(n, n)
        n = {v: k for k, v in _CN_DIGIT.items()}.get(n, n)
        found.append(_quarter_concept(n))
        spans.append(match.span())
    for match in _HALF_ASKED.finditer(text):
        word = next(g for g in match.groups() if g)
        found.append(_half_concept(word in ("上", "1", "first")))
        spans.append(match.span())
    for match in _MONTH_WORD.finditer(text):
        found.append(_month_concept(int(match.group(0)[:-1])))
        spans.append(match.span())
    for match in _EN_MONTH_ASKED.finditer(text):
        if match.group(1) == "may":
            continue  # the verb far more often than the month
        found.append(_month_concept(_EN_MONTHS[match.group(1)]))
        spans.append(match.span())
    for start, end in spans:
        text = text[:start] + " " * (end - start) + text[end:]
    unique: dict[str, Concept] = {}
    for concept in found:
        unique.setdefault(concept.label, concept)
    return list(unique.values()), text


@dataclass
class Concept:
    label: str
    forms: tuple[str, ...]  # search forms (simplified, lower-case); any one present counts
    generic: bool = False
    entity: bool = False  # a company the question names (listed or not): a figure must be its own
    metric: bool = False  # what is measured (国产化率, 市场规模, capex): a figure should sit next to it
    # An English word with no glossary entry, found in no note, can never match a Chinese paragraph:
    # it still counts against coverage, but half as much as a concept the notes could contain.
    weight: float = 1.0
    required: bool = False  # companies the question names
    expansion: bool = False  # Chinese forms read from English words by the dictionary (translate.py)
    # Weaker evidence of the concept, worth PARTIAL_CREDIT: every part of one of these groups present
    # ("字节链" asked, 字节 written; "bytedance chain" asked, 字节跳动 written).
    parts: tuple[tuple[str, ...], ...] = ()
    # A period the question names as its subject (2028, 8月, Q2, 上半年): "year" | "month" |
    # "quarter" | "half". A passage that names another period of that grain and not this one
    # speaks of another time: it does not answer (`conflicts`).
    period: str | None = None
    pattern: re.Pattern[str] | None = None  # matches the period in any of its written forms

    def present_in(self, form: str) -> bool:
        if self.pattern is not None:  # a period: "1月" is not in "11月"
            if self.pattern.search(form):
                return True
        elif any(f and f in form for f in self.forms):
            return True
        # a year asked about is in a range the passage gives: "2024-2026年营业收入分别为…" holds 2025
        if _YEAR.fullmatch(self.label):
            return any(a <= self.label <= b for a, b in _year_ranges(form))
        return False

    def conflicts(self, form: str) -> bool:
        """Whether `form` names a period of this concept's grain, but not this one."""
        if self.period is None or self.present_in(form):
            return False
        return bool(_ANY_PERIOD[self.period].search(form))

    def credit(self, form: str) -> float:
        """1 when the passage holds the concept, PARTIAL_CREDIT when it holds all parts of it."""
        if self.present_in(form):
            return 1.0
        if any(group and all(p in form for p in group) for group in self.parts):
            return PARTIAL_CREDIT
        return 0.0


def question_concepts(
    question: str,
    plan: QueryPlan,
    lexicon: Lexicon,
    tokenizer: Tokenizer,
    vocabulary: Container[str] | None = None,
    today: date | None = None,
    idf: Callable[[str], float | None] | None = None,
    expand: Callable[[str], list[Expansion]] | None = None,
) -> list[Concept]:
    """The question's concepts: glossary phrases (English or Chinese, with their alternatives),
    companies (required), and the remaining words. Broker names and time words are filters, not
    topics, and are left out. `vocabulary`/`idf` come from the lexical index searched; `expand`
    reads English words nothing else took as Chinese forms the index holds (index/translate.py)."""
    form = search_form(question)
    concepts: list[Concept] = []
    spans: list[tuple[int, int]] = [(s, e) for _, s, e in lexicon.broker_spans(form)]
    for entry, s, e in lexicon.match_glossary(form):
        spans.append((s, e))
        forms = tuple(dict.fromkeys(search_form(t) for t in entry.chinese))
        parts = _phrase_parts(form[s:e], lexicon, tokenizer, forms)
        generic = all(f in GENERIC_FORMS for f in forms)
        entity, metric = entry.category == "company", _is_metric(entry.category, forms)
        concepts.append(Concept(form[s:e], forms, generic, entity=entity, metric=metric, parts=parts))
    # A company the question names must be in the passage: CATL's target price is not 英维克's.
    # English names are matched as written ("Huace", "Zhejiang Rongtai": a name looks like one in
    # Camel case), at the same positions as in the folded form
    cased = fold_same_length(question)
    for stock, s, e in lexicon.company_spans(cased if len(cased) == len(form) else form):
        spans.append((s, e))
        concepts.append(
            Concept(
                stock.name,
                tuple(search_form(n) for n in (stock.name, *stock.former)),
                required=True,
                entity=True,
            )
        )
    for name, s, e in lexicon.find_stocks(form):
        if _overlaps(s, e, spans):  # 山西证券 the broker, not 山西证券 the listed company
            continue
        spans.append((s, e))
        listed = lexicon.stocks_by_name.get(name)
        names = (listed.name, *listed.former) if listed else (name,)
        concepts.append(Concept(name, tuple(search_form(n) for n in names), required=True, entity=True))
    for entry, term in lexicon.glossary_chinese(form):
        term_form = search_form(term)
        for match in re.finditer(re.escape(term_form), form):
            if _overlaps(match.start(), match.end(), spans):
                continue
            spans.append(match.span())
            forms = tuple(dict.fromkeys((term_form, *(search_form(t) for t in entry.chinese))))
            generic = all(f in GENERIC_FORMS for f in forms)
            entity, metric = entry.category == "company", _is_metric(entry.category, forms)
            parts = _word_parts(forms, tokenizer)
            concepts.append(Concept(term_form, forms, generic, entity=entity, metric=metric, parts=parts))
    # Time words are filters (handled by the query plan), not topics: "2024年12月", "week of Dec 16".
    masked, subjects = _mask_dates(form, today, plan)
    for label in subjects:  # "怎么看1月行情": a time that is what the question is about
        if month := _MONTH_WORD.fullmatch(label):
            concepts.append(_month_concept(int(month.group(0)[:-1])))
            continue
        concepts.append(Concept(label, (label,)))
    rest = _blank(masked, spans)
    # periods named as the subject ("1月行情", "2028年EPS", "二季度指引", "January CPI"): jieba
    # would cut a month into a digit and 月, and a year alone says nothing to it
    periods, rest = period_concepts(rest, cased if len(cased) == len(rest) else None)
    concepts.extend(periods)
    for found in expand(rest) if expand is not None else []:
        rest = rest[: found.start] + " " * (found.end - found.start) + rest[found.end :]
        forms = tuple(dict.fromkeys((*found.forms, found.english)))
        concepts.append(
            Concept(found.english, forms, parts=_word_parts(found.forms, tokenizer), expansion=True)
        )
    for word, tag in _rejoin_single_characters(tokenizer.tagged_words(rest), vocabulary):
        if any(word in c.forms for c in concepts) or re.fullmatch(r"[a-z]", word):  # the s of "CATL's"
            continue
        if re.fullmatch(r"[a-z][a-z0-9.+\-]*", word):
            generic = word in GENERIC_EN or lexicon.canonical_broker(word) is not None
            unknown = vocabulary is not None and word not in vocabulary
            concepts.append(Concept(word, (word,), generic, weight=UNKNOWN_ENGLISH if unknown else 1.0))
        elif len(word) >= 2:  # a lone digit or character says nothing ("@_user_1", "第1")
            # pronouns, time words, numerals, particles… ask how, not about what (这家, 现在, 多少)
            function_word = tag in _FUNCTION_TAGS and not word.isdigit()
            generic = function_word or word in GENERIC_ZH or lexicon.canonical_broker(word) is not None
            concepts.append(Concept(word, (word,), generic, parts=_word_parts((word,), tokenizer)))
    concepts = _merge(concepts)
    for concept in concepts:  # "周报", "weekly note": the kind of report is a filter, not a topic
        if all(f in GENERIC_FORMS for f in concept.forms):
            concept.generic = True
    if idf is not None:
        _weigh_by_rarity(concepts, idf, tokenizer)
    return concepts


def _is_metric(category: str, forms: tuple[str, ...]) -> bool:
    """What a figure measures (收入, 市盈率); a period the glossary files with them (上半年) is not."""
    return category == "metric" and not any(_ANY_PERIOD["half"].search(f) or "季度" in f for f in forms)


def _rejoin_single_characters(
    tagged: list[tuple[str, str]], vocabulary: Container[str] | None
) -> list[tuple[str, str]]:
    """Runs of single Chinese characters that jieba left apart ("涨幅居前" → 涨幅/居/前) joined again
    where the notes hold the joined word (居前): the index was cut with new-word guessing, the
    question without it."""
    if vocabulary is None:
        return tagged
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tagged):
        word, tag = tagged[i]
        if len(word) == 1 and _CJK_CHAR.match(word):
            for n in (3, 2):
                run = tagged[i : i + n]
                joined = "".join(w for w, _ in run)
                if (
                    len(run) == n
                    and all(len(w) == 1 and _CJK_CHAR.match(w) for w, _ in run)
                    and joined in vocabulary
                ):
                    out.append((joined, "x"))
                    i += n
                    break
            else:
                out.append((word, tag))
                i += 1
            continue
        out.append((word, tag))
        i += 1
    return out


def _word_parts(forms: tuple[str, ...], tokenizer: Tokenizer) -> tuple[tuple[str, ...], ...]:
    """The parts of Chinese words that jieba knows as words of their own: 首付款 → (首付, 付款)."""
    groups = []
    for form in forms:
        if not re.search(r"[\u4e00-\u9fff]", form) or len(form) < 3:
            continue
        parts = tuple(dict.fromkeys(t for t in tokenizer.tokens(form) if len(t) >= 2 and t != form))
        if parts:
            groups.append(parts)
    return tuple(groups)


def _phrase_parts(
    phrase: str, lexicon: Lexicon, tokenizer: Tokenizer, forms: tuple[str, ...]
) -> tuple[tuple[str, ...], ...]:
    """For a glossary phrase of several English words, the glossary entries of its words
    ("bytedance chain" → 字节跳动 | 字节), and the parts of its Chinese forms."""
    groups: list[tuple[str, ...]] = []
    words = phrase.split()
    if len(words) > 1:
        for word in words:
            for entry, _, _ in lexicon.match_glossary(word):
                groups.extend((search_form(t),) for t in entry.chinese if search_form(t) not in forms)
    groups.extend(_word_parts(forms, tokenizer))
    return tuple(dict.fromkeys(groups))


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    for s, e in spans:
        text = text[:s] + " " * (e - s) + text[e:]
    return text


def _weigh_by_rarity(
    concepts: list[Concept], idf: Callable[[str], float | None], tokenizer: Tokenizer
) -> None:
    """Rare words decide relevance more than common ones (涨幅领先 over 通信 in a telecom weekly).
    A Chinese concept no note contains weighs most: its absence is why a question goes unanswered."""
    values: list[float | None] = []
    for concept in concepts:
        found = [
            v
            for form in concept.forms
            for v in [idf(form), *map(idf, tokenizer.tokens(form))]
            if v is not None
        ]
        values.append(max(found) if found else None)
    known = sorted(v for v in values if v is not None)
    if not known:
        return
    median = known[len(known) // 2]
    for concept, value in zip(concepts, values, strict=True):
        if value is None and (concept.period is not None or concept.expansion):
            # a period no note names (2028) is asked as much as a word; an expansion is held by
            # some paragraph, inside a word jieba cut otherwise (巧手 in 灵巧手)
            concept.weight = 1.0
        elif value is None:
            concept.weight = (
                UNKNOWN_CHINESE if re.search(r"[\u4e00-\u9fff]", concept.label) else UNKNOWN_ENGLISH
            )
        else:
            concept.weight = min(2.0, max(0.5, value / median))
        if concept.expansion:
            concept.weight *= EXPANSION_WEIGHT


def _mask_dates(form: str, today: date | None, plan: QueryPlan) -> tuple[str, list[str]]:
    """Time words blanked out, and those the plan did not take as the notes' time ("12月30日发布的
    报告怎么看1月行情": 12月30日 dates the note, 1月 is the subject) returned as topics."""
    spans = _find_spans(form, form.lower(), today or date.today())
    subjects = []
    for span in sorted(spans, key=lambda sp: sp.start, reverse=True):
        used = span.since.isoformat() in (plan.since, plan.until) or span.until.isoformat() in (
            plan.since,
            plan.until,
        )
        text = form[span.start : span.end].strip()
        if not used and plan.since is not None and re.search(r"[\u4e00-\u9fff]", text):
            subjects.append(text)
        form = form[: span.start] + " " * (span.end - span.start) + form[span.end :]
    return form, subjects


def _merge(concepts: list[Concept]) -> list[Concept]:
    out: list[Concept] = []
    for concept in concepts:
        if any(set(concept.forms) & set(other.forms) for other in out):
            continue
        out.append(concept)
    return out


def topical(concepts: list[Concept]) -> list[Concept]:
    return [c for c in concepts if not c.generic]


def coverage(concepts: list[Concept], form: str) -> float:
    """Weighted share of the question's topical concepts present in `form` (1.0 when it has none).
    A dictionary's reading of an English word (an expansion) the passage lacks counts half: the
    passage may say it another way than the dictionary ("average": 平均, written 均价), but it may
    also lack what was asked ("air conditioners": 空调), however well it holds the rest."""
    topics = topical(concepts)
    if not topics:
        return 1.0
    if any(c.required and not c.present_in(form) for c in topics):
        return 0.0
    held = total = 0.0
    for c in topics:
        credit = c.credit(form)
        weight = c.weight if credit or not c.expansion else c.weight * MISSING_EXPANSION
        held += weight * credit
        total += weight
    return held / total
