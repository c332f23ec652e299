"""One search API for the bot: parse the question, filter reports, retrieve lexically and densely,
fuse, optionally rerank, and return typed Hits with every retriever's score."""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from index.concepts import coverage, question_concepts
from index.embedding import Embedder
from index.filters import SearchFilter
from index.lexical import LexicalIndex
from index.lexicon import Lexicon
from index.normalize import Tokenizer, search_form
from index.query import QueryPlan, parse_query
from index.records import Hit, Report
from index.store import Store

log = logging.getLogger("yanbao.search")

RRF_K = 60
CANDIDATES = 50
# Routes of a filtered dense query (measured at 100k chunks, see Searcher._dense)
DENSE_EXACT_MAX = 1000  # allowed chunks scored directly from their vectors, fetched by id (~40 ms)
DENSE_POSTFILTER_MAX = 2000  # the largest unfiltered nearest-neighbour query filtered after (~30 ms)
DENSE_POSTFILTER_ENOUGH = 20  # allowed chunks among those nearest that make the filtered query exact enough
DENSE_ID_FILTER_MAX = 300  # reports whose ids a Chroma where may list (~100 ms); above, fields
COVERAGE_WEIGHT = 0.5  # chosen on eval/dev.jsonl (see benchmarks/README.md)
_FINGERPRINT = re.compile(r"[\s\W_]+")


