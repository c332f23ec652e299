"""An index run: find report files, skip the unchanged ones by content hash, and write each changed
report to the store all-or-nothing. One bad file never stops the others."""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from index.chunking import chunk_paragraphs, search_text_for
from index.clean import clean_reprint_boilerplate
from index.describe import describe_report
from index.embedding import Embedder
from index.files import DEFAULT_MAX_FILE_MB, max_bytes, read_report_file
from index.lexicon import Lexicon
from index.normalize import Tokenizer
from index.readers import SUPPORTED_SUFFIXES, ReadError, read_bytes
from index.records import Chunk, Report
from index.store import Store
from index.summary import Failure, IndexSummary

log = logging.getLogger("yanbao.index")

# Bump when cleaning, describing or chunking changes, so every report is re-indexed once.
PIPELINE_VERSION = "3"  # 2: sentences not cut at ；, digest listings, metadata cues; 3: text/HTML tables carry their header


class UsageError(ValueError):
    """A path given on the command line does not exist or is not a report file (exit code 2)."""


@dataclass
class Prepared:
    report: Report
    chunks: list[Chunk]
    tokens: list[list[str]]


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


def report_id_for(source: str) -> str:
    """Stable for as long as the report keeps its source (its absolute path, or upload id)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def content_version(data: bytes, space: str) -> str:
    digest = hashlib.sha256(data)
    digest.update(f"\0pipeline={PIPELINE_VERSION}\0space={space}".encode())
    return digest.hexdigest()[:20]


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

    def prepare(self, path: Path, source: str, data: bytes) -> Prepared:
        document = read_bytes(data, str(path))  # the bytes index_file read, not a second read
        cleaned = clean_reprint_boilerplate(document.blocks, document.title_hint)
        if not cleaned.paragraphs:
            raise ReadError(path, "no report text found (only site chrome or disclaimer)")
        desc = describe_report(
            document.blocks,
            cleaned,
            self.lexicon,
            document.title_hint,
            document.hints,
            date_hint=document.date_hint,
            file_name=path.name,
        )
        pieces = chunk_paragraphs(cleaned.paragraphs)
        if not pieces:  # a title or a heading alone is not a report: say so instead of 0 chunks
            raise ReadError(
                path, f"no report text, only a title or heading ({cleaned.paragraphs[0].text[:40]!r})"
            )
        report_id = report_id_for(source)
        chunks: list[Chunk] = []
        tokens: list[list[str]] = []
        for number, piece in enumerate(pieces):
            search_text = search_text_for(piece)
            chunks.append(Chunk(report_id, number, piece.text, search_text, piece.section, piece.page))
            tokens.append(self.tokenizer.tokens(search_text))
        report = Report(
            id=report_id,
            title=desc.title,
            broker=desc.broker,
            date=desc.date,
            period=desc.period,
            analysts=desc.analysts,
            source=source,
            kind=desc.kind,
            chunks=len(chunks),
            tickers=desc.tickers,
            stocks=desc.stocks,
            content_hash=hashlib.sha256(data).hexdigest()[:20],
            rating=desc.rating,
            target_price=desc.target_price,
            ticker=desc.ticker,
        )
        return Prepared(report, chunks, tokens)

    def index_file(
        self, path: Path, source: str, generation: int, summary: IndexSummary, committed: dict[str, str]
    ) -> None:
        """Index one file into `summary`; the caller catches nothing: failures are recorded here."""
        try:
            data = read_report_file(path, self.max_file_bytes)  # regular files only, capped
        except ReadError as exc:
            summary.failed.append(Failure(str(path), exc.reason))
            return
        report_id = report_id_for(source)
        version = content_version(data, self.store.space)
        if committed.get(report_id) == version:
            summary.unchanged += 1
            return
        try:
            prepared = self.prepare(path, source, data)
            embeddings = None
            if self.embedder is not None:
                embeddings = self.embedder.embed_passages([c.search_text for c in prepared.chunks])
            self.store.write_report(
                prepared.report, version, prepared.chunks, prepared.tokens, embeddings, generation
            )
        except ReadError as exc:
            summary.failed.append(Failure(str(path), exc.reason))
            return
        except Exception as exc:  # one broken file must not stop the run; say which and why
            log.exception("indexing failed", extra={"path": str(path)})
            summary.failed.append(Failure(str(path), f"{type(exc).__name__}: {exc}"))
            return
        if report_id in committed:
            summary.updated += 1
        else:
            summary.added += 1
        committed[report_id] = version
        summary.chunks += len(prepared.chunks)
        summary.reports.append(prepared.report)

    def run(
        self,
        paths: list[Path],
        *,
        prune: bool = False,
        progress: bool | None = None,
        sources: dict[Path, str] | None = None,
        on_file: Callable[[Path], None] | None = None,
    ) -> IndexSummary:
        """Index files and folders. `sources` maps a file to the source name to show for it
        (uploads); otherwise the source is the file's absolute path."""
        started = time.monotonic()
        files = discover(paths)
        summary = IndexSummary()
        finished = self.store.pending_reports()
        for report_id in finished:  # finish what a crashed run left half-done
            self.store.finish_pending(report_id)
        committed = self.store.committed_versions()
        generation = self.store.generation() + 1
        show = sys.stderr.isatty() if progress is None else progress
        bar = tqdm(files, desc="indexing", unit="file", disable=not show, file=sys.stderr)
        for file, _root in bar:
            bar.set_postfix_str(file.name[:30])
            source = (sources or {}).get(file) or str(file.resolve())
            self.index_file(file, source, generation, summary, committed)
            if on_file:
                on_file(file)
        bar.close()
        if prune:
            summary.removed = self._prune([Path(p).expanduser().resolve() for p in paths], generation)
        if summary.added or summary.updated or summary.removed or finished:
            # finishing a crashed run changes what searches see too: every lexical cache must catch up
            self.store.bump_generation()
        summary.seconds = time.monotonic() - started
        return summary

    def _prune(self, roots: list[Path], generation: int) -> int:
        removed = 0
        for report in self.store.reports():
            source = Path(report.source)
            if not source.is_absolute():
                continue  # uploads and URLs are not files under a root
            under_root = any(source == root or root in source.parents for root in roots)
            if under_root and not source.exists() and self.store.remove_report(report.id, generation):
                removed += 1
        return removed

    def remove(self, report_id: str) -> bool:
        generation = self.store.generation() + 1
        if self.store.remove_report(report_id, generation):
            self.store.bump_generation()
            return True
        return False
