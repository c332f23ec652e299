"""The one question API: understand the question, retrieve lexically and densely, fuse, rank with
the question's concepts and a report prior, and return typed Hits that carry their evidence.

Only explicit filters exclude (--broker/--since/--until, a chat command's options, report ids). What
is read from the question — a broker, a time, "latest", a kind of note, the report a follow-up leans
on — is a *prior*: it raises matching reports, lowers contradicting ones, and leaves reports whose
metadata is unknown where their words put them. Reports the prior favours are searched a second time
on their own, so a passage the prior would lift is among the candidates even when other notes use
the question's words more often. A question is never refused because metadata is missing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from index.concepts import NOT_EXPANDED, Concept, coverage, question_concepts
from index.embedding import Embedder
from index.evidence import context_form, find_evidence
from index.filters import SearchFilter
from index.followup import Turn, apply_history, is_follow_up
from index.lexical import LexicalIndex
from index.lexicon import Lexicon
from index.normalize import Tokenizer
from index.query import QueryPlan, parse_query
from index.records import Chunk, Hit, Report
from index.store import Store
from index.text import fingerprint, search_form
from index.translate import Expansion, SimilarityCache, Translator, english_dictionary

log = logging.getLogger("yanbao.search")

RRF_K = 60
CANDIDATES = 50
# Routes of a filtered dense query (measured at 100k chunks, see Searcher._dense)
DENSE_EXACT_MAX = 1000  # allowed chunks scored directly from their vectors, fetched by id (~40 ms)
DENSE_POSTFILTER_MAX = 2000  # the largest unfiltered nearest-neighbour query filtered after (~30 ms)
DENSE_POSTFILTER_ENOUGH = 20  # allowed chunks among those nearest that make the filtered query exact enough
DENSE_ID_FILTER_MAX = 300  # reports whose ids a Chroma where may list (~100 ms); above, fields
PREFERRED_CANDIDATES = 50  # extra candidates from the reports the prior favours
RANK_DEPTH = 60  # fused candidates re-ranked by coverage and prior
COVERAGE_WEIGHT = 0.5  # chosen on eval/dev.jsonl + eval/wide.jsonl (see benchmarks/README.md)
PRIOR_WEIGHT = 0.35  # likewise: a prior moves a passage past equally relevant ones, not past better ones

# How much each thing read from the question favours (or, contradicted, disfavours) a report.
BROKER_MATCH, BROKER_OTHER = 1.0, -0.6
DATE_MATCH, DATE_OTHER = 1.0, -0.5  # times _date_strength: a week says more than a year
KIND_MATCH = 0.3
# "latest": the newest report whose passages answer (not after "today") comes first among those that
# answer; older ones get less the older they are
LATEST, RECENT_SUPPORT = 2.0, 0.6
FOLLOW_UP = 0.8  # the reports the previous answer cited
OPENINGS = 10  # opening passages of favoured reports added for a question about a note itself


@dataclass
class SearchResult:
    plan: QueryPlan
    hits: list[Hit]  # ranked; each with its evidence sentences
    reports: list[Report]  # the reports searched (after explicit filters), newest first
    where: SearchFilter | None = None  # the explicit filter both engines applied
    concepts: list[Concept] = field(default_factory=list)  # what the question is about
    timings: dict[str, float] = field(default_factory=dict)

    def closest_reports(self, n: int = 3) -> list[Report]:
        """The reports of the best hits (for a not-found answer), else the newest searched."""
        seen: dict[str, Report] = {}
        for hit in self.hits:
            seen.setdefault(hit.report.id, hit.report)
        closest = list(seen.values()) or self.reports
        return closest[:n]


class Reranker:
    """A sentence-transformers CrossEncoder (YANBAO_RERANK_MODEL), used only when configured."""

    def __init__(self, path: str) -> None:
        from sentence_transformers import CrossEncoder

        self._model = CrossEncoder(path, device="cpu")

    def scores(self, question: str, texts: list[str]) -> list[float]:
        return [
            float(s) for s in self._model.predict([(question, t) for t in texts], show_progress_bar=False)
        ]


class Searcher:
    def __init__(
        self,
        store: Store,
        lexical: LexicalIndex,
        tokenizer: Tokenizer,
        lexicon: Lexicon,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
        fusion: str = "rrf",
        dense_weight: float = 0.5,
    ) -> None:
        self.store = store
        self.lexical = lexical
        self.tokenizer = tokenizer
        self.lexicon = lexicon
        self.embedder = embedder
        self.reranker = reranker
        self.fusion = fusion
        self.dense_weight = dense_weight
        self._subjects: dict[tuple[str, str], str] = {}  # (report, version) -> its one company
        self._similarity = SimilarityCache(embedder.embed_query) if embedder is not None else None

    def refresh(self) -> bool:
        return self.lexical.refresh(self.store, wait=False)

    # ---- what is searched ------------------------------------------------------------------
    def explicit_reports(self, where: SearchFilter) -> list[Report]:
        """The reports explicit filters allow, newest first (lexical.reports keeps that order).
        Only an explicit filter excludes."""
        reports = self.lexical.reports.values()
        return [r for r in reports if where.matches(r)] if where else list(reports)

    def query_tokens(self, plan: QueryPlan) -> list[str]:
        tokens = self.tokenizer.tokens(plan.question)
        for term in plan.terms + plan.companies:
            tokens.extend(self.tokenizer.tokens(term))
        broker_forms = set()
        if plan.broker:
            broker_forms = {search_form(plan.broker), search_form(plan.broker).removesuffix("证券")}
        # the broker is a prior on reports (below), not a word their paragraphs must contain
        return [t for t in tokens if t not in broker_forms and not self.lexicon.canonical_broker(t)]

    def priors(
        self, plan: QueryPlan, reports: list[Report], today: date, follow: list[str] | None = None
    ) -> dict[str, float]:
        """Each report's prior from what the question says about which notes it means."""
        prior = {r.id: 0.0 for r in reports}
        if plan.broker:
            for r in reports:
                if r.broker == plan.broker or (r.broker is None and self._title_names(r, plan.broker)):
                    prior[r.id] += BROKER_MATCH
                elif r.broker is not None:
                    prior[r.id] += BROKER_OTHER
        # asked when a note was published, a date in the question names what the note covers
        # ("the March strategy note", out on Feb 27): its words say so, not its publish date
        if (plan.since or plan.until) and not plan.strict_dates and not plan.wants_publish_date:
            strength = _date_strength(plan.since, plan.until)
            dated = SearchFilter.of(since=plan.since, until=plan.until)  # date or covered period overlaps
            for r in reports:
                if r.date or r.period:
                    prior[r.id] += strength * (DATE_MATCH if dated.matches(r) else DATE_OTHER)
        if plan.kind:
            for r in reports:
                if r.kind == plan.kind:
                    prior[r.id] += KIND_MATCH
        for rid in follow or []:
            if rid in prior:
                prior[rid] += FOLLOW_UP
        return prior

    def _title_names(self, report: Report, broker: str) -> bool:
        """A report whose broker is unknown but whose title names the broker asked for."""
        return any(b == broker for b in self.lexicon.broker_mentions(report.title))

    # ---- search ----------------------------------------------------------------------------
    def search(
        self,
        question: str,
        *,
        k: int = 5,
        broker: str | None = None,
        since: str | None = None,
        until: str | None = None,
        kind: str | None = None,
        today: date | None = None,
        plan: QueryPlan | None = None,
        previous: Turn | None = None,
        extra_queries: list[str] | None = None,
        report_ids: set[str] | None = None,
        where: SearchFilter | None = None,
        stage_timer: Callable[[str, float], None] | None = None,
    ) -> SearchResult:
        """Explicit filters: `broker`, `since`, `until`, `kind`, `report_ids`, or a whole `where`;
        they become one SearchFilter that both engines apply. `previous` is the conversation's last
        turn: a follow-up question inherits what it leaves open."""
        timings: dict[str, float] = {}

        def mark(stage: str, started: float) -> None:
            timings[stage] = time.perf_counter() - started
            if stage_timer:
                stage_timer(stage, timings[stage])

        started = time.perf_counter()
        today = today or date.today()
        plan = plan or parse_query(question, today, self.lexicon)
        follow: list[str] = []
        if previous is not None and is_follow_up(plan.question, plan):
            follow = apply_history(plan, previous)
        broker = (self.lexicon.canonical_broker(broker) or broker) if broker else None
        if broker:
            plan.broker = broker
        if since or until:
            plan.since, plan.until = since, until
            plan.strict_dates = True
        explicit = SearchFilter.of(
            brokers=[broker] if broker else None,
            kinds=[kind] if kind else None,
            since=since,
            until=until,
            report_ids=report_ids,
        ).both(where)  # a user's --broker within a channel's scope
        reports = self.explicit_reports(explicit)
        engines = explicit if explicit else None
        prior = self.priors(plan, reports, today, follow)
        preferred = {rid for rid, p in prior.items() if p > 0}
        if len(preferred) == len(reports):
            preferred = set()  # the prior favours everything: nothing to search apart
        tokens = self.query_tokens(plan)
        for extra in extra_queries or []:
            tokens.extend(self.tokenizer.tokens(extra))
        concepts = question_concepts(
            plan.question,
            plan,
            self.lexicon,
            self.tokenizer,
            self.lexical.vocabulary,
            today,
            self.lexical.idf,
            self._expander(engines) if plan.language == "en" else None,
        )
        expansions = [f for c in concepts if c.expansion for f in c.forms if f != c.label]
        if expansions:
            # the dictionary's readings weigh half as much as the question's own words and terms
            vocabulary = self.lexical.vocabulary
            added = [t for f in expansions for t in self.tokenizer.tokens(f) if t in vocabulary]
            tokens = tokens + tokens + list(dict.fromkeys(added))
        mark("parse", started)

        started = time.perf_counter()
        lexical: list[tuple[str, float]] = []
        if reports:
            lexical = self.lexical.search(tokens, CANDIDATES, engines)
            if preferred:
                apart = SearchFilter(report_ids=frozenset(preferred))  # within the explicit filter
                lexical = _merge(lexical, self.lexical.search(tokens, PREFERRED_CANDIDATES, apart))
            if plan.wants_publish_date or plan.wants_analysts:
                lexical = lexical + self._openings(prior, {cid for cid, _ in lexical})
        mark("retrieve_lexical", started)

        dense: list[tuple[str, float]] = []
        if self.embedder is not None and reports:
            started = time.perf_counter()
            query_text = " ".join([plan.question, *plan.terms, *expansions[:6]])
            vector = self.embedder.embed_query(search_form(query_text))
            # the preferred reports are searched apart lexically only: a second, filtered nearest-
            # neighbour query costs more than it finds (measured in benchmarks/bench_search.py)
            dense = self._dense(vector, engines, reports)
            mark("retrieve_dense", started)

        started = time.perf_counter()
        # the best fused candidates are weighed by coverage and prior; those far down stay below them
        hits = self._hits(self._fuse(lexical, dense)[:RANK_DEPTH], lexical, dense)
        self._rank(hits, concepts, prior, plan, today)
        mark("fuse", started)

        if self.reranker is not None and hits:
            started = time.perf_counter()
            head = hits[: max(k * 3, 15)]
            scores = self.reranker.scores(plan.question, [h.chunk.text for h in head])
            for hit, score in zip(head, scores, strict=True):
                hit.scores["rerank"] = score
            head.sort(key=lambda h: h.scores["rerank"], reverse=True)
            hits = head + hits[len(head) :]
            mark("rerank", started)

        started = time.perf_counter()
        hits = hits[:k]
        for hit in hits:
            hit.evidence = find_evidence(hit, concepts, plan, self.lexicon)
        mark("evidence", started)
        return SearchResult(
            plan=plan, hits=hits[:k], reports=reports, where=engines, concepts=concepts, timings=timings
        )

    def _dense(
        self, vector: list[float], where: SearchFilter | None, reports: list[Report]
    ) -> list[tuple[str, float]]:
        """The nearest chunks of committed versions the lexical index knows (see store.py)."""
        versions = self.lexical.versions
        return [
            (cid, s)
            for cid, s in self._nearest(vector, where, reports)
            if versions.get(cid.split(":", 1)[0], "")[:10] == cid.split(":")[1]
        ][:CANDIDATES]

    def _nearest(
        self, vector: list[float], where: SearchFilter | None, reports: list[Report]
    ) -> list[tuple[str, float]]:
        """The nearest chunks within `where` (`reports` are the reports it allows), by the cheapest
        exact route. At 100k chunks Chroma answers an unfiltered query in 2-50 ms but a filtered
        one in 60-950 ms (it evaluates the condition over the whole collection; a condition most
        chunks meet, such as a date bound, costs most). So: few allowed chunks are scored
        directly; otherwise the nearest chunks unfiltered, keeping the allowed ones; Chroma's
        where only when too few of those are allowed, naming report ids while they are few."""
        if where is None:
            return self.store.dense_query(vector, CANDIDATES)
        allowed = {r.id for r in reports}
        allowed_chunks = sum(r.chunks for r in reports)
        if allowed_chunks <= DENSE_EXACT_MAX:
            versions = self.lexical.versions
            ids = [
                Store.chunk_id(r.id, versions.get(r.id, ""), paragraph)
                for r in reports
                for paragraph in range(r.chunks)
            ]
            return self.store.dense_among(vector, ids, CANDIDATES)
        # The allowed chunks among the n nearest are the nearest allowed ones, in order: exact
        # for as many as there are. Enough of them (not always all 50) is as good a dense list.
        total = max(len(self.lexical), 1)
        wanted = min(math.ceil(2 * CANDIDATES * total / allowed_chunks), DENSE_POSTFILTER_MAX)
        nearest = self.store.dense_query(vector, wanted)
        kept = [(cid, s) for cid, s in nearest if cid.partition(":")[0] in allowed]
        if len(kept) >= min(DENSE_POSTFILTER_ENOUGH, allowed_chunks) or len(nearest) < wanted:
            return kept
        if len(reports) <= DENSE_ID_FILTER_MAX:
            where = SearchFilter(report_ids=frozenset(allowed))
        return self.store.dense_query(vector, CANDIDATES, where)

    def _rank(
        self, hits: list[Hit], concepts: list[Concept], prior: dict[str, float], plan: QueryPlan, today: date
    ) -> None:
        """Fused rank, then how much of the question each passage covers as phrases (BM25 scores
        words one by one and favours short paragraphs; "申万通信指数" should beat a short paragraph
        about 申万计算机指数), then the report prior."""
        if not hits:
            return
        top = max(h.score for h in hits) or 1.0
        subjects: dict[str, str] = {}
        for hit in hits:
            hit.context = context_form(hit, self._chunk_before(hit))
            if hit.report.id not in subjects:
                subjects[hit.report.id] = self._subject(hit.report)
            if subjects[hit.report.id]:  # a company note says 公司 where the question names it
                hit.context += "\n" + subjects[hit.report.id]
            form = hit.context + "\n" + hit.chunk.search_text  # its heading and text, folded at indexing
            hit.support = hit.scores["coverage"] = coverage(concepts, form)
        recency = _recency(hits, plan, prior, today) if plan.prefer_latest else {}
        for hit in hits:
            hit.scores["prior"] = prior.get(hit.report.id, 0.0)
            if hit.support >= RECENT_SUPPORT:  # "latest" orders the passages that answer, not all
                hit.scores["prior"] += recency.get(hit.report.id, 0.0)
            hit.score = hit.score / top + COVERAGE_WEIGHT * hit.support + PRIOR_WEIGHT * hit.scores["prior"]
        hits.sort(key=lambda h: h.score, reverse=True)

    def _openings(self, prior: dict[str, float], have: set[str]) -> list[tuple[str, float]]:
        """The opening passages (title, masthead) of the reports the prior favours: a question about
        a note itself ("华创晨会纪要是哪天发布的", "who wrote CITIC's update") may share no word with
        its body."""
        versions = self.lexical.versions
        favoured = sorted((rid for rid, p in prior.items() if p > 0), key=lambda rid: -prior[rid])
        ids = [Store.chunk_id(rid, versions.get(rid, ""), 0) for rid in favoured[:OPENINGS]]
        return [(cid, 0.0) for cid in ids if cid not in have]

    def _expander(self, where: SearchFilter | None) -> Callable[[str], list[Expansion]]:
        """English words of the question nothing else took, read as Chinese forms the notes
        searched (within the explicit filter) hold."""
        lexical = self.lexical

        def probe(tokens: list[str], k: int) -> list[str]:
            found = [lexical.chunk(cid) for cid, _ in lexical.search(tokens, k, where)]
            return [f[0].search_text for f in found if f is not None]

        translator = Translator(
            english_dictionary(),
            self.tokenizer.tokens,
            lexical.vocabulary,
            probe,
            self._similarity,
            doc_freq=lexical.doc_freq,
        )
        return lambda form: translator.expand(form, [], NOT_EXPANDED)

    def _subject(self, report: Report) -> str:
        """The one company a note's opening line names ("美的集團(000333.SZ):海外自有品牌提速"
        under a masthead title), in search form; empty when it names none or several (a digest)."""
        version = self.lexical.versions.get(report.id, "")
        if (report.id, version) in self._subjects:
            return self._subjects[(report.id, version)]
        found = self.lexical.chunk(Store.chunk_id(report.id, version, 0))
        if not found:
            return ""
        opening = "\n".join(p for p in (found[0].section, found[0].text.split("\n")[0]) if p)[:200]
        names = {search_form(name) for name, _, _ in self.lexicon.find_stocks(opening)}
        names |= {search_form(stock.name) for stock, _, _ in self.lexicon.company_spans(opening)}
        subject = names.pop() if len(names) == 1 else ""
        if len(self._subjects) > 100_000:
            self._subjects.clear()
        self._subjects[(report.id, version)] = subject
        return subject

    def _chunk_before(self, hit: Hit) -> Chunk | None:
        if hit.chunk.paragraph == 0:
            return None
        version = self.lexical.versions.get(hit.report.id, "")
        found = self.lexical.chunk(Store.chunk_id(hit.report.id, version, hit.chunk.paragraph - 1))
        return found[0] if found else None

    def _fuse(
        self, lexical: list[tuple[str, float]], dense: list[tuple[str, float]]
    ) -> list[tuple[str, float]]:
        scores: dict[str, float] = {}
        if self.fusion == "weighted" and lexical:
            top = lexical[0][1] or 1.0
            for cid, s in lexical:
                scores[cid] = s / top
            for cid, s in dense:
                scores[cid] = scores.get(cid, 0.0) + self.dense_weight * max(s, 0.0)
        else:  # reciprocal rank fusion
            for rank, (cid, _) in enumerate(lexical):
                scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
            for rank, (cid, _) in enumerate(dense):
                scores[cid] = scores.get(cid, 0.0) + self.dense_weight / (RRF_K + rank + 1)
        return sorted(scores.items(), key=lambda item: item[1], reverse=True)

    def _hits(self, fused, lexical, dense) -> list[Hit]:
        lexical_rank = {cid: (rank + 1, s) for rank, (cid, s) in enumerate(lexical)}
        dense_rank = {cid: (rank + 1, s) for rank, (cid, s) in enumerate(dense)}
        hits: list[Hit] = []
        seen: set[str] = set()
        for cid, score in fused:
            found = self.lexical.chunk(cid)
            if found is None:
                continue
            chunk, report = found
            # the same paragraph from a repeated block or a re-issued report appears once
            printed = fingerprint(chunk.text)
            if printed in seen:
                continue
            seen.add(printed)
            scores = {"fused": score}
            if cid in lexical_rank:
                scores["bm25"], scores["rank_bm25"] = lexical_rank[cid][1], float(lexical_rank[cid][0])
            if cid in dense_rank:
                scores["dense"], scores["rank_dense"] = dense_rank[cid][1], float(dense_rank[cid][0])
            hits.append(Hit(chunk=chunk, report=report, score=score, scores=scores))
        return hits


