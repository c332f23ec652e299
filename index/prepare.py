"""Turning a report file into a Report, its chunks and their tokens, in this process or in a pool.

Parsing (read, clean, describe, chunk, jieba) is CPU-bound Python, so a large batch is spread over
one process per core; a single file (an upload) is parsed in-process, so it never waits for workers
to start. This module imports no store and no model: workers stay small and start fast.
"""

from __future__ import annotations

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
from index.lexicon import Lexicon
from index.normalize import Tokenizer, default_tokenizer
from index.readers import read_document
from index.records import Chunk, Report

POOL_MIN_FILES = 8  # fewer files are parsed in-process: starting workers costs ~1-2 s
_AHEAD_PER_WORKER = 2  # files handed to each worker ahead of time: enough to keep it busy, no more


@dataclass
class Prepared:
    report: Report
    chunks: list[Chunk]
    tokens: list[list[str]]
    pages: int | None = None  # pages of a paged source (PDF); None for text, HTML, DOCX


@dataclass
class ParseJob:
    path: Path
    source: str  # the report's source name (its absolute path, or an upload id)
    report_id: str
    content_hash: str


@dataclass
class ParseFailure:
    reason: str
    detail: str = ""  # a traceback for the log, for errors that are not the file's fault


def prepare_report(
    path: Path, source: str, report_id: str, content_hash: str, tokenizer: Tokenizer, lexicon: Lexicon
) -> Prepared:
    document = read_document(path)
    cleaned = clean_reprint_boilerplate(document.blocks, document.title_hint)
    if not cleaned.paragraphs:
        raise ReadError(path, "no report text found (only site chrome or disclaimer)")
    desc = describe_report(document.blocks, cleaned, lexicon, document.title_hint)
    pieces = chunk_paragraphs(cleaned.paragraphs)
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
        content_hash=content_hash,
    )
    # the PDF reader counts pages; other formats have none (getattr: older readers lack the field)
    pages = getattr(document, "pages", None)
    return Prepared(report, chunks, tokens, pages if isinstance(pages, int) else None)


def _attempt(job: ParseJob, tokenizer: Tokenizer, lexicon: Lexicon) -> Prepared | ParseFailure:
    try:
        return prepare_report(job.path, job.source, job.report_id, job.content_hash, tokenizer, lexicon)
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
                job = next(pending, None)
                if job is None:
                    break
                in_flight.append((job, pool.submit(_parse_in_worker, job)))
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
