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
from index.lexical import LexicalIndex
from index.lexicon import Lexicon
from index.normalize import default_tokenizer
from index.pipeline import Indexer
from index.records import Report
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
        return Indexer(self.store, self.embedder_status.embedder, self.tokenizer, self.lexicon)

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

    def search(self, question: str, **kwargs) -> SearchResult:
        self._refresh_before_search()
        return self.searcher.search(question, **kwargs)

    def status(self) -> dict[str, object]:
        """Sizes are the shared store's: a replica that never searched catches up first."""
        self.refresh()
        return {
            "store": self.settings.chroma_url or str(self.settings.home / "chroma"),
            "store_reachable": self.store.ping(),
            "space": self.space,
            "embed_model": self.embedder_status.embedder.name if self.embedder_status.embedder else None,
            "embed_problem": self.embedder_status.problem,
            "rerank_model": self.settings.rerank_model if self.reranker else None,
            "reports": len(self.lexical.reports),
            "chunks": len(self.lexical),
            "generation": self.lexical.generation,
        }
