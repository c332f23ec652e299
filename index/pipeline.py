"""An index run: find report files, skip the unchanged ones by content hash, parse the rest (in a
pool of processes for large batches), embed their chunks in bounded batches across reports, and
write each report to the store all-or-nothing. One bad file never stops the others.

Every run starts by reconciling with what the store holds, not with a counter a kill may have
skipped: it finishes reports a killed run left pending, and allocates generations above the
highest one any catalog record carries. Each commit and each removal gets its own generation, so
replicas see every change through the catalog records, whether or not the run got to its end.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from index.embedding import Embedder
from index.errors import ReadError
from index.files import DEFAULT_MAX_FILE_MB, max_bytes, read_report_file
from index.killpoints import kill_point
from index.lexicon import Lexicon
from index.normalize import Tokenizer
from index.prepare import (
    PIPELINE_VERSION,
    ParseFailure,
    ParseJob,
    Prepared,
    content_version,
    parse_all,
    prepare_report,
    report_id_for,
)
from index.readers import SUPPORTED_SUFFIXES
from index.store import Store
from index.summary import Failure, IndexSummary

log = logging.getLogger("yanbao.index")

# Chunks embedded per model call: batching across reports saves 1.6x of encode time on MiniLM
# (benchmarks/README.md); the bound keeps memory flat whatever the batch of files.
EMBED_BATCH = 256

__all__ = [
    "PIPELINE_VERSION",
    "Indexer",
    "Prepared",
    "UsageError",
    "content_version",
    "discover",
    "report_id_for",
]


class UsageError(ValueError):
    """A path given on the command line does not exist or is not a report file (exit code 2)."""


def discover(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(file, root it was found under) for every supported file, recursively, in a stable order."""
    found: list[tuple[Path, Path]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise UsageError(f"{raw}: no such file or folder")
        if path.is_dir():
            # not only regular files: a FIFO or a device named *.txt is reported, not silently skipped
            for file in sorted(p for p in path.rglob("*") if not p.is_dir()):
                if file.suffix.lower() in SUPPORTED_SUFFIXES and not file.name.startswith((".", "~$")):
                    found.append((file, path))
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append((path, path.parent))
        else:
            raise UsageError(f"{raw}: not a report file (expected one of {', '.join(SUPPORTED_SUFFIXES)})")
    return found


@dataclass
class _Todo:
    job: ParseJob
    report_id: str
    existed: bool  # the catalog holds a committed version of this report


@dataclass
class _EmbedBatch:
    items: list[tuple[_Todo, Prepared]] = field(default_factory=list)

    @property
    def chunks(self) -> int:
        return sum(len(p.chunks) for _, p in self.items)


class Indexer:
    def __init__(
        self,
        store: Store,
        embedder: Embedder | None,
        tokenizer: Tokenizer,
        lexicon: Lexicon,
        max_file_bytes: int = max_bytes(DEFAULT_MAX_FILE_MB),
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.tokenizer = tokenizer
        self.lexicon = lexicon
        self.max_file_bytes = max_file_bytes
        self._next_generation = 0

    def prepare(self, path: Path, source: str, data: bytes) -> Prepared:
        """Read, clean, describe, chunk and tokenize one file's bytes in this process."""
        prepared = prepare_report(path, source, data, self.tokenizer, self.lexicon)
        prepared.version = content_version(data, self.store.space) if self.store is not None else ""
        return prepared

    # ---- reconciling with the store -------------------------------------------------------------
    def reconcile(self) -> list[str]:
        """Finish what a killed run left half-done; allocate generations above every one in use.
        Returns the reports whose pending writes were finished."""
        finished = self.store.pending_reports()
        for report_id in finished:
            self.store.finish_pending(report_id)
        self._next_generation = self.store.latest_generation() + 1
        return finished

    def _take_generation(self) -> int:
        generation = self._next_generation
        self._next_generation += 1
        return generation

    def _record_generations(self) -> None:
        """Move the store's counter up to the generations this run used (a hint: see store.py)."""
        kill_point("index.before_counter")
        if self._next_generation - 1 > self.store.generation():
            self.store.bump_generation(to=self._next_generation - 1)

    # ---- a run ------------------------------------------------------------------------------------
    def run(
        self,
        paths: list[Path],
        *,
        prune: bool = False,
        progress: bool | None = None,
        sources: dict[Path, str] | None = None,
    ) -> IndexSummary:
        """Index files and folders. `sources` maps a file to the source name to show for it
        (uploads); otherwise the source is the file's absolute path."""
        started = time.monotonic()
        files = discover(paths)
        summary = IndexSummary()
        self.reconcile()
        committed = self.store.committed_versions()
        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(total=len(files), desc="indexing", unit="file", disable=not show, file=sys.stderr)
        todo = list(self._changed(files, sources or {}, committed, summary, bar))
        batch = _EmbedBatch()
        parsed = parse_all((t.job for t in todo), len(todo), self.tokenizer, self.lexicon)
        for item, (_, outcome) in zip(todo, parsed, strict=True):
            bar.set_postfix_str(f"{_rate(summary.pages, started)} pages/s {item.job.path.name[:24]}")
            if isinstance(outcome, ParseFailure):
                if outcome.detail:
                    log.error("indexing failed", extra={"path": str(item.job.path), "error": outcome.detail})
                summary.failed.append(Failure(str(item.job.path), outcome.reason))
                bar.update(1)
                continue
            batch.items.append((item, outcome))
            if batch.chunks >= EMBED_BATCH:
                self._write(batch, summary, bar)
        self._write(batch, summary, bar)
        bar.close()
        if prune:
            summary.removed = self._prune([Path(p).expanduser().resolve() for p in paths])
        self._record_generations()
        summary.seconds = time.monotonic() - started
        return summary

    def _changed(
        self,
        files: list[tuple[Path, Path]],
        sources: dict[Path, str],
        committed: dict[str, str],
        summary: IndexSummary,
        bar: tqdm,
    ) -> Iterator[_Todo]:
        """The files whose content differs from the committed version; counts the others."""
        for file, _root in files:
            source = sources.get(file) or str(file.resolve())
            try:
                data = read_report_file(file, self.max_file_bytes)  # regular files only, capped
            except ReadError as exc:
                summary.failed.append(Failure(str(file), exc.reason))
                bar.update(1)
                continue
            report_id = report_id_for(source)
            if committed.get(report_id) == content_version(data, self.store.space):
                summary.unchanged += 1
                bar.update(1)
                continue
            # the parser reads the file again (in a worker, for a batch) and versions what it parsed:
            # holding every changed file's bytes here would not keep memory flat
            job = ParseJob(file, source, self.store.space, self.max_file_bytes)
            yield _Todo(job, report_id, report_id in committed)

    def _write(self, batch: _EmbedBatch, summary: IndexSummary, bar: tqdm) -> None:
        """Embed the batch's chunks together, then write each report (each all-or-nothing)."""
        if not batch.items:
            return
        items, batch.items = batch.items, []
        vectors: list[list[float]] | None = None
        if self.embedder is not None:
            texts = [c.search_text for _, p in items for c in p.chunks]
            try:
                vectors = []
                for start in range(0, len(texts), EMBED_BATCH):
                    vectors.extend(self.embedder.embed_passages(texts[start : start + EMBED_BATCH]))
            except Exception as exc:
                log.exception("embedding failed", extra={"reports": len(items)})
                for item, _ in items:
                    summary.failed.append(Failure(str(item.job.path), f"embedding failed: {exc}"))
                bar.update(len(items))
                return
        offset = 0
        for item, prepared in items:
            count = len(prepared.chunks)
            embeddings = vectors[offset : offset + count] if vectors is not None else None
            offset += count
            try:
                self.store.write_report(
                    prepared.report, prepared.version, prepared.chunks, prepared.tokens, embeddings,
                    self._take_generation(),
                )  # fmt: skip
            except Exception as exc:  # one broken write must not stop the run; say which and why
                log.exception("indexing failed", extra={"path": str(item.job.path)})
                summary.failed.append(Failure(str(item.job.path), f"{type(exc).__name__}: {exc}"))
                bar.update(1)
                continue
            if item.existed:
                summary.updated += 1
            else:
                summary.added += 1
            summary.chunks += count
            summary.pages += prepared.pages
            summary.reports.append(prepared.report)
            bar.update(1)

    def _prune(self, roots: list[Path]) -> int:
        removed = 0
        for report in self.store.reports():
            source = Path(report.source)
            if not source.is_absolute():
                continue  # uploads and URLs are not files under a root
            under_root = any(source == root or root in source.parents for root in roots)
            if under_root and not source.exists():
                if self.store.remove_report(report.id, self._take_generation()):
                    removed += 1
        return removed

    def remove(self, report_id: str) -> bool:
        self.reconcile()
        removed = self.store.remove_report(report_id, self._take_generation())
        if removed:
            self._record_generations()
        return removed


def _rate(count: int, started: float) -> str:
    seconds = time.monotonic() - started
    return f"{count / seconds:.1f}" if seconds > 0 else "-"
