"""Turning a report file into a Report, its chunks and their tokens, in this process or in a pool.

Parsing (read, clean, describe, chunk, jieba) is CPU-bound Python, so a large batch is spread over
one process per core; a single file (an upload) is parsed in-process, so it never waits for workers
to start. This module imports no store and no model: workers stay small and start fast.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import traceback
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from index.chunking import chunk_paragraphs, search_text_for
from index.clean import clean_reprint_boilerplate
from index.describe import describe_report
from index.errors import ReadError
from index.files import read_report_file
from index.lexicon import Lexicon
from index.normalize import Tokenizer, default_tokenizer
from index.readers import read_bytes
from index.records import Chunk, Report

# Bump when cleaning, describing or chunking changes, so every report is re-indexed once.
PIPELINE_VERSION = "5"  # 2: sentences not cut at ；, digest listings kept as text, new metadata cues;
# 3: text/HTML tables carry their header; 4: mastheads and desk-name lines are not titles, analysts
# without their labels, English lead names of companies (Songcheng, Jin Jiang); 5: PDF words keep
# the spaces PDFium read between them where a substituted font's boxes leave none
POOL_MIN_FILES = 8  # fewer files are parsed in-process: starting workers costs ~1-2 s
_AHEAD_PER_WORKER = 2  # files handed to each worker ahead of time: enough to keep it busy, no more


@dataclass
class Prepared:
    report: Report
    chunks: list[Chunk]
    tokens: list[list[str]]
    pages: int = 0  # PDF pages read (0 for other formats)
    version: str = ""  # content_version of the bytes parsed


@dataclass
class ParseJob:
    path: Path
    source: str  # the report's source name (its absolute path, or an upload id)
    space: str  # the store's vector space (part of the content version)
    max_bytes: int  # a larger file is refused (YANBAO_MAX_FILE_MB)


@dataclass
class ParseFailure:
    reason: str
    detail: str = ""  # a traceback for the log, for errors that are not the file's fault


def report_id_for(source: str) -> str:
    """Stable for as long as the report keeps its source (its absolute path, or upload id)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def content_version(data: bytes, space: str) -> str:
    digest = hashlib.sha256(data)
    digest.update(f"\0pipeline={PIPELINE_VERSION}\0space={space}".encode())
    return digest.hexdigest()[:20]


def prepare_report(path: Path, source: str, data: bytes, tokenizer: Tokenizer, lexicon: Lexicon) -> Prepared:
    """Read, clean, describe, chunk and tokenize the report in `data` (the bytes of `path`)."""
    document = read_bytes(data, str(path))
    cleaned = clean_reprint_boilerplate(document.blocks, document.title_hint)
    if not cleaned.paragraphs:
        raise ReadError(path, "no report text found (only site chrome or disclaimer)")
    desc = describe_report(
        document.blocks,
        cleaned,
        lexicon,
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
        tokens.append(tokenizer.tokens(search_text))
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
    return Prepared(report, chunks, tokens, document.pages)


def _attempt(job: ParseJob, tokenizer: Tokenizer, lexicon: Lexicon) -> Prepared | ParseFailure:
    """Read the file (regular files only, capped) and prepare it; the version is of the bytes
    parsed, so a file changing under the run is indexed as what was parsed."""
    try:
        data = read_report_file(job.path, job.max_bytes)
        prepared = prepare_report(job.path, job.source, data, tokenizer, lexicon)
        prepared.version = content_version(data, job.space)
        return prepared
    except ReadError as exc:
        return ParseFailure(exc.reason)
    except Exception as exc:  # one broken file must not stop the run; say which and why
        return ParseFailure(f"{type(exc).__name__}: {exc}", traceback.format_exc())


# ---- the pool ---------------------------------------------------------------------------------
_worker: tuple[Tokenizer, Lexicon] | None = None


def _start_worker() -> None:
    global _worker
    tokenizer = default_tokenizer()
    tokenizer.tokens("预热")  # load jieba and the user dictionary once per worker, not per file
    _worker = (tokenizer, Lexicon.load())


def _parse_in_worker(job: ParseJob) -> Prepared | ParseFailure:
    assert _worker is not None
    return _attempt(job, *_worker)


def workers_for(files: int) -> int:
    """Processes to parse `files` files with: 0 (in-process) for small batches or one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if files < POOL_MIN_FILES or cores < 2:
        return 0
    return min(cores, files)


def parse_all(
    jobs: Iterable[ParseJob], count: int, tokenizer: Tokenizer, lexicon: Lexicon
) -> Iterator[tuple[ParseJob, Prepared | ParseFailure]]:
    """Each job with its outcome, in order. At most a few files per worker are in flight, so
    memory stays flat however many files there are."""
    workers = workers_for(count)
    if workers == 0:
        for job in jobs:
            yield job, _attempt(job, tokenizer, lexicon)
        return
    # forkserver: workers start from a clean process, not a copy of one holding Chroma's threads
    context = multiprocessing.get_context("forkserver")
    pending = iter(jobs)
    in_flight: deque[tuple[ParseJob, Future]] = deque()
    broken = False
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker) as pool:
        while not broken:
            while len(in_flight) < workers * _AHEAD_PER_WORKER:
                upcoming = next(pending, None)
                if upcoming is None:
                    break
                in_flight.append((upcoming, pool.submit(_parse_in_worker, upcoming)))
            if not in_flight:
                break
            job, future = in_flight.popleft()
            try:
                outcome = future.result()
            except BrokenProcessPool:  # a worker died (a parser crash): this file fails
                broken = True
                outcome = ParseFailure("the parser process crashed on this file")
            yield job, outcome
    # after a worker crash, the files it left and the rest of the run are parsed in-process
    for job in [*(j for j, _ in in_flight), *pending]:
        yield job, _attempt(job, tokenizer, lexicon)