def _merge(first: list[tuple[str, float]], more: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Two candidate lists of one retriever (same scale), best score first, each chunk once."""
    best: dict[str, float] = dict(first)
    for cid, s in more:
        best[cid] = max(s, best.get(cid, s))
    return sorted(best.items(), key=lambda item: item[1], reverse=True)


def _recency(hits: list[Hit], plan: QueryPlan, prior: dict[str, float], today: date) -> dict[str, float]:
    """For "latest": the newest of the reports whose passages answer (not after `today`; of the kind
    and broker asked for, when there are such) gets LATEST, older ones less. Among the candidates
    that answer, not the whole index: the newest note about the question, not the newest note."""
    reports = {h.report.id: h.report for h in hits if h.support >= RECENT_SUPPORT}.values()
    pool = [r for r in reports if r.kind == plan.kind] if plan.kind else list(reports)
    pool = pool or list(reports)
    if plan.broker:
        pool = [r for r in pool if prior.get(r.id, 0.0) > 0] or pool
    dates = sorted({d for r in pool if (d := _end_date(r)) and d <= today.isoformat()}, reverse=True)
    return {r.id: LATEST / (1 + dates.index(d)) for r in pool if (d := _end_date(r)) in dates}


def _date_strength(since: str | None, until: str | None) -> float:
    """How much a time read from a question says about which note is meant: "the week of Dec 16"
    names a weekly, "December" a month of notes, "2025" is as often the subject ("capex in 2025")."""
    if not (since and until):
        return 0.5  # "since December", "before 2025"
    days = (date.fromisoformat(until) - date.fromisoformat(since)).days + 1
    return 1.0 if days <= 8 else 0.6 if days <= 31 else 0.25


def _end_date(report: Report) -> str | None:
    """When a report speaks to: its publish date, else the end of the period it covers."""
    if report.date:
        return report.date
    return report.period.split("/")[1] if report.period else None
