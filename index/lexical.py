"""BM25 over jieba tokens of the simplified search form, kept in step with the Chroma store.

The store is the source of truth: every chunk carries its tokens in its metadata, and every change
to the catalog carries the store generation it was made in. This index is a local cache of those
tokens (a pickle beside the store) that catches up by reading only the reports changed since its
own generation, so replicas on one Chroma server never drift.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np

from index.records import Chunk, Report
from index.store import Store, StoredChunk

log = logging.getLogger("yanbao.lexical")
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
_FORMAT = 2


@dataclass
class _Entry:
    id: str
    chunk: Chunk
    tokens: list[str]


@dataclass
class _State:
    generation: int = -1
    reports: dict[str, Report] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    entries: dict[str, list[_Entry]] = field(default_factory=dict)  # report id -> its chunks in order


class LexicalIndex:
    def __init__(self, cache_dir: Path) -> None:
        self._path = cache_dir / "lexical.pkl"
        self._lock = threading.Lock()
        self._state = _State()
        self._retriever: bm25s.BM25 | None = None
        self._docs: list[_Entry] = []
        self._doc_report: np.ndarray = np.zeros(0, dtype=np.int32)
        self._report_ids: list[str] = []
        self._by_id: dict[str, int] = {}
        self._vocabulary: frozenset[str] = frozenset()
        self._load()

    # ---- persistence -------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            with self._path.open("rb") as fh:
                data = pickle.load(fh)
            if data.get("format") == _FORMAT:
                self._state = data["state"]
                self._rebuild()
        except FileNotFoundError:
            pass
        except Exception as exc:  # a damaged cache is rebuilt from the store, never trusted
            log.warning(
                "lexical cache unreadable, rebuilding", extra={"path": str(self._path), "error": str(exc)}
            )
            self._state = _State()

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".lexical-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump({"format": _FORMAT, "state": self._state}, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self._path)  # atomic: a crash never leaves half a cache

    # ---- keeping in step with the store --------------------------------------------------------
    @property
    def generation(self) -> int:
        return self._state.generation

    def refresh(self, store: Store) -> bool:
        """Catch up with the store. Returns True when anything changed."""
        generation = store.generation()
        if generation == self._state.generation:
            return False
        with self._lock:
            state = self._state
            since = state.generation if state.generation >= 0 else -1
            if since < 0 or generation < since:  # new cache, or the store was reset: read everything
                state = _State()
                since = -1
            for report_id, report, version in store.changed_since(since):
                if report is None or version is None:
                    state.reports.pop(report_id, None)
                    state.versions.pop(report_id, None)
                    state.entries.pop(report_id, None)
                    continue
                if state.versions.get(report_id) == version:
                    state.reports[report_id] = report
                    continue
                stored = store.chunks_of(report_id, version)
                state.reports[report_id] = report
                state.versions[report_id] = version
                state.entries[report_id] = [_entry(s) for s in stored]
            state.generation = generation
            self._state = state
            self._rebuild()
            self._save()
        return True

    def _rebuild(self) -> None:
        docs: list[_Entry] = []
        doc_report: list[int] = []
        report_ids = list(self._state.entries)
        for index, report_id in enumerate(report_ids):
            for entry in self._state.entries[report_id]:
                docs.append(entry)
                doc_report.append(index)
        retriever = None
        if docs:
            retriever = bm25s.BM25(k1=1.2, b=0.75)
            # bm25s needs at least one token per document
            retriever.index([d.tokens or ["<empty>"] for d in docs], show_progress=False)
        self._docs, self._report_ids, self._retriever = docs, report_ids, retriever
        self._by_id = {d.id: i for i, d in enumerate(docs)}
        self._vocabulary = frozenset(retriever.vocab_dict) if retriever is not None else frozenset()
        self._doc_report = np.asarray(doc_report, dtype=np.int32)

    # ---- reading -------------------------------------------------------------------------------
    @property
    def reports(self) -> dict[str, Report]:
        return self._state.reports

    @property
    def versions(self) -> dict[str, str]:
        return self._state.versions

    def __len__(self) -> int:
        return len(self._docs)

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every token some indexed chunk contains."""
        return self._vocabulary

    def idf(self, token: str) -> float | None:
        """BM25 inverse document frequency of `token`, or None when no chunk contains it."""
        retriever = self._retriever
        if retriever is None or token not in retriever.vocab_dict:
            return None
        token_id = retriever.vocab_dict[token]
        indptr = retriever.scores["indptr"]
        df = int(indptr[token_id + 1] - indptr[token_id])
        if df == 0:
            return None
        n = len(self._docs)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def chunk(self, chunk_id: str) -> tuple[Chunk, Report] | None:
        position = self._by_id.get(chunk_id)
        if position is None:
            return None
        entry = self._docs[position]
        return entry.chunk, self._state.reports[entry.chunk.report_id]

    def report_chunks(self, report_id: str) -> list[Chunk]:
        return [e.chunk for e in self._state.entries.get(report_id, [])]

    def search(
        self, tokens: list[str], k: int, report_ids: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the best `k` chunks with a positive score."""
        docs, retriever = self._docs, self._retriever
        if retriever is None or not tokens:
            return []
        scores = retriever.get_scores(tokens)
        if report_ids is not None:
            allowed = np.array([rid in report_ids for rid in self._report_ids], dtype=bool)
            if not allowed.any():
                return []
            scores = np.where(allowed[self._doc_report], scores, 0.0)
        k = min(k, len(docs))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(docs[i].id, float(scores[i])) for i in top if scores[i] > 0]


def _entry(stored: StoredChunk) -> _Entry:
    return _Entry(id=stored.id, chunk=stored.chunk, tokens=stored.tokens)
