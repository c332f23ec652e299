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
from index.tables import find_cell, is_row
from index.text import SENTENCE_END, clauses, search_form, sentences

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
            raw = segment.strip().strip("；;。")
            segment = RECOMMEND_PREFIX.sub("", raw)
            if not segment:
                continue
            found = lexicon.find_stocks(segment)
            if not found:
                continue
            before = segment[: found[0][1]]
            recommends = whole or RECOMMEND_PREFIX.match(raw) or _RECOMMENDS.search(search_form(before))
            if not recommends and not _label_list(segment, found):  # "推薦兆易創新、江波龍" recommends too
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


_ASKS_FOR_STOCKS = re.compile(r"股|標的|标的|\bstocks?\b|\bnames\b|\bpicks?\b|\bportfolio|\btickers?\b", re.I)
_MOVERS = re.compile(r"涨|跌|漲|前[三五十]|居前|领先|領先|排名|gainer|loser", re.I)


def _item_before(text: str, segment: str) -> str:
    """The text of `text` before `segment`, from the start of its item (a digest's 【…】 line)."""
    at = text.find(segment[:12])
    before = text[: max(at, 0)]
    return before[before.rfind("【") :] if "【" in before else before[-200:]


def _label_list(segment: str, found: list[tuple[str, int, int]]) -> bool:
    """ "人形机器人：汇川技术、埃斯顿、绿的谐波": a short label, a colon, then only stock names — how
    notes print their picks under an 投资建议 heading. A list of movers ("涨幅前三：…") is not one."""
    parts = re.split(r"[:：]", _PAGE_MARKER.sub("", segment), maxsplit=1)
    if len(parts) < 2:
        return False
    label, leftover = parts
    if not 1 <= len(label.strip()) <= 16 or _MOVERS.search(label) or len(found) < 2:
        return False
    for name, _, _ in found:
        leftover = leftover.replace(name, "")
    # what is left besides the names: separators, stock codes, brackets
    return not re.sub(r"[\s、,，;；。.()（）A-Za-z0-9|-]", "", leftover)


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
                own_form = search_form(seg)
                # the item the segment closes ("【電子】存儲漲價…。推薦兆易創新…") says what it is for
                item_text = search_form(_item_before(hit.chunk.text, seg))
                with_context = coverage(concepts, "\n".join((context, item_text, own_form)))
                own = coverage(concepts, own_form)
                ranked.append((own + 0.5 * with_context, with_context, label, names, own_form))
            ranked.sort(key=lambda r: r[0], reverse=True)
            best = ranked[0][0]
            if max(r[1] for r in ranked if r[0] == best) < MIN_SUPPORT:
                continue
            chosen = [(label, names) for score, _, label, names, _ in ranked if score == best]
            # "光模块和光器件": a segment holding a topic the chosen ones lack joins them
            held = {c.label for c in topics for r in ranked if r[0] == best and c.present_in(r[4])}
            for score, _, label, names, form in ranked:
                if score == best:
                    continue
                new = {c.label for c in topics if c.present_in(form)} - held
                if new and not any(c.generic for c in topics if c.label in new):
                    chosen.append((label, names))
                    held |= new
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
def _fact_answer(candidates: list[Candidate], plan, english: bool, concepts: list[Concept]):
    """The evidence sentence that answers best; a second one when another note answers almost as
    well. A "how much" question is answered only by a sentence with a number in it."""
    options: list[tuple[Candidate, Evidence]] = []
    for item in candidates[:3]:
        # never a sentence about another period than the one asked (7月's portfolio for 8月's)
        # and never a sentence that holds none of the question's words itself (a neighbour of the
        # one that did, which spoke of another period)
        # (the heading it stands under may hold them: "风险提示" over a list of risks)
        heading = search_form(item.hit.chunk.section or "")
        headed = any(c.present_in(heading) for c in topical(concepts))
        evidence = [e for e in item.hit.evidence if not e.other_period and (e.own > 0 or headed)]
        if plan.wants_figure:  # a figure, and the asked company's own
            evidence = [e for e in evidence if re.search(r"\d", e.text) and not e.other_entity]
            # of what is measured: "储能电池出货量" does not answer "储能新增装机"
            metrics = [c for c in topical(concepts) if c.metric]
            if metrics:
                evidence = [
                    e
                    for e in evidence
                    if any(m.present_in(heading + "\n" + search_form(e.text)) for m in metrics)
                ]
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
    for item, other in options[1:2]:
        if (
            other.support >= best.support
            and other.score >= best.score - SECOND_QUOTE_MARGIN
            and search_form(other.text) != search_form(best.text)
            and item.hit.report.id != best_item.hit.report.id
        ):
            chosen.append((item, other))
    lines = []
    for n, (item, quoted) in enumerate(chosen, start=1):
        header = _header(item.hit.report, english)
        # "[page::7]" is an extract's page mark; the note's own "[1]" is text, not our citation
        quote = inert(_PAGE_MARKER.sub("", _with_other_part(item.hit, quoted, plan, concepts)).strip())
        lines.append(f"According to {header}: “{quote}” [{n}]" if english else f"{header}：“{quote}” [{n}]")
    return "\n".join(lines), [item.hit for item, _ in chosen]


