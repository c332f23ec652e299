"""Synthetic research notes for the benchmarks, and a cheap deterministic embedder.

BENCHMARK-ONLY. Nothing here is used by the product.

* `RealNotes` runs the real pipeline (read, clean, describe, chunk, tokenize) over the seed notes in
  ../shared/seeds and the sample notes in samples/, without writing anything.
* `Vocabulary` is what synthetic text is made of: the jieba words of those real notes with their
  frequencies (text simplified, as the search forms are), the stock names of index/data/stocks.tsv,
  the brokers of index/data/brokers.tsv, and the section names and chunk lengths of the real chunks.
* `SyntheticCorpus` makes reports of paragraph-sized chunks from that vocabulary, deterministic by
  (seed, report number): report n is the same whatever was generated before it, so a corpus can grow
  1k -> 10k -> 100k chunks by asking for more report numbers. Chunk tokens are the real jieba tokens of
  the generated text (the product's Tokenizer), so the lexical side of a benchmark is real.
* `HashingEmbedder` is a stand-in for an embedding model at scale: every token of the text is hashed
  into one of 384 dimensions with a sign (the "hashing trick"), and the vector is L2-normalised. It
  costs microseconds, is the same on every machine and run, and gives the Chroma store vectors of the
  right size to insert and search (HNSW cost depends on the vector count and size, not their meaning).
  Its rankings are a bag-of-words similarity, NOT a semantic model: figures made with it say how fast
  the store and the fusion are, never how good dense retrieval is.

Synthetic text is a unigram sample of real words with stock names and figures mixed in. Its vocabulary
is far smaller than a real archive's, so posting lists are longer and BM25 scoring is, if anything,
slower than on real notes of the same count: latency figures err on the pessimistic side.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.request
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import numpy as np

from index.chunking import ChunkText, search_text_for
from index.lexicon import Lexicon
from index.normalize import Tokenizer, default_tokenizer, to_simplified
from index.pipeline import Indexer, Prepared, discover, report_id_for
from index.records import Chunk, Report
from index.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = ROOT / "samples"
DATA_DIR = ROOT / "index" / "data"
GENERATOR_VERSION = "2"

# The question of issue 3 and the paragraph that answers it (seed 000), used as a quality probe.
EDGE_QUESTION = "Which stocks does Shanxi recommend for edge compute?"
EDGE_EVIDENCE = "字節邊緣算力:樂鑫科技泰凌微廣和通中科創達"

_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")
_CJK_END = re.compile(r"[\u3400-\u9fff]$")
_CJK_START = re.compile(r"^[\u3400-\u9fff]")
_KINDS = ("weekly", "weekly", "industry", "company", "strategy")
_SECTOR_TITLES = (
    "通信",
    "计算机",
    "电子",
    "传媒",
    "机械",
    "电新",
    "医药",
    "食饮",
    "策略",
    "宏观",
    "汽车",
    "军工",
)


def seeds_dir() -> Path:
    """../shared/seeds beside the project; a clear error when it is missing."""
    path = ROOT.parent / "shared" / "seeds"
    if not path.is_dir():
        raise SystemExit(
            f"the real seed notes are missing: expected a folder at {path} "
            "(the benchmarks index them beside samples/)"
        )
    return path


def real_note_paths() -> list[Path]:
    """The folders of real notes to index: the seeds, and samples/ when it has report files."""
    paths = [seeds_dir()]
    if SAMPLES_DIR.is_dir() and discover([SAMPLES_DIR]):
        paths.append(SAMPLES_DIR)
    return paths


def real_note_files() -> list[Path]:
    return [file for file, _ in discover(real_note_paths())]


class RealNotes:
    """The real notes run through the real pipeline in memory (nothing is written)."""

    def __init__(self, files: Sequence[Path] | None = None) -> None:
        self.files = list(files) if files is not None else real_note_files()
        self.tokenizer = default_tokenizer()
        self.lexicon = Lexicon.load()
        indexer = Indexer(None, None, self.tokenizer, self.lexicon)  # type: ignore[arg-type]  # prepare() needs no store
        self.prepared: list[Prepared] = []
        for file in self.files:
            data = file.read_bytes()
            self.prepared.append(indexer.prepare(file, str(file.resolve()), data))

    @property
    def chunks(self) -> list[Chunk]:
        return [c for p in self.prepared for c in p.chunks]


@dataclass
class Vocabulary:
    words: list[str]
    probabilities: np.ndarray
    stocks: list[str]
    brokers: list[str]  # canonical simplified broker names
    sections: list[str]
    chunk_lengths: np.ndarray  # characters per real chunk

    @classmethod
    def from_notes(cls, notes: RealNotes | None = None) -> Vocabulary:
        notes = notes or RealNotes()
        cutter = notes.tokenizer
        counts: Counter[str] = Counter()
        sections: list[str] = []
        lengths: list[int] = []
        for chunk in notes.chunks:
            text = to_simplified(unicodedata.normalize("NFKC", chunk.text))
            cutter._ensure_ready()  # the product tokenizer's jieba, with its user dictionary
            counts.update(w for w in cutter._jieba.cut(text) if _WORDLIKE.search(w) and w.strip() == w)
            if chunk.section:
                sections.append(to_simplified(chunk.section))
            lengths.append(len(chunk.text))
        if not counts:
            raise SystemExit("no words found in the real notes: are the seed files empty?")
        words = sorted(counts)
        weights = np.array([counts[w] for w in words], dtype=float)
        stocks = _column(DATA_DIR / "stocks.tsv", "name")
        brokers = _column(DATA_DIR / "brokers.tsv", "broker")
        return cls(
            words=words,
            probabilities=weights / weights.sum(),
            stocks=[s for s in stocks if not s.startswith(("*", "ST"))],
            brokers=brokers,
            sections=sorted(set(sections)) or ["正文"],
            chunk_lengths=np.array(lengths or [200]),
        )

    def fingerprint(self) -> str:
        digest = hashlib.sha256(GENERATOR_VERSION.encode())
        for part in (self.words, self.stocks, self.brokers, self.sections):
            digest.update("\x1f".join(part).encode())
        digest.update(self.chunk_lengths.tobytes())
        return digest.hexdigest()[:12]


def _column(path: Path, name: str) -> list[str]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    position = header.index(name)
    return [ln.split("\t")[position] for ln in lines[1:] if len(ln.split("\t")) > position]


@dataclass
class SyntheticReport:
    report: Report
    version: str
    chunks: list[Chunk]
    tokens: list[list[str]]


class SyntheticCorpus:
    """Report n of seed s is always the same report (see the module docstring)."""

    def __init__(self, vocabulary: Vocabulary, seed: int = 0, tokenizer: Tokenizer | None = None) -> None:
        self.vocabulary = vocabulary
        self.seed = seed
        self.tokenizer = tokenizer or default_tokenizer()

    @cached_property
    def _cumulative(self) -> np.ndarray:
        return np.cumsum(self.vocabulary.probabilities)

    def _words(self, rng: np.random.Generator, n: int) -> list[str]:
        picks = np.searchsorted(self._cumulative, rng.random(n), side="right")
        words = self.vocabulary.words
        return [words[min(i, len(words) - 1)] for i in picks]

    def paragraph(
        self, rng: np.random.Generator, target_chars: int, mentioned: set[str] | None = None
    ) -> str:
        """Sentences of real words until about `target_chars`; stock names used go into `mentioned`."""
        vocab = self.vocabulary
        sentences: list[str] = []
        size = 0
        while size < target_chars:
            count = int(rng.integers(6, 22))
            words = self._words(rng, count)
            for slot in range(count):
                roll = rng.random()
                if roll < 0.07:
                    words[slot] = vocab.stocks[int(rng.integers(len(vocab.stocks)))]
                    if mentioned is not None:
                        mentioned.add(words[slot])
                elif roll < 0.11:
                    words[slot] = _figure(rng)
            if count > 10:
                words.insert(int(rng.integers(4, count - 3)), "，")
            sentence = _join(words) + "。"
            sentences.append(sentence)
            size += len(sentence)
        return "".join(sentences)

    def report(self, number: int) -> SyntheticReport:
        rng = np.random.default_rng([self.seed, number])
        vocab = self.vocabulary
        broker = vocab.brokers[int(rng.integers(len(vocab.brokers)))]
        sector = _SECTOR_TITLES[int(rng.integers(len(_SECTOR_TITLES)))]
        # 2021-01-04 .. 2024-12-13: older than the real notes (Dec 2024 - Jan 2025), as an archive is
        # when the newest notes arrive; "latest" questions must still find the real ones
        published = date(2021, 1, 4) + timedelta(days=int(rng.integers(0, 1440)))
        week_start = published - timedelta(days=published.weekday() + 7)
        kind = _KINDS[int(rng.integers(len(_KINDS)))]
        headline = _join(self._words(rng, 5))
        prefix = f"【{broker.removesuffix('证券')}{sector}】"
        if kind == "weekly":
            title = f"{prefix}周跟踪({week_start:%Y%m%d}-{week_start + timedelta(days=6):%Y%m%d})--{headline}"
        else:
            title = f"{prefix}{headline}"
        source = f"synthetic://seed{self.seed}/{number:07d}"
        report_id = report_id_for(source)
        n_chunks = int(rng.integers(8, 33))  # the real notes have 8 and 22
        chunks: list[Chunk] = []
        tokens: list[list[str]] = []
        section = None
        mentioned: set[str] = set()
        for paragraph in range(n_chunks):
            if paragraph % 4 == 0:
                section = vocab.sections[int(rng.integers(len(vocab.sections)))]
            target = int(vocab.chunk_lengths[int(rng.integers(len(vocab.chunk_lengths)))])
            text = self.paragraph(rng, max(40, target), mentioned)
            search_text = search_text_for(ChunkText(text, section, None))
            chunks.append(Chunk(report_id, paragraph, text, search_text, section, None))
            tokens.append(self.tokenizer.tokens(search_text))
        report = Report(
            id=report_id,
            title=title,
            broker=broker,
            date=published.isoformat(),
            period=(
                f"{week_start.isoformat()}/{(week_start + timedelta(days=6)).isoformat()}"
                if kind == "weekly"
                else None
            ),
            analysts=[],
            source=source,
            kind=kind,
            chunks=len(chunks),
            stocks=sorted(mentioned),
        )
        version = hashlib.sha256("\n".join(c.text for c in chunks).encode()).hexdigest()[:20]
        return SyntheticReport(report, version, chunks, tokens)

    def reports(self, start: int = 0) -> Iterator[SyntheticReport]:
        number = start
        while True:
            yield self.report(number)
            number += 1


class CachedCorpus:
    """A SyntheticCorpus served from blocks of BLOCK reports pickled under `cache_dir`.

    jieba is most of the cost of making synthetic chunks (about 800 chunks/s on one core here), so
    blocks are made once, by up to `workers` processes, and reused by later runs. The cache key covers
    the generator, the vocabulary, the user dictionary and the tokenizer code, so a change to any of
    them makes new blocks. Blocks are read back one at a time and not kept, so a benchmark's RSS is
    the library's, not the corpus's. `cache_dir=None` keeps every block in memory instead (RSS figures
    then include the corpus).
    """

    BLOCK = 250

    def __init__(
        self, vocabulary: Vocabulary, seed: int = 0, cache_dir: Path | None = None, workers: int = 2
    ) -> None:
        self.corpus = SyntheticCorpus(vocabulary, seed)
        self.seed = seed
        self.workers = max(1, workers)
        key = f"{vocabulary.fingerprint()}-{_tokenizer_fingerprint()}-seed{seed}"
        self.cache_dir = cache_dir / key if cache_dir else None
        self._memory: dict[int, list[SyntheticReport]] = {}  # only without a cache_dir
        self._current: tuple[int, list[SyntheticReport]] | None = None

    def _path(self, block: int) -> Path | None:
        return self.cache_dir / f"block-{block:05d}.pkl" if self.cache_dir else None

    def _has(self, block: int) -> bool:
        path = self._path(block)
        return block in self._memory or (path is not None and path.is_file())

    def _load(self, block: int) -> list[SyntheticReport] | None:
        if block in self._memory:
            return self._memory[block]
        path = self._path(block)
        if path is None or not path.is_file():
            return None
        try:
            with path.open("rb") as fh:
                return pickle.load(fh)
        except Exception:  # a stale or damaged block is made again
            return None

    def prepare(self, blocks: range) -> float:
        """Make the missing `blocks`; returns the seconds spent making them."""
        missing = [b for b in blocks if not self._has(b)]
        if not missing:
            return 0.0
        started = time.perf_counter()
        if self.workers > 1 and len(missing) > 1:
            # forked workers inherit the corpus (its jieba tokenizer holds a lock and cannot be pickled);
            # call this before loading models or opening stores, which start threads
            global _FORK_CORPUS
            _FORK_CORPUS = self.corpus
            context = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(self.workers, mp_context=context) as pool:
                jobs = [(b, self.BLOCK, self._path(b)) for b in missing]
                for block, reports in zip(missing, pool.map(_make_block, jobs), strict=True):
                    if reports is not None:
                        self._memory[block] = reports
        else:
            for block in missing:
                reports = _make_block((block, self.BLOCK, self._path(block)), self.corpus)
                if reports is not None:
                    self._memory[block] = reports
        return time.perf_counter() - started

    def prepare_chunks(self, chunks: int) -> float:
        """Make the blocks that `chunks` chunks will come from (about 20 chunks a report)."""
        return self.prepare(range(0, chunks // (20 * self.BLOCK) + 2))

    def _block(self, block: int) -> list[SyntheticReport]:
        if self._current and self._current[0] == block:
            return self._current[1]
        reports = self._load(block)
        if reports is None:
            self.prepare(range(block, block + 1))
            reports = self._load(block)
            assert reports is not None
        self._current = (block, reports)
        return reports

    def batches(self, start_report: int, chunks: int) -> Iterator[list[SyntheticReport]]:
        """Reports from number `start_report` on, until they hold at least `chunks` chunks, a block's
        worth at a time (so they need not all be in memory at once)."""
        total = 0
        number = start_report
        while total < chunks:
            block = number // self.BLOCK
            reports = self._block(block)
            batch = []
            while total < chunks and number // self.BLOCK == block:
                report = reports[number % self.BLOCK]
                batch.append(report)
                total += len(report.chunks)
                number += 1
            yield batch

    def take_chunks(self, start_report: int, chunks: int) -> list[SyntheticReport]:
        """Reports from number `start_report` on, until they hold at least `chunks` chunks."""
        return [r for batch in self.batches(start_report, chunks) for r in batch]

    def take_reports(self, start_report: int, count: int) -> list[SyntheticReport]:
        return [
            self._block(n // self.BLOCK)[n % self.BLOCK] for n in range(start_report, start_report + count)
        ]


_FORK_CORPUS: SyntheticCorpus | None = None


def _make_block(
    args: tuple[int, int, Path | None], corpus: SyntheticCorpus | None = None
) -> list[SyntheticReport] | None:
    """Make one block; with a path, save it there (atomically) and return None."""
    block, size, path = args
    corpus = corpus or _FORK_CORPUS
    assert corpus is not None
    reports = [corpus.report(n) for n in range(block * size, (block + 1) * size)]
    if path is None:
        return reports
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as fh:
        pickle.dump(reports, fh, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return None


def _tokenizer_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in (DATA_DIR / "userdict.txt", ROOT / "index" / "normalize.py", ROOT / "index" / "chunking.py"):
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()[:8]


def _figure(rng: np.random.Generator) -> str:
    kind = int(rng.integers(4))
    if kind == 0:
        return f"{rng.uniform(-30, 80):.2f}%"
    if kind == 1:
        return f"{rng.uniform(1, 2000):.1f}亿元"
    if kind == 2:
        return f"{int(rng.integers(2019, 2027))}年"
    return f"{int(rng.integers(1, 13))}月"


def _join(words: list[str]) -> str:
    """Chinese words run together; a space only between two Latin/number words."""
    out = ""
    for word in words:
        if out and not _CJK_END.search(out) and not _CJK_START.search(word) and word != "，":
            out += " "
        out += word
    return out


class HashingEmbedder:
    """BENCHMARK-ONLY stand-in for an embedding model (see the module docstring); never used by
    yanbao itself. Implements index.embedding.Embedder: `name`, `dim`, `embed_passages`, `embed_query`."""

    def __init__(self, dim: int = 384, tokenizer: Tokenizer | None = None) -> None:
        self.name = f"bench-hashing-{dim}"
        self.dim = dim
        self.tokenizer = tokenizer or default_tokenizer()
        self._slots: dict[str, tuple[int, float]] = {}

    def _slot(self, token: str) -> tuple[int, float]:
        slot = self._slots.get(token)
        if slot is None:
            h = zlib.crc32(token.encode("utf-8"))
            slot = (h % self.dim, 1.0 if (h >> 16) & 1 else -1.0)
            self._slots[token] = slot
        return slot

    def vector_for_tokens(self, tokens: Sequence[str]) -> list[float]:
        vector = np.zeros(self.dim, dtype=np.float32)
        for token in tokens:
            index, sign = self._slot(token)
            vector[index] += sign
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:
            vector[0], norm = 1.0, 1.0
        return (vector / norm).tolist()

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return [self.vector_for_tokens(self.tokenizer.tokens(t)) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vector_for_tokens(self.tokenizer.tokens(text))


# ---- plumbing the benchmarks share ---------------------------------------------------------------


def bulk_load(
    store: Store,
    reports: Sequence[SyntheticReport],
    vectors: Callable[[SyntheticReport], list[list[float]]] | None,
    generation: int,
    batch: int = 2000,
) -> None:
    """Write `reports` as committed reports, in batches of `batch` chunks per Chroma call.

    The records are the ones Store.write_report leaves behind (chunk ids, documents and metadata from
    Store.chunk_id/_chunk_meta, and the catalog's commit record), so search and the lexical refresh
    see exactly what an index run would have written; only the number of Chroma calls differs
    (write_report makes eight per report). `check_bulk_matches_write_report` verifies the match.
    The caller bumps the generation afterwards, as Indexer.run does.
    """
    ids: list[str] = []
    embeddings: list[list[float]] = []
    documents: list[str] = []
    metadatas: list[dict] = []

    def flush() -> None:
        if ids:
            store.chunks.upsert(ids=ids, embeddings=embeddings, documents=documents, metadatas=metadatas)
            ids.clear(), embeddings.clear(), documents.clear(), metadatas.clear()

    for item in reports:
        vecs = vectors(item) if vectors else [[1.0]] * len(item.chunks)  # lexical space: placeholder
        for chunk, tokens, vector in zip(item.chunks, item.tokens, vecs, strict=True):
            ids.append(Store.chunk_id(item.report.id, item.version, chunk.paragraph))
            embeddings.append(vector)
            documents.append(chunk.text)
            metadatas.append(Store._chunk_meta(item.report, item.version, chunk, tokens))
            if len(ids) >= batch:
                flush()
    flush()
    for start in range(0, len(reports), batch):
        part = reports[start : start + batch]
        store.catalog.upsert(
            ids=[r.report.id for r in part],
            embeddings=[[1.0]] * len(part),
            documents=[json.dumps(r.report.to_json(), ensure_ascii=False) for r in part],
            metadatas=[commit_record(r.report, r.version, generation) for r in part],
        )


def commit_record(report: Report, version: str, generation: int) -> dict:
    """The catalog metadata Store.write_report commits (with `pending` cleared by finish_pending)."""
    return {
        "version": version,
        "pending": "",
        "generation": generation,
        "removed": False,
        "source": report.source,
        "date": int(report.date.replace("-", "")) if report.date else 0,
        "kind": report.kind,
        "broker": report.broker or "",
    }


def check_bulk_matches_write_report(
    store: Store, bulk: SyntheticReport, written: SyntheticReport
) -> str | None:
    """None when a bulk-loaded report and one written by Store.write_report have the same record
    shapes in the store; otherwise what differs (the benchmark prints it)."""
    shapes = []
    for item in (bulk, written):
        _, meta = store.record(item.report.id)
        got = store.chunks.get(where={"report_id": item.report.id}, include=["metadatas"], limit=1)
        chunk_meta = got["metadatas"][0] if got["metadatas"] else {}
        shapes.append((sorted(meta), meta.get("pending"), bool(meta.get("version")), sorted(chunk_meta)))
    if shapes[0] != shapes[1]:
        return f"bulk-loaded records differ from write_report's: {shapes[0]} != {shapes[1]}"
    return None


@dataclass
class Latency:
    p50_ms: float
    p95_ms: float
    n: int

    def __str__(self) -> str:
        return f"{self.p50_ms:7.1f} / {self.p95_ms:7.1f}"


def latency(seconds: Sequence[float]) -> Latency:
    values = np.asarray(seconds, dtype=float) * 1000
    if values.size == 0:
        return Latency(float("nan"), float("nan"), 0)
    return Latency(float(np.percentile(values, 50)), float(np.percentile(values, 95)), int(values.size))


def rss_mb(pid: int | None = None) -> float:
    """Resident set size now (this process, or `pid`), from /proc; 0 when unavailable."""
    path = Path(f"/proc/{pid or 'self'}/status")
    try:
        for line in path.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def disk_mb(path: Path) -> float:
    """Bytes actually allocated under `path` (like du), in MiB."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass
    return total / 2**20


def machine_line() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load} (other work on the machine inflates every figure)"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    for number, row in enumerate(cells):
        print("  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip())
        if number == 0:
            print("  ".join("-" * w for w in widths))


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class ChromaServer:
    """`chroma run` on 127.0.0.1 as a subprocess (started and stopped by us, by its own pid)."""

    def __init__(self, path: Path, log_path: Path | None = None) -> None:
        self.path = path
        self.log_path = log_path or path.parent / "chroma-server.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> ChromaServer:
        binary = Path(sys.executable).parent / "chroma"
        if not binary.exists():
            found = shutil.which("chroma")
            if not found:
                raise SystemExit(
                    "the `chroma` command from the chromadb package is missing: pip install chromadb"
                )
            binary = Path(found)
        self.path.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        command = [
            str(binary),
            "run",
            "--path",
            str(self.path),
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"chroma server exited ({self.process.returncode}); see {self.log_path}")
            if self._ready():
                return self
            time.sleep(0.1)
        self.__exit__(None, None, None)
        raise SystemExit(f"chroma server not ready after 60 s; see {self.log_path}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def rss_mb(self) -> float:
        return rss_mb(self.process.pid) if self.process else 0.0

    def __exit__(self, *exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
