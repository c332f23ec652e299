"""Which sentences of a retrieved paragraph support the question: the evidence an answer quotes.

A paragraph supports a question by the share of the question's concepts it holds (index/concepts.py),
its report title and section heading counting too (a company note says "公司" where the question
names 英维克; a digest names the company only in the item's heading). Within it, each sentence
(index/text.py) is scored by its own words first, the title and heading breaking ties, and — when
the question asks "how much" — by holding a figure. A sentence longer than a quote is shortened to
the run of clauses (then phrases) from the first to the last that holds a concept, extended to the
next figure when it has none, so a two-figure answer keeps both figures.
"""

from __future__ import annotations

import re

from index.concepts import Concept, coverage, topical
from index.lexicon import Lexicon
from index.query import QueryPlan
from index.records import Chunk, Evidence, Hit
from index.tables import header_periods, is_row
from index.text import SENTENCE_END, clauses, phrases, search_form, sentences

MAX_QUOTE = 160  # characters: longer sentences are shortened to the clauses that answer
MAX_EVIDENCE = 3  # sentences kept per hit
OWN_WEIGHT = 0.6  # a sentence's own words, against 0.5 for them with the title and heading
FIGURE_FIT_WEIGHT = 0.6  # "how much": the question's words in the phrase that holds the figure
FIGURE = re.compile(
    r"\d(?:\.\d+)?\s*(?:%|％|倍|个百分点|個百分點|bp|pct|[万萬亿億千百]|元|美元|港元|点|點|gb|tb|gw|mw|kw|gwh|只|部|颗|顆|台|辆|輛|家|个|個|nm|t\b)",
    re.I,
)
_DIGIT = re.compile(r"\d")
TIE_WEIGHT = 0.1
HEADING_PENALTY = 0.3  # a sentence that only repeats the title or heading, against the body's
LIST_WEIGHT = 0.4
PERIOD_WEIGHT = 0.1  # the sentence names the year/month/quarter asked about  # "which stocks": a sentence naming several stocks
# the sections where a note states its main claims
_SUMMARY_SECTION = re.compile(r"核心观点|核心结论|投资要点|主要观点|本周观点|报告导读|摘要|投资建议|结论")


def context_form(hit: Hit, before: Chunk | None = None) -> str:
    """What a paragraph is about beyond its own words: its report's title, its section heading and,
    when it continues the paragraph before it (same section, next in order), that paragraph — the
    later piece of a long paragraph split in two keeps the topic its first piece names."""
    parts = [search_form(hit.report.title), search_form(hit.chunk.section or "")]
    if before is not None and before.section == hit.chunk.section:
        parts.append(before.search_text)  # folded when it was indexed
    return "\n".join(parts)


