"""BM25 over jieba tokens of the simplified search form, on tantivy, kept in step with the store.

yanbao does the Chinese analysis (jieba over the search form, with the finance dictionary) and
hands tantivy the tokens joined by spaces; tantivy's whitespace tokenizer splits them back, so the
index holds exactly the product's tokens. tantivy keeps the postings on disk in segments, takes
additions and deletions incrementally, and opens in milliseconds: a process never holds every chunk.

The Chroma store is the source of truth; this index is a local, disposable copy of it:

  lexical/<space>/CURRENT        names the live build (replaced atomically by a rebuild)
  lexical/<space>/<build>/index  the tantivy index: one document per chunk
  lexical/<space>/<build>/state.sqlite3
                                 the reports applied (id, version, generation, chunks, record) and the
                                 watermark: the highest store generation applied
  lexical/<space>/lock           one process at a time applies changes (others keep searching)

Catching up (`refresh`) reads the catalog records whose generation is above the watermark (the
store's change log: every commit and every removal carries a fresh generation) and applies only
those reports: delete the report's documents, add its committed chunks, commit tantivy, then
commit the state. A kill between the two commits is repaired by replaying from the old watermark
(delete-then-add is idempotent), so no chunk is lost or doubled. The first refresh after opening
also compares every report version with the catalog, so nothing a watermark could miss survives a
restart. A missing or damaged index, or a store that was reset, is rebuilt from the store into a
new build folder; searches keep using the old build until CURRENT moves.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

from index.filters import SearchFilter, chunk_filter_fields
from index.killpoints import kill_point
from index.records import Chunk, Report
from index.store import Change, Store, StoredChunk

log = logging.getLogger("yanbao.lexical")

# bump when the schema or the state tables change: every replica rebuilds once
FORMAT = "tantivy-2"  # 2: folders and sectors (channel scopes)
_WRITER_HEAP = 64_000_000  # bytes; tantivy flushes a segment when full, so memory stays flat
_REBUILD_HEAP = 128_000_000
_CHUNK_CACHE = 20_000  # chunks kept decoded for repeated lookups (ids are content-versioned)
_K1, _B = 1.2, 0.75  # BM25 parameters (as the bm25s index before this one)


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("report_id", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("broker", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("kind", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("folders", tokenizer_name="raw", index_option="basic")  # one value per folder
    builder.add_text_field("sectors", tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("date_start", indexed=True, fast=True)
    builder.add_integer_field("date_end", indexed=True, fast=True)
    # term frequencies without positions: BM25 needs no more
    builder.add_text_field("tokens", tokenizer_name="whitespace", index_option="freq")
    builder.add_bytes_field("chunk", stored=True)  # the Chunk as JSON: text, section, page, ...
    return builder.build()


SCHEMA = _schema()


class Vocabulary:
    """`token in vocabulary`: does some indexed chunk contain the token (a term-dictionary lookup)."""

    def __init__(self, index: LexicalIndex) -> None:
        self._index = index

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self._index.doc_freq(token) > 0


@dataclass
class _Applied:
    report: Report
    version: str
    chunks: int
    tokens: int  # tokens in all its chunks: for the average chunk length of BM25


@dataclass
class _Entry:
    chunk: Chunk
    tokens: list[str]


class LexicalIndex:
    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._lock = threading.RLock()
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._build: str | None = None
        self._index: tantivy.Index | None = None
        self._searcher: tantivy.Searcher | None = None
        self._state: sqlite3.Connection | None = None
        self._applied: dict[str, _Applied] = {}
        self._total_tokens = 0
        self._reports: dict[str, Report] = {}
        self._versions: dict[str, str] = {}
        self._watermark = -1
        self._revision = 0  # of the state file: bumped by every apply, followed by other processes
        self._store_id = ""
        self._reconciled = False  # False: the next refresh compares every version with the store
        self._counter_checked = False
        self._problem: str | None = None  # why the index on disk cannot be used (it gets rebuilt)
        self.vocabulary = Vocabulary(self)
        self._open_current()

    # ---- opening -------------------------------------------------------------------------------
    def _open_current(self) -> None:
        """Open the build CURRENT names, or note why it cannot be used."""
        build = _read_current(self._dir)
        if build is None:
            self._problem = "no lexical index yet"
            return
        try:
            self._open_build(build)
            self._problem = None
        except Exception as exc:  # a damaged index is rebuilt from the store, never trusted
            self._problem = f"lexical index {self._dir / build} unusable: {type(exc).__name__}: {exc}"
            log.warning("lexical index damaged, it will be rebuilt", extra={"error": self._problem})

    def _open_build(self, build: str) -> None:
        folder = self._dir / build
        if not (folder / "index" / "meta.json").is_file():
            raise FileNotFoundError(f"{folder / 'index'} has no meta.json")
        state = sqlite3.connect(folder / "state.sqlite3", check_same_thread=False, isolation_level=None)
        try:
            state.execute("PRAGMA journal_mode=WAL")
            meta = dict(state.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT!r}")
            applied = {
                rid: _Applied(Report.from_json(json.loads(record)), version, chunks, tokens)
                for rid, version, chunks, tokens, record in state.execute(
                    "SELECT id, version, chunks, tokens, record FROM reports WHERE version != ''"
                )
            }
            index = tantivy.Index.open(str(folder / "index"))
            searcher = index.searcher()
            searcher.search(tantivy.Query.all_query(), 1, count=True)  # reads every segment's meta
        except BaseException:
            state.close()
            raise
        old = self._state
        self._build, self._index, self._searcher, self._state = build, index, searcher, state
        self._set_applied(applied, int(meta.get("watermark", -1)), int(meta.get("revision", 0)))
        self._store_id = meta.get("store_id", "")
        # a process killed between its tantivy commit and its state commit leaves the state
        # "dirty": the first refresh then compares every version with the catalog
        self._reconciled = meta.get("dirty") != "1"
        self._counter_checked = False
        if old is not None:
            old.close()

    def _set_applied(self, applied: dict[str, _Applied], watermark: int, revision: int) -> None:
        # new dicts, never mutated in place: searches in other threads may be iterating the old ones
        self._applied = applied
        self._total_tokens = sum(a.tokens for a in applied.values())
        # newest first, as lists of reports are shown and filtered
        ordered = sorted(applied.values(), key=lambda a: (a.report.date or "", a.report.id), reverse=True)
        self._reports = {a.report.id: a.report for a in ordered}
        self._versions = {rid: a.version for rid, a in applied.items()}
        self._watermark = watermark
        self._revision = revision

    # ---- keeping in step with the store --------------------------------------------------------
    @property
    def generation(self) -> int:
        """The highest store generation this index has applied."""
        return self._watermark

    @property
    def problem(self) -> str | None:
        return self._problem

    def refresh(self, store: Store, *, wait: bool = True) -> bool:
        """Catch up with the store; True when anything searches see may have changed.

        With wait=False (a search), a refresh another process is applying is not waited for: this
        process picks up what that one has committed and serves it."""
        with self._lock:
            followed = False
            if self._build is not None and self._problem is None:
                followed = self._follow_disk()
            if self._problem is None and self._store_id and self._store_id != store.identity():
                self._problem = "the store was replaced since this index was built"
            if self._problem is not None:
                with self._exclusive(wait) as mine:
                    if not mine:
                        return False
                    self._follow_disk()
                    if self._problem is not None:  # nobody rebuilt it while we waited
                        self._rebuild(store, reason=self._problem)
                return True
            changes, watermark = self._pending(store)
            if not changes and watermark == self._watermark:
                self._reconciled = True
                return followed
            with self._exclusive(wait) as mine:
                if not mine:
                    return followed
                if self._follow_disk():  # another process may have applied them meanwhile
                    changes, watermark = self._pending(store)
                self._apply(store, changes, watermark)
                self._reconciled = True
                if not self._consistent():
                    self._rebuild(store, reason="chunk counts disagree with the index")
            return followed or bool(changes)

    def rebuild(self, store: Store) -> None:
        """Build a new index from the store and switch to it (`yanbao index --rebuild-lexical`)."""
        with self._lock, self._exclusive(True):
            self._rebuild(store, reason="asked for")

    def _pending(self, store: Store) -> tuple[list[Change], int]:
        """The changes to apply and the watermark after them.

        Normally the catalog records above the watermark (the change log). After a kill in the
        middle of an apply, or when the store's counter is below the watermark (a store restored
        from a backup), every applied version is compared with the catalog instead: metadata only,
        and it repairs whatever the kill or the restore left behind."""
        if self._reconciled and not self._counter_checked:
            self._counter_checked = True
            self._reconciled = store.generation() >= self._watermark
        if self._reconciled:
            changes = store.changes_after(self._watermark)
            return changes, max([self._watermark, *(c.generation for c in changes)])
        catalog = store.catalog_entries()
        committed = {rid: e.version for rid, e in catalog.items() if e.version}
        ids = {rid for rid, version in committed.items() if self._versions.get(rid) != version}
        ids |= set(self._versions) - set(committed)
        newest = max((e.generation for e in catalog.values()), default=-1)
        changes = store.changes_for(sorted(ids)) if ids else []
        return changes, max([newest, *(c.generation for c in changes)])

    def _follow_disk(self) -> bool:
        """Pick up what other processes sharing this folder committed (cheap when nothing did);
        True when anything was picked up."""
        build = _read_current(self._dir)
        if build is None:
            if self._build is not None:
                self._problem = "the lexical index folder was removed"
            return False
        if build != self._build:
            try:
                self._open_build(build)
                self._problem = None
            except Exception as exc:
                self._problem = f"lexical index {self._dir / build} unusable: {type(exc).__name__}: {exc}"
            return True
        assert self._state is not None and self._index is not None
        meta = dict(self._state.execute("SELECT key, value FROM meta").fetchall())
        revision = int(meta.get("revision", 0))
        if revision == self._revision:
            return False
        applied = dict(self._applied)
        for rid, version, chunks, tokens, record in self._state.execute(
            "SELECT id, version, chunks, tokens, record FROM reports WHERE revision > ?", (self._revision,)
        ):
            if version:
                applied[rid] = _Applied(Report.from_json(json.loads(record)), version, chunks, tokens)
            else:
                applied.pop(rid, None)
        self._index.reload()
        self._searcher = self._index.searcher()
        self._set_applied(applied, int(meta.get("watermark", -1)), revision)
        return True

    @contextlib.contextmanager
    def _exclusive(self, wait: bool) -> Iterator[bool]:
        """The folder's lock across processes; yields False when busy and wait is False."""
        self._dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                mine = True
            except BlockingIOError:
                mine = False
            yield mine
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _apply(self, store: Store, changes: list[Change], watermark: int) -> None:
        """Apply catalog changes in generation order: the tantivy commit, then the state commit
        (a kill between them is repaired by replaying: delete-then-add is idempotent)."""
        assert self._index is not None and self._state is not None
        applied = dict(self._applied)
        revision = self._revision + 1
        rows: list[tuple] = []
        if changes:
            writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
            try:
                for change in sorted(changes, key=lambda c: c.generation):
                    writer.delete_documents_by_term("report_id", change.report_id)
                    if change.report is None or change.version is None:
                        applied.pop(change.report_id, None)
                        rows.append((change.report_id, revision, change.generation, "", 0, 0, ""))
                        continue
                    stored = store.chunks_of(change.report_id, change.version)
                    for item in stored:
                        writer.add_document(_document(item, change.report))
                    done = _Applied(
                        change.report, change.version, len(stored), sum(_length(i.tokens) for i in stored)
                    )
                    applied[change.report_id] = done
                    rows.append(_row(done, revision, change.generation))
                    kill_point("lexical.applying")
                self._state.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('dirty', '1')")
                writer.commit()
                kill_point("lexical.committed")
                writer.wait_merging_threads()
            except BaseException:
                with contextlib.suppress(Exception):
                    writer.rollback()
                raise
        with self._state:  # one transaction
            self._state.execute("BEGIN")
            self._state.executemany(
                "INSERT OR REPLACE INTO reports"
                " (id, revision, generation, version, chunks, tokens, record)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._state.executemany(
                "UPDATE meta SET value = ? WHERE key = ?",
                [(str(watermark), "watermark"), (str(revision), "revision"), ("0", "dirty")],
            )
        if changes:
            self._index.reload()
            self._searcher = self._index.searcher()
        self._set_applied(applied, watermark, revision)

    def _consistent(self) -> bool:
        return self._searcher is not None and self._searcher.num_docs == sum(
            a.chunks for a in self._applied.values()
        )

    def _rebuild(self, store: Store, reason: str) -> None:
        """Write a complete new build from the store, then point CURRENT at it."""
        started = time.monotonic()
        log.info("rebuilding the lexical index", extra={"path": str(self._dir), "reason": reason})
        build = f"build-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        folder = self._dir / build
        live = _read_current(self._dir)
        for old in self._dir.glob("build-*"):  # unfinished builds of killed processes
            if old.name not in (self._build, live):
                shutil.rmtree(old, ignore_errors=True)
        (folder / "index").mkdir(parents=True)
        index = tantivy.Index(SCHEMA, path=str(folder / "index"), reuse=False)
        catalog = store.catalog_entries(with_reports=True)
        committed = {rid: e for rid, e in catalog.items() if e.report is not None and e.version}
        counts: Counter[str] = Counter()
        lengths: Counter[str] = Counter()
        writer = index.writer(heap_size=_REBUILD_HEAP, num_threads=min(2, os.cpu_count() or 1))
        try:
            versions = {rid: e.version for rid, e in committed.items() if e.version}
            for number, item in enumerate(store.iter_chunks(versions)):
                report = committed[item.chunk.report_id].report
                assert report is not None
                writer.add_document(_document(item, report))
                counts[item.chunk.report_id] += 1
                lengths[item.chunk.report_id] += _length(item.tokens)
                if number == 50:
                    kill_point("lexical.rebuilding")
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            with contextlib.suppress(Exception):
                writer.rollback()
            raise
        # the catalog as read before the chunks: a commit landing meanwhile is above the watermark
        watermark = max((e.generation for e in catalog.values()), default=-1)
        state = sqlite3.connect(folder / "state.sqlite3", isolation_level=None)
        try:
            state.execute("PRAGMA journal_mode=WAL")
            state.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            state.execute(
                "CREATE TABLE reports (id TEXT PRIMARY KEY, revision INTEGER NOT NULL,"
                " generation INTEGER NOT NULL, version TEXT NOT NULL, chunks INTEGER NOT NULL,"
                " tokens INTEGER NOT NULL, record TEXT NOT NULL)"
            )
            state.execute("CREATE INDEX reports_revision ON reports (revision)")
            with state:
                state.execute("BEGIN")
                state.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("format", FORMAT),
                        ("store_id", store.identity()),
                        ("watermark", str(watermark)),
                        ("revision", "0"),
                        ("dirty", "0"),
                    ],
                )
                state.executemany(
                    "INSERT INTO reports (id, revision, generation, version, chunks, tokens, record)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        _row(_Applied(e.report, e.version, counts[rid], lengths[rid]), 0, e.generation)  # type: ignore[arg-type]
                        for rid, e in committed.items()
                    ],
                )
        finally:
            state.close()
        kill_point("lexical.rebuilt")
        replaced = {live, self._build} - {None, build}
        _replace_file(self._dir / "CURRENT", build)
        self._open_build(build)
        self._reconciled = True  # built from the catalog just read
        self._problem = None
        with self._cache_lock:
            self._cache.clear()
        for previous in replaced:
            # other processes still reading it keep their open files (unlinked files stay readable)
            shutil.rmtree(self._dir / str(previous), ignore_errors=True)
        log.info(
            "lexical index rebuilt",
            extra={"chunks": sum(counts.values()), "seconds": round(time.monotonic() - started, 2)},
        )

    def close(self) -> None:
        """Let go of the index and its state file (a closed index is opened again by a refresh)."""
        with self._lock:
            if self._state is not None:
                self._state.close()
            self._build, self._index, self._searcher, self._state = None, None, None, None
            self._problem = "closed"
            with self._cache_lock:
                self._cache.clear()

    # ---- reading -------------------------------------------------------------------------------
    @property
    def reports(self) -> dict[str, Report]:
        return self._reports

    @property
    def versions(self) -> dict[str, str]:
        return self._versions

    def __len__(self) -> int:
        searcher = self._searcher
        return searcher.num_docs if searcher is not None else 0

    def doc_freq(self, token: str) -> int:
        """Chunks containing `token` (deleted ones count until their segment is merged, as they
        do in tantivy's own BM25 statistics)."""
        searcher = self._searcher
        return searcher.doc_freq("tokens", token) if searcher is not None else 0

    def idf(self, token: str) -> float | None:
        """BM25 inverse document frequency of `token`, or None when no chunk contains it."""
        searcher = self._searcher
        return self._idf(searcher, token, searcher.num_docs) if searcher is not None else None

    @staticmethod
    def _idf(searcher: tantivy.Searcher, token: str, total: int) -> float | None:
        df = searcher.doc_freq("tokens", token)
        if df == 0:
            return None
        total = max(total, df)
        return math.log(1 + (total - df + 0.5) / (df + 0.5))

    def chunk(self, chunk_id: str) -> tuple[Chunk, Report] | None:
        """The chunk and its report, or None when the chunk is not of a report's applied version."""
        report_id, _, rest = chunk_id.partition(":")
        report = self._reports.get(report_id)
        if report is None or self._versions.get(report_id, "")[:10] != rest.partition(":")[0]:
            return None
        with self._cache_lock:
            cached = self._cache.get(chunk_id)
        if cached is None:
            searcher = self._searcher
            if searcher is None:
                return None
            query = tantivy.Query.term_query(SCHEMA, "id", chunk_id)
            hits = searcher.search(query, 1, count=False).hits
            if not hits:
                return None
            cached = self._decoded(searcher, hits[0][1])[1]
        return cached.chunk, report

    def report_chunks(self, report_id: str) -> list[Chunk]:
        """The report's chunks in reading order."""
        searcher, applied = self._searcher, self._applied.get(report_id)
        if searcher is None or applied is None or not applied.chunks:
            return []
        query = tantivy.Query.term_query(SCHEMA, "report_id", report_id)
        hits = searcher.search(query, applied.chunks, count=False).hits
        chunks = [self._decoded(searcher, address)[1].chunk for _, address in hits]
        return sorted(chunks, key=lambda c: c.paragraph)

    def search(self, tokens: list[str], k: int, where: SearchFilter | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the best `k` chunks containing any of `tokens`, within `where`.
        A token repeated in `tokens` counts as often as it is repeated.

        tantivy finds the candidates; their scores are then computed exactly (k1=1.2, b=0.75, the
        Lucene idf) from each chunk's true length: tantivy stores lengths in one lossy byte, which
        is enough to find the best 50 but can swap two paragraphs whose scores differ by 0.1%."""
        searcher = self._searcher
        if searcher is None or not tokens or k <= 0 or (where is not None and where.matches_nothing):
            return []
        wanted = Counter(tokens)
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, _term(token, count)) for token, count in wanted.items()]
        )
        allowed = where.tantivy_query(SCHEMA) if where else None
        if allowed is not None:
            query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, allowed)])
        hits = searcher.search(query, k, count=False).hits
        if not hits:
            return []
        total = searcher.num_docs
        average = max(self._total_tokens, 1) / max(total, 1)
        idf = {token: self._idf(searcher, token, total) or 0.0 for token in wanted}
        out = []
        for _, address in hits:
            chunk_id, entry = self._decoded(searcher, address)
            counts = Counter(entry.tokens)
            norm = _K1 * (1 - _B + _B * _length(entry.tokens) / average)
            score = sum(
                times * idf[token] * counts[token] / (counts[token] + norm)
                for token, times in wanted.items()
                if counts[token]
            )
            if score > 0:
                out.append((chunk_id, score))
        out.sort(key=lambda item: item[1], reverse=True)
        return out

    def _decoded(self, searcher: tantivy.Searcher, address: tantivy.DocAddress) -> tuple[str, _Entry]:
        doc = searcher.doc(address)
        chunk_id = doc["id"][0]
        with self._cache_lock:
            cached = self._cache.get(chunk_id)
            if cached is not None:
                self._cache.move_to_end(chunk_id)
                return chunk_id, cached
        entry = _entry(chunk_id, doc["chunk"][0])
        with self._cache_lock:
            self._cache[chunk_id] = entry
            if len(self._cache) > _CHUNK_CACHE:
                self._cache.popitem(last=False)
        return chunk_id, entry


def _length(tokens: list[str]) -> int:
    """A chunk's length for BM25: a chunk without tokens counts as one (as bm25s counted it)."""
    return max(len(tokens), 1)


def _term(token: str, count: int) -> tantivy.Query:
    query = tantivy.Query.term_query(SCHEMA, "tokens", token)
    return tantivy.Query.boost_query(query, float(count)) if count > 1 else query


def _document(item: StoredChunk, report: Report) -> tantivy.Document:
    chunk = item.chunk
    payload = {
        "p": chunk.paragraph,
        "t": chunk.text,
        "s": chunk.section,
        "g": chunk.page,
        "f": chunk.search_text,
        "k": " ".join(item.tokens),
    }
    return tantivy.Document(
        id=item.id,
        tokens=" ".join(item.tokens),
        chunk=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        **chunk_filter_fields(report),
    )


def _entry(chunk_id: str, payload: bytes) -> _Entry:
    data: dict[str, Any] = json.loads(payload)
    chunk = Chunk(
        report_id=chunk_id.partition(":")[0],
        paragraph=data["p"],
        text=data["t"],
        search_text=data["f"],
        section=data["s"],
        page=data["g"],
    )
    return _Entry(chunk, data["k"].split())


def _row(applied: _Applied, revision: int, generation: int) -> tuple:
    record = json.dumps(applied.report.to_json(), ensure_ascii=False)
    return (applied.report.id, revision, generation, applied.version, applied.chunks, applied.tokens, record)


def _read_current(folder: Path) -> str | None:
    try:
        return (folder / "CURRENT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def _replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a crash leaves the old content or the new)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
