"""The command functions every adapter calls: ask, weekly, reindex, add_file, reports, help.

Slack, Feishu and the console translate their events into these calls and render what comes back.
The service holds no per-user state of its own: history, de-duplication and feedback live in the
state store (SQLite or Redis), so replicas can run side by side.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import cast

from bot import metrics
from bot.answer import Answer, Citation
from bot.answering.changes import describe_changes, wants_changes
from bot.answering.extractive import answer_extractively, not_found_answer
from bot.answering.generative import answer_with_llm, rewrite_queries
from bot.answering.weekly import summarize_weekly
from bot.llm import LLMClient
from bot.permissions import Requester, require_admin
from bot.state import StateStore, open_state
from index.filters import SearchFilter
from index.followup import Turn
from index.library import Library
from index.query import parse_query
from index.records import Report
from index.settings import Settings
from index.summary import Failure, IndexSummary

log = logging.getLogger("yanbao.service")

MAX_QUESTION_CHARS = 2000
SEARCH_DEPTH = 8
FEEDBACK_CLAIM_SECONDS = 30 * 86400

HELP_TEXT = """\
*yanbao* (研报) answers questions about the indexed research notes and cites the paragraphs it used.
• Ask anything, in English or Chinese: "Which stocks does Shanxi recommend for edge compute?", "豆包11月月活?"
• Narrow by broker or date in the question: "山证 latest weekly", "2024年12月 光模块"
• /weekly [broker|sector] — summary of the latest weekly note(s)
• /reports — the indexed reports
• /reindex — re-scan the report folders (admins); admins can also send a PDF/DOCX/HTML/TXT to index it
• Reply in the thread to ask a follow-up ("and for IDC?")"""


class Yanbao:
    """One per process. Heavy parts (store, models, lexical index) load on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        library: Library | None = None,
        state: StateStore | None = None,
        llm: LLMClient | None = None,
    ) -> None:
        self.settings = settings
        self._library = library
        self._state = state
        self._llm = (
            llm if llm is not None else LLMClient.from_settings(settings, on_usage=metrics.count_llm_usage)
        )
        self._lock = threading.Lock()
        self._weekly_cache: dict[tuple, Answer] = {}

    # ---- lazily opened parts ------------------------------------------------------------------
    @property
    def library(self) -> Library:
        if self._library is None:
            with self._lock:
                if self._library is None:
                    self._library = Library(self.settings)
        return self._library

    @property
    def state(self) -> StateStore:
        if self._state is None:
            with self._lock:
                if self._state is None:
                    self._state = open_state(self.settings)
        return self._state

    @property
    def llm(self) -> LLMClient | None:
        return self._llm

    @property
    def weekly_cache(self) -> dict[tuple, Answer]:
        """Summaries by report versions, shared by /weekly and the digests."""
        return self._weekly_cache

    # ---- ask --------------------------------------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        conversation: str | None = None,
        broker: str | None = None,
        since: str | None = None,
        until: str | None = None,
        on_text: Callable[[str], None] | None = None,
        today: date | None = None,
        hits: int = 0,
        where: SearchFilter | None = None,
    ) -> Answer:
        """Answer a question. `conversation` (e.g. "slack:C123:1700000000.0001") keeps follow-up
        context; `on_text` receives the growing answer text while an LLM streams; `hits` > 0 adds
        the top retrieved paragraphs to the answer (to score retrieval apart from answering);
        `where` is what may be searched (a channel's scope): the engines see nothing else."""
        started = time.perf_counter()
        question, note = _trim(question)
        if not question:
            return Answer(
                question="", answer=HELP_TEXT, mode="extractive", found=False, note="empty question"
            )
        library = self.library
        plan = parse_query(question, today or date.today(), library.lexicon)
        if wants_changes(question, plan.broker, plan.companies) and not (since or until):
            answer = self._changes_answer(question, plan, broker=broker, on_text=on_text, where=where)
            if answer is not None:
                if conversation:
                    self.state.append_history(conversation, _turn(question, plan, answer).to_json())
                metrics.record_answer(answer.mode, answer.found)
                return answer
        history = self.state.get_history(conversation) if conversation else []
        previous = Turn.from_json(history[-1]) if history else None
        extra_queries = rewrite_queries(self._llm, question) if self._llm else []
        # one index call: the plan, the ranked hits and each hit's evidence sentences
        result = library.search(
            question,
            k=max(SEARCH_DEPTH, hits),
            broker=broker,
            since=since,
            until=until,
            today=today,
            previous=previous,
            extra_queries=extra_queries,
            where=where,
            stage_timer=metrics.observe_stage,
        )
        plan = result.plan
        with metrics.stage_timer("answer"):
            answer = answer_extractively(question, result, library.lexicon)
        if self._llm is not None and result.hits:
            with metrics.stage_timer("llm"):
                attempt = answer_with_llm(
                    self._llm, plan.question, result.hits, library.lexicon, on_text=on_text
                )
            if attempt.answer is not None:
                if attempt.answer.found:
                    answer = attempt.answer
                else:
                    answer = not_found_answer(question, result, mode="llm")
                    answer.model = self._llm.model
            else:
                answer.fallback = attempt.problem
                metrics.LLM_ERRORS.labels(reason="fallback").inc()
                log.warning("LLM answer not used, extractive fallback", extra={"reason": attempt.problem})
        answer.note = note or answer.note
        if hits > 0:
            answer.hits = [
                {**Citation.from_hit(n, hit).to_json(), "score": round(hit.score, 6)}
                for n, hit in enumerate(result.hits[:hits], start=1)
            ]
        if conversation:
            self.state.append_history(conversation, _turn(question, plan, answer).to_json())
        metrics.record_answer(answer.mode, answer.found)
        self._update_index_gauges()
        metrics.observe_stage("total", time.perf_counter() - started)
        return answer

    # ---- weekly -------------------------------------------------------------------------------
    def weekly(
        self,
        broker: str | None = None,
        sector: str | None = None,
        *,
        on_text: Callable[[str], None] | None = None,
        where: SearchFilter | None = None,
    ) -> Answer:
        library = self.library
        library.refresh()
        return summarize_weekly(
            library,
            broker=broker,
            sector=sector,
            llm=self._llm,
            cache=self._weekly_cache,
            on_text=on_text,
            where=where,
        )

    # ---- what changed --------------------------------------------------------------------------
    def _changes_answer(
        self,
        question: str,
        plan,
        *,
        broker: str | None,
        on_text: Callable[[str], None] | None,
        where: SearchFilter | None,
    ) -> Answer | None:
        """A question asking what changed since the last weekly; None when no two weeklies of the
        broker asked can be compared (the question is then searched like any other)."""
        broker = broker or plan.broker
        language = "en" if plan.language == "en" else "zh"
        for sector in [*plan.sectors[:1], None]:
            answer = self.changes(
                broker, sector, language=language, question=question, on_text=on_text, where=where
            )
            if answer.found:
                return answer
        return None

    def changes(
        self,
        broker: str | None = None,
        sector: str | None = None,
        *,
        language: str = "en",
        where: SearchFilter | None = None,
        question: str | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> Answer:
        """What changed between the latest weekly of `broker` (about `sector`) and the one before."""
        library = self.library
        library.refresh()
        return describe_changes(
            library,
            broker=broker,
            sector=sector,
            language=language,
            llm=self._llm,
            where=where,
            question=question,
            on_text=on_text,
        )

    def weekly_scope(self, words: str) -> tuple[str | None, str | None]:
        """`/weekly 山证` names a broker (any alias), `/weekly 通信` a sector: (broker, sector)."""
        return self.broker_and_sector(words)

    def broker_and_sector(self, words: str) -> tuple[str | None, str | None]:
        """ "山西证券 通信", "Shanxi telecom", "国盛计算机": the broker named (canonical) and the
        words left as the sector; either may be None."""
        words = (words or "").strip()
        if not words:
            return None, None
        spans = self.library.lexicon.broker_spans(words)
        if not spans:
            return None, words
        broker, start, end = spans[0]
        rest = (words[:start] + " " + words[end:]).strip(" ,，、;；:：")
        return broker, " ".join(rest.split()) or None

    # ---- indexing (admins only: what is indexed is what every user's answers cite) -------------
    def reindex(self, paths: list[Path] | None = None, *, by: Requester, prune: bool = True) -> IndexSummary:
        """Re-scan `paths` (default: settings.report_dirs) incrementally, one index run at a time
        across processes and replicas. Raises NotPermitted unless `by` is an admin (or the operator);
        index.pipeline.UsageError for a path that is not a report file or folder."""
        require_admin(self.settings, by, "re-index the reports")
        targets = [Path(p).expanduser() for p in paths] if paths else list(self.settings.report_dirs)
        if not targets:
            summary = IndexSummary()
            summary.failed.append(
                Failure("YANBAO_REPORT_DIRS", "no report folders configured (set YANBAO_REPORT_DIRS)")
            )
            return summary
        missing = [p for p in targets if not Path(p).exists()]
        if missing:
            summary = IndexSummary()
            summary.failed.extend(Failure(str(p), "no such file or folder") for p in missing)
            targets = [p for p in targets if Path(p).exists()]
            if not targets:
                return summary
        with self.state.lock("index"):
            result = self.library.index(targets, prune=prune, progress=False)
        if missing:
            result.failed = summary.failed + result.failed
        self._update_index_gauges()
        return result

    def add_file(self, path: Path, source: str, *, by: Requester) -> IndexSummary:
        """Index one uploaded file; `source` is what citations show (e.g. "slack:F123/note.pdf").
        summary.reports holds the new Report; summary.failed the exact reason when it failed.
        Raises NotPermitted unless `by` is an admin."""
        require_admin(self.settings, by, "add reports to the index")
        with self.state.lock("index"):
            summary = self.library.index([path], progress=False, sources={Path(path): source})
        if summary.unchanged and not summary.reports:
            from index.pipeline import report_id_for

            report, _ = self.library.store.record(report_id_for(source))
            if report is not None:
                summary.reports.append(report)
        self._update_index_gauges()
        return summary

    def remove_report(self, report_id: str, *, by: Requester) -> bool:
        require_admin(self.settings, by, "remove reports from the index")
        with self.state.lock("index"):
            removed = self.library.remove(report_id)
        self._update_index_gauges()
        return removed

    def reports(self) -> list[Report]:
        return self.library.reports()

    def report_paragraphs(self, report_id: str) -> dict | None:
        """`{"report": Report, "paragraphs": [{"paragraph", "page", "section", "text"}]}`: what was
        read from a report's file, as stored; None when no report has that id (or id prefix)."""
        found = self.library.report_paragraphs(report_id)
        if found is None:
            return None
        report, chunks = found
        paragraphs = [
            {"paragraph": c.paragraph, "page": c.page, "section": c.section, "text": c.text} for c in chunks
        ]
        return {"report": report.to_json(), "paragraphs": paragraphs}

    def help_text(self) -> str:
        return HELP_TEXT

    def record_feedback(self, record: dict, *, once_per: str) -> bool:
        """Store a 👍/👎 record unless one with the same `once_per` key was stored (a re-pushed click,
        a double click); True when stored. The key is claimed first, in the shared state store."""
        if not self.state.claim(f"feedback:{once_per}", FEEDBACK_CLAIM_SECONDS):
            return False
        self.state.add_feedback(record)
        metrics.FEEDBACK.labels(value=str(record.get("vote", "unknown"))).inc()
        return True

    def notes_count(self) -> int:
        """How many reports a question searches (for "searching 32 notes…")."""
        return len(self.library.lexical.reports)

    def health(self) -> dict[str, object]:
        status = self.library.status()
        metrics.set_index_size(cast(int, status["reports"]), cast(int, status["chunks"]))
        return {
            "ok": bool(status["store_reachable"]) and self.state.ping(),
            "store": status["store_reachable"],
            "state": self.state.ping(),
            "model": status["embed_model"],
            "reports": status["reports"],
            "chunks": status["chunks"],
        }

    def _update_index_gauges(self) -> None:
        """The index-size gauges follow the shared store on every replica, not only on the one that
        indexed (cheap: the lexical cache already knows its sizes after a refresh)."""
        lexical = self.library.lexical
        metrics.set_index_size(len(lexical.reports), len(lexical))


def _trim(question: str) -> tuple[str, str | None]:
    question = (question or "").strip()
    if len(question) > MAX_QUESTION_CHARS:
        return question[
            :MAX_QUESTION_CHARS
        ], f"question trimmed to its first {MAX_QUESTION_CHARS:,} characters"
    return question, None


def _turn(question: str, plan, answer: Answer) -> Turn:
    return Turn(
        question=question,
        broker=plan.broker,
        since=plan.since,
        until=plan.until,
        kind=plan.kind,
        wants_list=plan.wants_list,
        intent_terms=list(plan.terms),
        report_ids=list(dict.fromkeys(c.report_id for c in answer.citations)),
        found=answer.found,
    )