# "A and B", "A和B分别是多少": a question that asks for two things
_TWO_PARTS = re.compile(
    r"\b(?:and|as well as|both|respectively|versus|vs)\b|和|及|与|與|、|分别|分別|以及|并且|並且", re.I
)


def _with_other_part(hit: Hit, best: Evidence, plan, concepts: list[Concept]) -> str:
    """The quote, and — when the question asks for two things and the quoted sentence holds only
    one of them — the sentence of the same paragraph that holds the other ("出口金额为58.3亿元…。
    …出口数量为412万台"), in reading order."""
    if not _TWO_PARTS.search(plan.question):
        return best.text
    topics = [c for c in topical(concepts) if not c.period and not c.required]
    best_form = search_form(best.text)
    missing = [c for c in topics if not c.present_in(best_form)]
    if not missing:
        return best.text
    for other in hit.evidence:
        if other.text == best.text or other.other_period or other.other_entity:
            continue
        if plan.wants_figure and not other.figure:
            continue
        form = search_form(other.text)
        if not any(c.present_in(form) for c in missing) or form in best_form or best_form in form:
            continue
        first, second = best.text, other.text
        if hit.chunk.text.find(second[:20]) < hit.chunk.text.find(first[:20]):
            first, second = second, first
        joiner = " … " if not first.rstrip().endswith(tuple(SENTENCE_END)) else ""
        return f"{first.strip()}{joiner}{second.strip()}"
    return best.text


# ---- table cells -------------------------------------------------------------------------------
TABLE_LABEL_FIT = 0.5  # share of the question's words (not its company or period) a row label holds
# "营业收入(百万元)", "市场规模(亿美元)": the unit a row's label gives its figures
_UNIT_IN_LABEL = re.compile(r"[(（]((?:百万|千|万|亿)?(?:元|美元|港元|人民币)|倍|%)[)）]\s*$")


def _table_answer(candidates: list[Candidate], concepts: list[Concept], english: bool):
    """ "光迅科技2026E归母净利润": the cell where the row the question names crosses the column of
    the year it asks (or the column its other words name), quoted with its row and header; with
    the place of its passage among the candidates."""
    years = [c.label for c in concepts if c.period == "year"]
    best = None
    for order, item in enumerate(candidates[:3]):
        # what the note's title or the table's heading already says (the company) is not the row's
        context = search_form(f"{item.hit.report.title}\n{item.hit.chunk.section or ''}")
        # (a company the note is not about is a row: "688041 | 海光信息 | … | 净利润2026E")
        words = [
            c
            for c in topical(concepts)
            if not c.period and not c.present_in(context + "\n" + item.hit.context)
        ]
        if not words:
            continue

        def fits(cell_text: str, words: list[Concept] = words) -> float:
            form = search_form(cell_text)
            return sum(c.weight for c in words if c.present_in(form)) / sum(c.weight for c in words)

        cell = find_cell(item.hit.chunk.text, fits, years[0] if years else None)
        # the question's words are the row's and the column's together ("金山办公" x "EPS2026E")
        if cell is None or fits(f"{cell.label}\n{cell.column}") < TABLE_LABEL_FIT:
            continue
        score = fits(f"{cell.label}\n{cell.column}") - RANK_PENALTY * order
        if best is None or score > best[0]:
            best = (score, item, cell, item.rank)
    if best is None:
        return None
    _, item, cell, order = best
    head = _header(item.hit.report, english)
    unit = _UNIT_IN_LABEL.search(cell.label)
    value = cell.value + (unit.group(1) if unit and not cell.value.endswith("%") else "")
    row, header = inert(cell.row.strip()), inert(cell.header.strip().replace("\n", " / "))
    if english:
        text = f"According to {head}: {inert(cell.label)}, {inert(cell.column)}: {inert(value)} (table: “{header}” / “{row}”) [1]"
    else:
        text = f"{head}：{inert(cell.label)}（{inert(cell.column)}）为{inert(value)}（表中原文：“{header}” / “{row}”）[1]"
    return text, [item.hit], order