@dataclass
class SearchResult:
    plan: QueryPlan
    hits: list[Hit]
    reports: list[Report]  # the reports that were searched (after filters)
    where: SearchFilter | None = None  # what the engines were restricted to
    timings: dict[str, float] = field(default_factory=dict)


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

    def refresh(self) -> bool:
        return self.lexical.refresh(self.store, wait=False)

    # ---- filters ---------------------------------------------------------------------------
    def filter_reports(self, plan: QueryPlan) -> list[Report]:
        reports = list(self.lexical.reports.values())
        if plan.broker:
            reports = [r for r in reports if r.broker == plan.broker]
        if plan.since or plan.until:
            dated = SearchFilter.of(since=plan.since, until=plan.until)  # date or covered period overlaps
            in_range = [r for r in reports if dated.matches(r)]
            # Dates asked in words are a preference ("last Friday" may be when something happened,
            # not when the note came out); explicit --since/--until (plan.strict_dates) are a filter.
            reports = in_range if (in_range or getattr(plan, "strict_dates", False)) else reports
        if plan.kind:
            kind_matches = [r for r in reports if r.kind == plan.kind]
            reports = kind_matches or reports
        return reports  # newest first: lexical.reports keeps them in (date, id) order, descending

    def query_tokens(self, plan: QueryPlan) -> list[str]:
        tokens = self.tokenizer.tokens(plan.question)
        for term in plan.terms + plan.companies:
            tokens.extend(self.tokenizer.tokens(term))
        broker_forms = set()
        if plan.broker:
            broker_forms = {search_form(plan.broker), search_form(plan.broker).removesuffix("证券")}
        return [t for t in tokens if t not in broker_forms and not self.lexicon.canonical_broker(t)]

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
        extra_queries: list[str] | None = None,
        report_ids: set[str] | None = None,
        where: SearchFilter | None = None,
        stage_timer: Callable[[str, float], None] | None = None,
    ) -> SearchResult:
        """`broker`, `since`, `until`, `kind`, `report_ids` and `where` are explicit filters (a user's
        options, a command's scope): they restrict both engines. What the question itself says
        about brokers or dates is read by the query plan."""
        timings: dict[str, float] = {}

        def mark(stage: str, started: float) -> None:
            timings[stage] = time.perf_counter() - started
            if stage_timer:
                stage_timer(stage, timings[stage])

        started = time.perf_counter()
        plan = plan or parse_query(question, today or date.today(), self.lexicon)
        if broker:
            broker = plan.broker = self.lexicon.canonical_broker(broker) or broker
        explicit = SearchFilter.of(
            brokers=[broker] if broker else None,
            kinds=[kind] if kind else None,
            since=since,
            until=until,
            report_ids=report_ids,
        )
        if where:
            explicit = where
        if since or until:
            plan.since, plan.until = since or plan.since, until or plan.until
            plan.strict_dates = True
        if kind:
            plan.kind = kind
        reports = self.filter_reports(plan)
        if explicit:
            reports = [r for r in reports if explicit.matches(r)]
        engines = self._engine_filter(explicit, plan, reports)
        tokens = self.query_tokens(plan)
        for extra in extra_queries or []:
            tokens.extend(self.tokenizer.tokens(extra))
        mark("parse", started)

        started = time.perf_counter()
        lexical = self.lexical.search(tokens, CANDIDATES, engines)
        mark("retrieve_lexical", started)

        dense: list[tuple[str, float]] = []
        if self.embedder is not None and reports:
            started = time.perf_counter()
            query_text = question if not plan.terms else f"{question} {' '.join(plan.terms)}"
            vector = self.embedder.embed_query(search_form(query_text))
            versions = self.lexical.versions
            raw = self._dense(vector, engines, reports)
            # keep only chunks of committed versions the lexical cache knows (see store.py)
            dense = [
                (cid, s) for cid, s in raw if versions.get(cid.split(":", 1)[0], "")[:10] == cid.split(":")[1]
            ][:CANDIDATES]
            mark("retrieve_dense", started)

        started = time.perf_counter()
        fused = self._fuse(lexical, dense)
        hits = self._hits(fused, lexical, dense)
        self._weigh_coverage(question, plan, hits, today)
        if plan.prefer_latest and reports:
            hits = _prefer_latest(hits, reports)
        mark("fuse", started)

        if self.reranker is not None and hits:
            started = time.perf_counter()
            head = hits[: max(k * 3, 15)]
            scores = self.reranker.scores(question, [h.chunk.text for h in head])
            for hit, score in zip(head, scores, strict=True):
                hit.scores["rerank"] = score
            head.sort(key=lambda h: h.scores["rerank"], reverse=True)
            hits = head + hits[len(head) :]
            mark("rerank", started)
        return SearchResult(plan=plan, hits=hits[:k], reports=reports, where=engines, timings=timings)

    def _engine_filter(
        self, explicit: SearchFilter, plan: QueryPlan, reports: list[Report]
    ) -> SearchFilter | None:
        """What the engines are restricted to: the explicit filter, as fields both test on each
        chunk. While filter_reports still narrows by what a question implies (a gate that q10
        turns into a ranking prior), that narrowing reaches the engines too: as fields when the
        plan's broker, kind or dates describe it exactly, else as the report ids it kept."""
        everything = self.lexical.reports
        if len(reports) == len(everything) and not explicit:
            return None
        if explicit and len(reports) == explicit.count(everything.values()):
            return explicit
        fields = SearchFilter(
            report_ids=explicit.report_ids,
            brokers=explicit.brokers or _implied(plan.broker, reports, lambda r: r.broker),
            kinds=explicit.kinds or _implied(plan.kind, reports, lambda r: r.kind),
        )
        if plan.since or plan.until:
            dated = SearchFilter.of(since=plan.since, until=plan.until)
            if all(dated.matches(r) for r in reports):
                fields = replace(fields, since=dated.since, until=dated.until)
        if len(reports) == fields.count(everything.values()):
            return fields
        return replace(explicit, report_ids=frozenset(r.id for r in reports))

    def _dense(
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
        allowed = {r.id: r for r in reports}
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

    def _weigh_coverage(self, question: str, plan: QueryPlan, hits: list[Hit], today: date | None) -> None:
        """Re-order candidates by how much of the question each covers, as phrases: BM25 scores
        words one by one and favours short paragraphs; "申万通信指数" should beat a short paragraph
        about 申万计算机指数. Fused rank still orders passages that cover the question equally."""
        if not hits:
            return
        concepts = question_concepts(
            question, plan, self.lexicon, self.tokenizer, self.lexical.vocabulary, today, self.lexical.idf
        )
        top = max(h.score for h in hits) or 1.0
        for hit in hits:
            form = search_form(f"{hit.report.title}\n{hit.chunk.section or ''}\n{hit.chunk.text}")
            hit.scores["coverage"] = coverage(concepts, form)
            hit.score = hit.score / top + COVERAGE_WEIGHT * hit.scores["coverage"]
        hits.sort(key=lambda h: h.score, reverse=True)

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
            fingerprint = _FINGERPRINT.sub("", search_form(chunk.text))
            if fingerprint in seen:
                continue
            seen.add(fingerprint)
            scores = {"fused": score}
            if cid in lexical_rank:
                scores["bm25"], scores["rank_bm25"] = lexical_rank[cid][1], float(lexical_rank[cid][0])
            if cid in dense_rank:
                scores["dense"], scores["rank_dense"] = dense_rank[cid][1], float(dense_rank[cid][0])
            hits.append(Hit(chunk=chunk, report=report, score=score, scores=scores))
        return hits


def _implied(value: str | None, reports: list[Report], field) -> frozenset[str] | None:
    """{value} when every kept report has it (the plan's gate on that field was applied)."""
    return frozenset([value]) if value and all(field(r) == value for r in reports) else None


def _prefer_latest(hits: list[Hit], reports: list[Report]) -> list[Hit]:
    """For "latest": passages of the newest dated report(s) first, then the rest, each in order."""
    newest = next((r.date for r in reports if r.date), None)
    if newest is None:
        return hits
    newest_ids = {r.id for r in reports if r.date == newest}
    return [h for h in hits if h.report.id in newest_ids] + [h for h in hits if h.report.id not in newest_ids]
