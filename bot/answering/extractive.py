"""The default answerer: no LLM, only the report's own words.

It composes from what the index returned (index/search.py): the plan, the ranked hits and each hit's
evidence sentences. A recommendation question gets the matching recommendation list split into stock
names; a publish-date question gets the report's date; any other question gets the evidence sentence
that answers it (with every figure of it). It refuses only when no retrieved paragraph supports the
question, and a not-found answer names at most the three closest reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.answer import Answer, Citation
from bot.answering.verify import inert, renumber, verify_answer
from index.concepts import Concept, coverage, topical
from index.lexicon import Lexicon
from index.records import Evidence, Hit, Report
from index.search import SearchResult
from index.text import clauses, search_form, sentences

MIN_SUPPORT = 0.6  # share of the question's topical concepts a passage must hold (2 of 2, 2 of 3)
SECOND_QUOTE_MARGIN = 0.15  # a second passage is quoted too when it answers almost as well
ANSWER_DEPTH = 5  # hits an answer may come from
CLOSEST_REPORTS = 3  # reports a not-found answer names
RANK_PENALTY = 0.02  # per place down the ranking, between sentences that answer equally well
RECOMMEND_PREFIX = re.compile(
    r"^[-•·*\s]*(建议关注|建議關注|重点关注|重點關注|投资建议|投資建議|推荐|推薦|关注标的|關注標的|受益标的|受益標的)[:：]?"
)
_RECOMMEND_VERBS = re.compile(
    r"(重[点點]推[荐薦]|建[议議]关注|建[議议]關注|推[荐薦]|首[选選]|看好|关注|關注)$"
)
# a verb that introduces a recommendation list inside a sentence ("…，建议关注比亚迪、赛力斯")
_RECOMMENDS = re.compile(r"建议|重点推荐|推荐|首选|重点关注|关注标的|受益标的|看好|关注|增配|超配")
_PAGE_MARKER = re.compile(r"\s*\[page::\d+\]")
_RECOMMEND_SECTION = re.compile(r"建议关注|重点推荐|推荐|首选|重点关注|关注标的|受益标的|建议配置|看好|建议")


@dataclass
class Candidate:
    hit: Hit
    rank: int


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


def _usable(result: SearchResult) -> list[Candidate]:
    """The hits that support the question. A paragraph from a note by another broker than the one
    the question names does not: it is someone else's view (a note whose broker is unknown still can)."""
    broker = result.plan.broker
    out = []
    for rank, hit in enumerate(result.hits[:ANSWER_DEPTH]):
        if hit.support < MIN_SUPPORT:
            continue
        if broker and hit.report.broker and hit.report.broker != broker:
            continue
        out.append(Candidate(hit, rank))
    return out


# ---- recommendation lists ----------------------------------------------------------------------
def is_recommendation(chunk) -> bool:
    """A paragraph that lists recommendations: "建議關注:…", or under a 投资建议/配置建議 heading."""
    return bool(
        RECOMMEND_PREFIX.match(chunk.text.strip())
        or _RECOMMEND_SECTION.search(search_form(chunk.section or ""))
    )


def _recommendation_segments(text: str, lexicon: Lexicon, whole: bool) -> list[tuple[str, list[str], str]]:
    """(label, stock names as written, segment text) for each "label: names" run of a paragraph.
    `whole`: the paragraph is a recommendation list (its prefix or heading says so); otherwise only
    the clauses where a recommending verb comes before the names count."""
    out = []
    for sentence in sentences(text):
        for segment in clauses(sentence.replace("\n", "；")):
            segment = RECOMMEND_PREFIX.sub("", segment.strip().strip("；;。"))
            if not segment:
                continue
            found = lexicon.find_stocks(segment)
            if not found:
                continue
            before = segment[: found[0][1]]
            if not whole and not _RECOMMENDS.search(search_form(before)):
                continue
            names = [name for name, _, _ in found]
            parts = re.split(r"[:：，,]", before)
            # "字節IDC基建:潤澤科技…" → 字節IDC基建; "高股息主線重點推薦招商銀行…" → 高股息主線
            label = parts[-2] if len(parts) >= 2 and not parts[-1].strip() else parts[-1]
            label = re.sub(r"^(我们|我們|该行|該行|公司)?(继续|繼續)?", "", label.strip())
            label = _RECOMMEND_VERBS.sub("", RECOMMEND_PREFIX.sub("", label)).strip(" ，,、：:")
            label = re.sub(r"(建[议議]关注|建[議议]關注|重[点點]推[荐薦]|推[荐薦]|关注|關注)$", "", label)
            out.append((label, list(dict.fromkeys(names)), segment))
    return out


