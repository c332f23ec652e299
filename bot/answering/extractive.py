"""The default answerer: no LLM, only the report's own words.

From the top hits it picks the clause that answers (a recommendation list split into stock names,
or the sentence with the asked-for figure), says it directly, cites it, and verifies it. When no
hit covers what the question is about, the answer is `found: false`, naming the reports searched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot.answer import Answer, Citation
from bot.answering.verify import inert, renumber, verify_answer
from index.chunking import split_sentences
from index.concepts import Concept, coverage, question_concepts, topical
from index.lexical import LexicalIndex
from index.lexicon import Lexicon
from index.normalize import default_tokenizer, search_form
from index.records import Hit, Report
from index.search import SearchResult

MIN_COVERAGE = 0.6  # share of the question's topical concepts a passage must contain (2 of 2, 2 of 3)
SECOND_QUOTE_MARGIN = 0.15  # a second passage is quoted too when it answers almost as well
MAX_QUOTE = 160
RECOMMEND_PREFIX = re.compile(
    r"^(建议关注|建議關注|重点关注|重點關注|投资建议|投資建議|推荐|推薦|关注标的|關注標的|受益标的|受益標的)[:：]?"
)
_RECOMMEND_VERBS = re.compile(
    r"(重[点點]推[荐薦]|建[议議]关注|建[議议]關注|推[荐薦]|首[选選]|看好|关注|關注)$"
)
_SEGMENT_SPLIT = re.compile(r"[;；。\n]")
_CLAUSE_SPLIT = re.compile(r"(?<=[,，;；])")
_NUMBER_WITH_UNIT = re.compile(
    r"\d(\.\d+)?\s*(%|％|倍|个百分点|bp|[万亿]|元|美元|港元|点|gb|tb|gw|mw|kw|万张|万副|亿元)", re.I
)
_PUBLISH_DATE_QUESTION = re.compile(
    r"(哪天|哪一天|何时|什么时候|几号|幾號|日期).{0,4}(发布|發布|发表|發表|出的)|发布(日期|时间)|發布(日期|時間)|"
    r"when was .{0,60}(published|released|issued|out)|publish(ed)? date|release date|date of (the )?(note|report)",
    re.I,
)
_QUANTITY_QUESTION = re.compile(
    r"多少|几[个家倍成年月天]?|幾|how (much|many)|what (level|price|percentage)", re.I
)
_NUMBER_QUESTION = re.compile(
    r"多少|几|幾|how (much|many)|what (was|is) the|\?|？|figure|level|rate|percent|%"
)


@dataclass
class Scored:
    hit: Hit
    coverage: float


def _header(report: Report, english: bool) -> str:
    """ "山西证券 (周跟蹤 2024-12-16–12-22)": who said it and in which note (a title's own "[1]" inert)."""
    return inert(_plain_header(report, english))


def _plain_header(report: Report, english: bool) -> str:
    label = re.sub(r"^【[^】]*】", "", report.title).split("--")[0].split("——")[0]
    label = re.sub(r"[(（]\s*\d{8}\s*[-—–~至]\s*\d{8}\s*[)）]", "", label).strip(" :：") or report.title[:30]
    if len(label) > 30:
        label = label[:29] + "…"
    when = report.date
    if report.period:
        start, end = report.period.split("/")
        when = f"{start}–{end[5:]}" if start[:4] == end[:4] else f"{start}–{end}"
    inner = ", ".join(p for p in (label, when) if p)
    if report.broker:
        return (
            f"{report.broker} ({inner})" if english else f"{report.broker}《{label}》({when or '日期不详'})"
        )
    return (
        f"《{label}》 ({when})" if english and when else (f"《{label}》({when})" if when else f"《{label}》")
    )


def _context(hit: Hit) -> str:
    """What a paragraph is about beyond its own words: the report title and its section heading
    (a company note says "公司" where the question names 英维克)."""
    return search_form(f"{hit.report.title}\n{hit.chunk.section or ''}")


def _score_hits(hits: list[Hit], concepts: list[Concept]) -> list[Scored]:
    return [
        Scored(hit, coverage(concepts, _context(hit) + "\n" + search_form(hit.chunk.text))) for hit in hits
    ]


_RECOMMEND_WORDS = re.compile(r"建议关注|重点推荐|推荐|首选|重点关注|关注标的|受益标的|建议配置|看好|建议")


def is_recommendation(chunk) -> bool:
    """A paragraph that lists recommendations: "建議關注:…", or under a 投资建议/配置建議 heading."""
    return bool(
        RECOMMEND_PREFIX.match(chunk.text.strip())
        or _RECOMMEND_WORDS.search(search_form(chunk.section or ""))
    )


def _recommendation_segments(text: str, lexicon: Lexicon) -> list[tuple[str, list[str], str]]:
    """(label, stock names as written, segment text) for each "label:names" run in a paragraph."""
    out = []
    for segment in _SEGMENT_SPLIT.split(text):
        segment = RECOMMEND_PREFIX.sub("", segment.strip())
        if not segment:
            continue
        found = lexicon.find_stocks(segment)
        if not found:
            continue
        names = [name for name, _, _ in found]
        parts = re.split(r"[:：]", segment[: found[0][1]])
        # "字節IDC基建:潤澤科技…" → 字節IDC基建; "高股息主線重點推薦招商銀行…" → 高股息主線
        label = parts[-2] if len(parts) >= 2 and not parts[-1].strip() else parts[-1]
        label = _RECOMMEND_VERBS.sub("", RECOMMEND_PREFIX.sub("", label.strip())).strip(" ，,、：:")
        out.append((label, list(dict.fromkeys(names)), segment))
    return out


def _list_answer(scored: list[Scored], concepts: list[Concept], lexicon: Lexicon, english: bool):
    """For "which stocks…" questions: the recommendation segments that match the topic."""
    topics = topical(concepts)
    for item in scored:
        if not is_recommendation(item.hit.chunk):
            continue  # a list of gainers or losers is quoted as a fact, never called a recommendation
        segments = _recommendation_segments(item.hit.chunk.text, lexicon)
        if not segments:
            continue
        if topics:
            # a segment's own words decide; the title (【开源通信】, "AI Agent元年") only breaks ties
            title = search_form(item.hit.report.title)
            ranked = []
            for label, names, seg in segments:
                own, with_title = (
                    coverage(concepts, search_form(seg)),
                    coverage(concepts, title + "\n" + search_form(seg)),
                )
                ranked.append((own + 0.5 * with_title, with_title, label, names))
            best = max(r[0] for r in ranked)
            if max(r[1] for r in ranked if r[0] == best) < MIN_COVERAGE:
                continue
            chosen = [(label, names) for score, _, label, names in ranked if score == best]
        else:
            chosen = [(label, names) for label, names, _ in segments]
        header = _header(item.hit.report, english)
        if english:
            parts = [
                f"for {inert(label)}: {', '.join(names)}" if label else ", ".join(names)
                for label, names in chosen
            ]
            text = f"{header} recommends " + "; ".join(parts) + " [1]"
        else:
            parts = [
                f"{inert(label)}：{'、'.join(names)}" if label else "、".join(names)
                for label, names in chosen
            ]
            text = f"{header}建议关注 " + "；".join(parts) + " [1]"
        return text, [item.hit]
    return None


def _best_quote(hit: Hit, concepts: list[Concept], wants_number: bool) -> tuple[str, float]:
    """The sentence (or, for a long one, the clauses) that covers the question best. A sentence's
    own words count most; the title and heading above it break ties."""
    best, best_score = "", -1.0
    context = _context(hit)
    for sentence in split_sentences(hit.chunk.text) or [hit.chunk.text]:
        own = search_form(sentence)
        score = coverage(concepts, own) + 0.5 * coverage(concepts, context + "\n" + own)
        if wants_number and _NUMBER_WITH_UNIT.search(sentence):
            score += 0.25
        elif wants_number and re.search(r"\d", sentence):
            score += 0.1
        if score > best_score:
            best, best_score = sentence.strip(), score
    if len(best) > MAX_QUOTE:
        clauses = [c for c in _CLAUSE_SPLIT.split(best) if c.strip()]
        keep = [
            i for i, c in enumerate(clauses) if any(t.present_in(search_form(c)) for t in topical(concepts))
        ]
        if keep:
            best = "".join(clauses[min(keep) : max(keep) + 1]).strip(" ,，;；")
    return best, best_score


def _fact_answer(scored: list[Scored], concepts: list[Concept], question: str, english: bool):
    wants_number = bool(_NUMBER_QUESTION.search(question))
    candidates = [(item, *_best_quote(item.hit, concepts, wants_number)) for item in scored[:3]]
    if _QUANTITY_QUESTION.search(question):
        # "多少" / "how much" is answered by a figure: a quote without one answers something else
        candidates = [c for c in candidates if re.search(r"\d", c[1])]
        if not candidates:
            return None
    candidates.sort(key=lambda c: (c[0].coverage, c[2]), reverse=True)
    best = candidates[0]
    chosen = [best] + [
        c
        for c in candidates[1:2]
        if c[0].coverage >= best[0].coverage and c[2] >= best[2] - SECOND_QUOTE_MARGIN and c[1] != best[1]
    ]
    lines = []
    for n, (item, quote, _) in enumerate(chosen, start=1):
        header, quote = _header(item.hit.report, english), inert(quote)  # the note's own [1] is text
        lines.append(f"According to {header}: “{quote}” [{n}]" if english else f"{header}：“{quote}” [{n}]")
    return "\n".join(lines), [item.hit for item, _, _ in chosen]


def _publish_date_answer(question: str, scored: list[Scored], english: bool):
    """ "When was this note published?" is answered by the report's own publish date."""
    if not _PUBLISH_DATE_QUESTION.search(question):
        return None
    item = next((s for s in scored if s.hit.report.date), None)
    if item is None:
        return None
    report = item.hit.report
    if english:
        return f"{_header(report, english)} was published on {report.date} [1]", [item.hit]
    y, m, d = report.date.split("-")
    return f"{_header(report, english)}发布于{y}年{int(m)}月{int(d)}日 [1]", [item.hit]


def not_found_answer(question: str, result: SearchResult, mode: str = "extractive") -> Answer:
    english = result.plan.language == "en"
    searched = [f"{r.title} ({r.broker or '—'}, {r.date or '—'})" for r in result.reports[:5]]
    more = len(result.reports) - len(searched)
    if english:
        text = "The indexed notes do not cover this."
        if searched:
            text += f" Searched {len(result.reports)} report(s): " + "; ".join(searched)
            text += f"; and {more} more." if more > 0 else "."
        else:
            text += " No indexed report matches the broker or dates asked for."
    else:
        text = "已索引的研报中没有找到相关内容。"
        if searched:
            text += (
                f"已检索 {len(result.reports)} 份研报："
                + "；".join(searched)
                + (f" 等 {more} 份。" if more > 0 else "。")
            )
        else:
            text += "没有符合所问券商或日期的研报。"
    return Answer(question, text, mode, found=False, searched=[r.title for r in result.reports])


def answer_extractively(
    question: str,
    result: SearchResult,
    lexicon: Lexicon,
    lexical: LexicalIndex | None = None,
    today: date | None = None,
) -> Answer:
    """`lexical` (the index searched) tells which words the notes contain and how rare they are."""
    plan = result.plan
    english = plan.language == "en"
    concepts = question_concepts(
        question,
        plan,
        lexicon,
        default_tokenizer(),
        lexical.vocabulary if lexical else None,
        today,
        lexical.idf if lexical else None,
    )
    scored = [s for s in _score_hits(result.hits, concepts) if s.coverage >= MIN_COVERAGE]
    if not scored:
        return not_found_answer(question, result)
    scored.sort(key=lambda s: s.coverage, reverse=True)  # stable: retrieval order breaks ties
    picked = _publish_date_answer(question, scored, english)
    if picked is None and plan.wants_list:
        picked = _list_answer(scored, concepts, lexicon, english)
    if picked is None:
        picked = _fact_answer(scored, concepts, question, english)
    if picked is None:
        return not_found_answer(question, result)
    text, hits = picked
    citations = [Citation.from_hit(n, hit) for n, hit in enumerate(hits, start=1)]
    verified = verify_answer(text, citations, lexicon)
    if not verified.cited:  # nothing survived verification: saying nothing beats saying it wrong
        answer = not_found_answer(question, result)
        answer.dropped = verified.dropped
        return answer
    final, used = renumber(verified.text, citations, verified.cited)
    return Answer(question, final, "extractive", found=True, citations=used, dropped=verified.dropped)