def _stated_in_text(candidates: list[Candidate], concepts: list[Concept]) -> int | None:
    """Whether a sentence says it outright: holds a figure, the question's words and each year
    asked as written ("2024年…市场规模预计达到490亿美元"), so it is quoted rather than a table cell
    (a "2025-2027年…分别为" sentence names the years only as a range: the table is plainer)."""
    years = [c.label for c in concepts if c.period == "year"]
    for item in candidates[:3]:
        for evidence in item.hit.evidence[:1]:
            if (
                evidence.figure
                and not evidence.other_period
                and evidence.own >= MIN_SUPPORT
                and all(re.search(rf"(?<![\d/-]){y}(?![\d/-])", evidence.text) for y in years)
                and not is_row(evidence.text, 2)
            ):
                return item.rank
    return None


def _asked_report(result: SearchResult, has: str) -> Hit | None:
    """For a question about a note itself (when published, who wrote it): the hit whose report the
    question means — of the broker it names, best covered by its words together with the report's
    title — among the reports that have `has` ("date" or "analysts")."""
    broker = result.plan.broker
    best: tuple[float, int, Hit] | None = None
    for rank, hit in enumerate(result.hits[:ANSWER_DEPTH]):
        report = hit.report
        if not getattr(report, has) or (broker and report.broker != broker):
            continue
        if hit.support < MIN_SUPPORT / 2 and not broker:
            continue
        key = (hit.support, -rank)
        if best is None or key > best[:2]:
            best = (*key, hit)
    return best[2] if best else None


def _publish_date_answer(result: SearchResult, english: bool):
    """ "When was this note published?" is answered by the report's own publish date."""
    hit = _asked_report(result, "date")
    published = hit.report.date if hit is not None else None
    if hit is None or not published:
        return None
    report = hit.report
    if english:
        return f"{_header(report, english)} was published on {published} [1]", [hit]
    y, m, d = published.split("-")
    return f"{_header(report, english)}发布于{y}年{int(m)}月{int(d)}日 [1]", [hit]


def _analysts_answer(result: SearchResult, english: bool):
    """ "Who wrote this note?" is answered by the analysts its masthead names, citing the passage
    that names them when it was retrieved."""
    hit = _asked_report(result, "analysts")
    if hit is None:
        return None
    report = hit.report
    named = next(
        (h for h in result.hits if h.report.id == report.id and report.analysts[0] in h.chunk.text), hit
    )
    names = inert(("、" if not english else ", ").join(report.analysts))
    if english:
        return f"{_header(report, english)} was written by {names} [1]", [named]
    return f"{_header(report, english)}的分析师：{names} [1]", [named]


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
    candidates.sort(key=lambda c: c.hit.support, reverse=True)  # stable: rank breaks ties
    # a question about the note itself is answered by its metadata (when, who)
    picked = _publish_date_answer(result, english) if plan.wants_publish_date else None
    if picked is None and plan.wants_analysts:
        picked = _analysts_answer(result, english)
    if picked is None and not candidates:
        return not_found_answer(question, result)
    if picked is None and plan.wants_list:
        picked = _list_answer(candidates, result.concepts, lexicon, english)
    if picked is None and (plan.wants_figure or any(c.period for c in result.concepts)):
        table = _table_answer(candidates, result.concepts, english)
        stated = _stated_in_text(candidates, result.concepts)
        # a sentence that says it outright is quoted, unless the table's passage ranks higher
        if table is not None and (stated is None or table[2] < stated):
            picked = table[:2]
    if picked is None:
        picked = _fact_answer(candidates, plan, english, result.concepts)
        if (
            picked
            and plan.wants_list
            and plan.wants_recommendation
            and _ASKS_FOR_STOCKS.search(plan.question)
            and not lexicon.find_stocks(picked[0])
        ):
            picked = None  # "which stocks" answered without naming one is no answer ("推荐(维持)")
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