def _list_answer(candidates: list[Candidate], concepts: list[Concept], lexicon: Lexicon, english: bool):
    """For "which stocks…" questions: the recommendation segments that match the topic."""
    topics = topical(concepts)
    for item in candidates:
        hit = item.hit
        segments = _recommendation_segments(hit.chunk.text, lexicon, is_recommendation(hit.chunk))
        if not segments:
            continue  # a list of gainers or losers is quoted as a fact, never called a recommendation
        if topics:
            # a segment's own words decide; the title and heading only break ties
            context = search_form(f"{hit.report.title}\n{hit.chunk.section or ''}")
            ranked = []
            for label, names, seg in segments:
                own = coverage(concepts, search_form(seg))
                with_context = coverage(concepts, context + "\n" + search_form(seg))
                ranked.append((own + 0.5 * with_context, with_context, label, names))
            best = max(r[0] for r in ranked)
            if max(r[1] for r in ranked if r[0] == best) < MIN_SUPPORT:
                continue
            chosen = [(label, names) for score, _, label, names in ranked if score == best]
        else:
            chosen = [(label, names) for label, names, _ in segments]
        header = _header(hit.report, english)
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
        return text, [hit]
    return None


# ---- facts and figures -----------------------------------------------------------------------
def _fact_answer(candidates: list[Candidate], plan, english: bool):
    """The evidence sentence that answers best; a second one when another note answers almost as
    well. A "how much" question is answered only by a sentence with a number in it."""
    options: list[tuple[Candidate, Evidence]] = []
    for item in candidates[:3]:
        evidence = item.hit.evidence
        if plan.wants_figure:  # a figure, and the asked company's own
            evidence = [e for e in evidence if re.search(r"\d", e.text) and not e.other_entity]
        if plan.wants_list and plan.wants_recommendation and not is_recommendation(item.hit.chunk):
            # "which stocks does X recommend" is answered by what a note recommends, not a market fact
            evidence = [e for e in evidence if _RECOMMENDS.search(search_form(e.text))]
        if evidence:
            options.append((item, evidence[0]))
    if not options:
        return None
    # how well the sentence itself answers (its own words first), the hit's rank breaking near-ties
    options.sort(key=lambda o: o[1].score - RANK_PENALTY * o[0].rank, reverse=True)
    best_item, best = options[0]
    chosen = [(best_item, best)]
    for item, evidence in options[1:2]:
        if (
            evidence.support >= best.support
            and evidence.score >= best.score - SECOND_QUOTE_MARGIN
            and search_form(evidence.text) != search_form(best.text)
            and item.hit.report.id != best_item.hit.report.id
        ):
            chosen.append((item, evidence))
    lines = []
    for n, (item, evidence) in enumerate(chosen, start=1):
        header = _header(item.hit.report, english)
        # "[page::7]" is an extract's page mark; the note's own "[1]" is text, not our citation
        quote = inert(_PAGE_MARKER.sub("", evidence.text).strip())
        lines.append(f"According to {header}: “{quote}” [{n}]" if english else f"{header}：“{quote}” [{n}]")
    return "\n".join(lines), [item.hit for item, _ in chosen]


def _publish_date_answer(candidates: list[Candidate], english: bool):
    """ "When was this note published?" is answered by the report's own publish date."""
    item = next((c for c in candidates if c.hit.report.date), None)
    if item is None:
        return None
    report = item.hit.report
    if english:
        return f"{_header(report, english)} was published on {report.date} [1]", [item.hit]
    y, m, d = report.date.split("-")
    return f"{_header(report, english)}发布于{y}年{int(m)}月{int(d)}日 [1]", [item.hit]


# ---- not found -------------------------------------------------------------------------------
def not_found_answer(question: str, result: SearchResult, mode: str = "extractive") -> Answer:
    """Says the notes do not answer, naming at most the three reports that came closest."""
    english = result.plan.language == "en"
    closest = result.closest_reports(CLOSEST_REPORTS)
    named = [f"{r.title} ({r.broker or '—'}, {r.date or '—'})" for r in closest]
    if english:
        text = "The indexed notes do not cover this."
        if named:
            text += " Closest: " + "; ".join(named) + "."
        elif not result.reports:
            text += " No indexed report matches the broker or dates asked for."
    else:
        text = "已索引的研报中没有找到相关内容。"
        if named:
            text += "最接近的研报：" + "；".join(named) + "。"
        elif not result.reports:
            text += "没有符合所指定券商或日期的研报。"
    return Answer(question, text, mode, found=False, searched=[r.title for r in closest])


def answer_extractively(question: str, result: SearchResult, lexicon: Lexicon) -> Answer:
    """Compose, cite and verify an answer from the index's result (plan, hits, evidence)."""
    plan = result.plan
    english = plan.language == "en"
    candidates = _usable(result)
    if not candidates:
        return not_found_answer(question, result)
    candidates.sort(key=lambda c: c.hit.support, reverse=True)  # stable: rank breaks ties
    picked = _publish_date_answer(candidates, english) if plan.wants_publish_date else None
    if picked is None and plan.wants_list:
        picked = _list_answer(candidates, result.concepts, lexicon, english)
    if picked is None:
        picked = _fact_answer(candidates, plan, english)
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
