"""What a question is about, as concepts with alternative Chinese forms, and how much of it a
passage covers. The relevance gate and sentence picking of the extractive answerer stand on this."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.lexicon import Lexicon
from index.normalize import Tokenizer, search_form
from index.query import QueryPlan

# Words that ask *how* (which, recommend, stocks) rather than *what about*: they never decide relevance.
GENERIC_ZH = frozenset(
    "推荐 建议 建议关注 重点关注 关注 标的 股票 个股 公司 哪些 哪个 什么 多少 如何 怎么 怎样 观点 看法 报告 研报 周报 "
    "周跟踪 最新 最近 本周 上周 本月 受益 受益标的 投资建议 说 认为 提到 提及 介绍 总结 一下 请问 情况 多 少 是否 有没有 "
    "推荐标的 哪家 券商 分析师 今年 去年 月 年 周 日 吗 呢 吧 啊".split()
)
GENERIC_EN = frozenset(
    "which what who whom how much many does do did is are was were be been stock stocks share shares company "
    "companies name names pick picks list say says said think view views note notes report reports broker brokers "
    "latest recent week weekly month year according tell me please give show summary summarize key main point "
    "points for about on in the a an of to and or by with from its their this that these those there any some "
    "top best good should could would will can their his her our your my i we you they it as at into than then "
    "so if up down recommend recommends recommended recommendation recommendations rate rated rating call "
    "calls mention mentions mentioned".split()
)
GENERIC_CATEGORIES = frozenset({"action"})
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9.+\-]*")


@dataclass
class Concept:
    label: str
    forms: tuple[str, ...]  # search forms (simplified, lower-case); any one present counts
    generic: bool = False

    def present_in(self, form: str) -> bool:
        return any(f and f in form for f in self.forms)


def question_concepts(question: str, plan: QueryPlan, lexicon: Lexicon, tokenizer: Tokenizer) -> list[Concept]:
    concepts: list[Concept] = []
    covered_spans: list[tuple[int, int]] = []
    for entry, start, end in lexicon.match_glossary(question):
        covered_spans.append((start, end))
        forms = tuple(dict.fromkeys(search_form(t) for t in entry.chinese))
        concepts.append(Concept(question[start:end], forms, entry.category in GENERIC_CATEGORIES))
    for stock in lexicon.link_companies(question):
        concepts.append(Concept(stock.name, tuple(search_form(n) for n in (stock.name, *stock.former))))
    broker_forms = {search_form(b) for b in ([plan.broker] if plan.broker else [])}
    for name, start, end in lexicon.find_stocks(question):
        covered_spans.append((start, end))
        stock = lexicon.stocks_by_name.get(search_form(name))
        names = (stock.name, *stock.former) if stock else (name,)
        concepts.append(Concept(name, tuple(search_form(n) for n in names)))
    synonyms: dict[str, tuple[str, ...]] = {}
    for entry, term in lexicon.glossary_chinese(question):
        synonyms.setdefault(search_form(term), tuple(search_form(t) for t in entry.chinese))
    question_form = search_form(question)
    for word in tokenizer.words(question):
        if _inside_covered(question_form, word, covered_spans) or any(word in c.forms for c in concepts):
            continue
        if re.fullmatch(r"[a-z][a-z0-9.+\-]*", word):
            generic = word in GENERIC_EN or lexicon.canonical_broker(word) is not None
            concepts.append(Concept(word, (word,), generic))
            continue
        if len(word) < 2 and not word.isdigit():
            continue
        generic = word in GENERIC_ZH or word in broker_forms or lexicon.canonical_broker(word) is not None
        forms = synonyms.get(word, ()) or next((v for k, v in synonyms.items() if word in k or k in word), ())
        concepts.append(Concept(word, tuple(dict.fromkeys((word, *forms))), generic))
    return _merge(concepts)


def _inside_covered(question_form: str, word: str, spans: list[tuple[int, int]]) -> bool:
    start = question_form.find(word)
    return start >= 0 and any(s <= start and start + len(word) <= e for s, e in spans)


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
    """Share of the question's topical concepts present in `form` (1.0 when it has none)."""
    topics = topical(concepts)
    if not topics:
        return 1.0
    return sum(1 for c in topics if c.present_in(form)) / len(topics)
