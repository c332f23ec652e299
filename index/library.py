"""The index as the bot sees it: open once from settings, then index, search, list and remove.

`bot/` calls only this class; it never touches Chroma, readers or tokenizers itself.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from index import killpoints
from index.embedding import EmbedderStatus, load_embedder, resolve_model_path
from index.files import max_bytes
from index.lexical import LexicalIndex
from index.lexicon import Lexicon
from index.normalize import default_tokenizer
from index.pipeline import Indexer
from index.records import Chunk, Report
from index.redact import redact_url
from index.search import Reranker, Searcher, SearchResult
from index.settings import Settings
from index.store import Store, connect
from index.summary import IndexSummary

log = logging.getLogger("yanbao.library")


class Library:
    def __init__(self, settings: Settings, embedder_status: EmbedderStatus | None = None) -> None:
        self.settings = settings
        killpoints.arm(settings.kill_at)
        self.embedder_status = embedder_status or load_embedder(settings)
        if self.embedder_status.problem:
            log.warning(
                "embedding model unavailable, running lexical-only",
                extra={"model": self.embedder_status.requested, "reason": self.embedder_status.problem},
            )
        self.space = self.embedder_status.space
        self.store = Store(connect(settings), self.space, settings.namespace)
        self.store.upgrade()  # chunks written by older versions get the filter fields (once)
        self.lexicon = Lexicon.load()
        self.tokenizer = default_tokenizer()
        self.lexical = LexicalIndex(settings.home / "lexical" / self.space)
        self.reranker = self._load_reranker(settings)
        self.searcher = Searcher(
            self.store,
            self.lexical,
            self.tokenizer,
            self.lexicon,
            self.embedder_status.embedder,
            self.reranker,
            fusion=settings.fusion,
            dense_weight=settings.dense_weight,
        )
        self._write_lock = threading.Lock()
        self._refreshed = float("-inf")

    @staticmethod
    def _load_reranker(settings: Settings) -> Reranker | None:
        if not settings.rerank_model or settings.rerank_model.lower() == "none":
            return None
        path, problem = resolve_model_path(settings.rerank_model)
        if path is None:
            log.warning("reranker unavailable", extra={"model": settings.rerank_model, "reason": problem})
            return None
        try:
            return Reranker(path)
        except Exception as exc:
            log.warning("reranker unavailable", extra={"model": settings.rerank_model, "reason": str(exc)})
            return None

    @property
    def indexer(self) -> Indexer:
        return Indexer(
            self.store,
            self.embedder_status.embedder,
            self.tokenizer,
            self.lexicon,
            max_bytes(self.settings.max_file_mb),
        )

    def index(
        self,
        paths: list[Path],
        *,
        prune: bool = False,
        progress: bool | None = None,
        sources: dict[Path, str] | None = None,
    ) -> IndexSummary:
        with self._write_lock:
            summary = self.indexer.run(paths, prune=prune, progress=progress, sources=sources)
        self.refresh(wait=True)
        return summary

    def remove(self, report_id: str) -> bool:
        with self._write_lock:
            removed = self.indexer.remove(report_id)
        self.refresh(wait=True)
        return removed

    def close(self) -> None:
        """Release the store client and the lexical index's files (tests open many libraries)."""
        self.lexical.close()
        self.store.close()

    def rebuild_lexical(self) -> int:
        """Rebuild this replica's lexical index from the store; returns the chunks it holds."""
        self.lexical.rebuild(self.store)
        return len(self.lexical)

    def refresh(self, wait: bool = False) -> bool:
        """Catch up with index runs made by this or another process (cheap when nothing changed).
        wait=False serves what is applied when another process is busy applying the same changes."""
        self._refreshed = time.monotonic()
        return self.lexical.refresh(self.store, wait=wait)

    def _refresh_before_search(self) -> None:
        """Read the change log at most every `refresh_seconds` while questions keep coming."""
        if time.monotonic() - self._refreshed >= self.settings.refresh_seconds:
            self.refresh()

    def reports(self) -> list[Report]:
        self.refresh()
        return sorted(self.lexical.reports.values(), key=lambda r: (r.date or "", r.title), reverse=True)

    def report_paragraphs(self, report_id: str) -> tuple[Report, list[Chunk]] | None:
        """A committed report and its stored paragraphs (chunks) in reading order; None if there is
        no such report. `report_id` may be a unique prefix of the id `reports` lists."""
        report, meta = self.store.record(report_id)
        if report is None:
            matches = [r for r in self.reports() if r.id.startswith(report_id)] if len(report_id) >= 4 else []
            if len(matches) != 1:
                return None
            report, meta = self.store.record(matches[0].id)
        if report is None or meta.get("removed") or not meta.get("version"):
            return None
        return report, [stored.chunk for stored in self.store.chunks_of(report.id, meta["version"])]

    def committed_after(self, generation: int) -> tuple[int, list[Report]]:
        """(the store's generation, the reports committed after `generation`): what a process
        watching for new notes reads, whoever indexed them. Pass the returned generation next
        time; a run still writing may show its reports twice (callers dedupe by report id)."""
        changes = self.store.changes_after(generation)
        # a writer commits above the highest generation any record holds, so what is committed
        # later is above this one (the counter itself may lag after a kill: not read here)
        now = max([generation, *(c.generation for c in changes)])
        changed = [c.report for c in changes if c.report is not None]
        return now, sorted(changed, key=lambda r: (r.date or "", r.id))

    def search(self, question: str, **kwargs) -> SearchResult:
        self._refresh_before_search()
        return self.searcher.search(question, **kwargs)

    def status(self) -> dict[str, object]:
        """Sizes are the shared store's: a replica that never searched catches up first."""
        self.refresh()
        return {
            "store": redact_url(self.settings.chroma_url)
            if self.settings.chroma_url
            else str(self.settings.home / "chroma"),
            "store_reachable": self.store.ping(),
            "space": self.space,
            "embed_model": self.embedder_status.embedder.name if self.embedder_status.embedder else None,
            "embed_problem": self.embedder_status.problem,
            "embed_backend": self.embedder_status.backend,
            "embed_why": self.embedder_status.why,
            "rerank_model": self.settings.rerank_model if self.reranker else None,
            "reports": len(self.lexical.reports),
            "chunks": len(self.lexical),
            "generation": self.lexical.generation,
        }