def find_evidence(
    hit: Hit, concepts: list[Concept], plan: QueryPlan, lexicon: Lexicon | None = None
) -> list[Evidence]:
    """The hit's sentences that support the question, best first (at most MAX_EVIDENCE). A "how
    much" question favours a sentence whose figure sits in a phrase with the question's words
    ("HBM容量从192GB提升到288GB" over "GB300…72个GPU…HBM的容量扩大"); a "which stocks" question
    favours a sentence that names several stocks."""
    context = hit.context or context_form(hit)
    topics = topical(concepts)
    entities = [c for c in concepts if c.entity]
    generic = [c for c in concepts if c.generic and any(re.search(r"[\u4e00-\u9fff]", f) for f in c.forms)]
    # a company the heading or title names need not be repeated by the sentence ("公司…")
    own_terms = [c for c in concepts if not (c.required and c.present_in(context))]
    # what the heading leaves open: a figure next to these answers too ("从英伟达GB300看"
    # heads the paragraph; "HBM容量从192GB提升到288GB" answers "GB300的HBM容量")
    heading = search_form(hit.chunk.section or "")  # (a title is too broad to settle what is asked)
    open_terms = [c for c in concepts if c.generic or not c.present_in(heading)] or concepts
    summary_section = bool(_SUMMARY_SECTION.search(search_form(hit.chunk.section or "")))
    title = search_form(hit.report.title)
    periods = [c for c in concepts if c.period]
    header = ""  # a table row speaks of the periods its header names
    found: list[Evidence] = []
    for sentence in sentences(hit.chunk.text) or [hit.chunk.text]:
        text = sentence.strip()
        if len(text) < 2:
            continue
        if header_periods(text):
            header = search_form(text)
        if len(text) > MAX_QUOTE:
            text = _shorten(text, topics + generic, plan.wants_figure)
        own_form = search_form(text)
        own = coverage(own_terms, own_form)
        support = coverage(concepts, context + "\n" + own_form)
        figure = bool(FIGURE.search(text))
        score = OWN_WEIGHT * own + 0.5 * support
        # ties between sentences that hold the same concepts: the question's how-words present
        # ("细分板块", "评级"), a statement over a heading-like fragment, a note's summary section
        if generic:
            score += TIE_WEIGHT * sum(c.present_in(own_form) for c in generic) / len(generic)
        if text.rstrip("”」』\"')）").endswith(tuple(SENTENCE_END)):
            score += TIE_WEIGHT / 2
        if summary_section:
            score += TIE_WEIGHT / 2
        # the note's title or a heading printed again in the text says what the body says in full
        # ("储能需求超预期 2026年全球新增装机有望增长45%" over the sentence with both figures)
        bare = own_form.strip(" ,，.。:：;；-—|")
        if len(bare) >= 4 and (bare in title or bare in heading):
            score -= HEADING_PENALTY
        if plan.wants_figure:
            score += 0.1 if figure else (0.05 if _DIGIT.search(text) else 0.0)
            score += FIGURE_FIT_WEIGHT * max(_figure_fit(text, own_terms), _figure_fit(text, open_terms))
        if plan.wants_list and lexicon is not None and own > 0 and len(lexicon.find_stocks(text)) >= 2:
            score += LIST_WEIGHT
        other = (
            lexicon is not None
            and bool(plan.wants_figure and figure and entities)
            and _figures_of_others(text, entities, lexicon)
        )
        # the period asked: named by the sentence (or its table's header) wins; another one named
        # instead says the sentence is about another time
        period_form = (
            own_form if not (header and header != own_form and is_row(text, 2)) else header + own_form
        )
        # a sentence that names no period of the grain asked speaks of its heading's ("2月通胀数据
        # 点评" over "PPI同比下降1.2%"); a month, quarter or half asked must be named by one of them
        other_period = any(
            c.conflicts(period_form)
            or (not c.present_in(period_form) and c.conflicts(heading))
            or (c.period != "year" and not c.present_in(period_form + "\n" + context))
            for c in periods
        )
        if periods and all(c.present_in(period_form) for c in periods):
            score += PERIOD_WEIGHT
        found.append(
            Evidence(
                text=text,
                support=support,
                own=own,
                figure=figure,
                score=score,
                other_entity=other,
                other_period=other_period,
            )
        )
    found.sort(key=lambda e: e.score, reverse=True)  # stable: reading order breaks ties
    return found[:MAX_EVIDENCE]


def _figures_of_others(sentence: str, entities: list[Concept], lexicon: Lexicon) -> bool:
    """Whether every phrase holding a figure names some company, none of them the one asked about."""
    figure_phrases = [p for p in phrases(sentence) if FIGURE.search(p)]
    if not figure_phrases:
        return False
    for phrase in figure_phrases:
        form = search_form(phrase)
        if any(e.present_in(form) for e in entities):
            return False
        named = bool(lexicon.find_stocks(phrase)) or any(
            entry.category == "company" for entry, _ in lexicon.glossary_chinese(phrase)
        )
        if not named:
            return False  # a figure of no one in particular may be the asked company's
    return True


def _figure_fit(sentence: str, concepts: list[Concept]) -> float:
    """How much of the question the phrases holding a figure cover by themselves; half as much when
    the question names what is measured (国产化率) and the phrase measures something else (市场规模)."""
    metrics = [c for c in concepts if c.metric and not c.generic]
    best = 0.0
    for phrase in phrases(sentence):
        if FIGURE.search(phrase):
            form = search_form(phrase)
            fit = coverage(concepts, form)
            if metrics and not any(m.present_in(form) for m in metrics):
                fit /= 2
            best = max(best, fit)
    return best


def _shorten(sentence: str, topics: list[Concept], wants_figure: bool) -> str:
    """The run of clauses (or, if still too long, phrases) that holds the question's concepts."""
    for split in (clauses, phrases):
        units = split(sentence)
        if len(units) < 2:
            continue
        hits = [i for i, u in enumerate(units) if any(t.present_in(search_form(u)) for t in topics)]
        if not hits:
            return sentence
        first, last = min(hits), max(hits)
        if wants_figure and not any(FIGURE.search(u) for u in units[first : last + 1]):
            last = next((i for i in range(last + 1, len(units)) if FIGURE.search(units[i])), last)
        # a figure-only phrase right after the run ("同比增长35.1%") belongs to it
        while last + 1 < len(units) and not any(t.present_in(search_form(units[last + 1])) for t in topics):
            nxt = units[last + 1]
            if len(nxt) <= 24 and FIGURE.search(nxt) and len("".join(units[first : last + 2])) <= MAX_QUOTE:
                last += 1
            else:
                break
        picked = "".join(units[first : last + 1]).strip(" ,，;；、")
        if len(picked) <= MAX_QUOTE * 1.5 or split is phrases:
            return picked
    return sentence
