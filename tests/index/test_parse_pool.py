"""Large batches are parsed by a pool of processes and embedded in bounded batches across reports;
what lands in the store is what a one-file-at-a-time run would have written."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot.render_text import render_summary_text
from index.embedding import load_embedder
from index.library import Library
from index.pipeline import EMBED_BATCH
from index.prepare import POOL_MIN_FILES, workers_for
from tests.helpers import make_settings, minilm_path

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def sample_copies(folder: Path, count: int) -> list[Path]:
    """`count` distinct notes: the samples, each copy with a paragraph of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    bases = sorted(p for p in SAMPLES.glob("*.txt"))
    out = []
    for n in range(count):
        base = bases[n % len(bases)]
        lines = base.read_text(encoding="utf-8").splitlines()
        lines.insert(4, f"\n编号说明：这是第{n}份样本副本，用于并行解析测试。\n")
        target = folder / f"{n:02d}_{base.name}"
        target.write_text("\n".join(lines), encoding="utf-8")
        out.append(target)
    return out


def stored(library: Library) -> dict[str, list[tuple[int, str, str]]]:
    """source file name -> its stored chunks (paragraph, text, tokens), in order."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    for report in library.store.reports():
        version = library.store.committed_versions()[report.id]
        chunks = library.store.chunks_of(report.id, version)
        out[Path(report.source).name] = [
            (c.chunk.paragraph, c.chunk.text, " ".join(c.tokens)) for c in chunks
        ]
    return out


@pytest.mark.skipif(workers_for(POOL_MIN_FILES) == 0, reason="one CPU: batches are parsed in-process")
def test_a_pool_run_stores_what_a_file_by_file_run_stores(tmp_path):
    files = sample_copies(tmp_path / "reports", POOL_MIN_FILES + 2)
    (tmp_path / "reports" / "broken.html").write_bytes(b"\x00\x01" * 10)  # fails in a worker

    pooled = Library(make_settings(tmp_path, YANBAO_HOME=str(tmp_path / "pooled")))
    summary = pooled.index([tmp_path / "reports"], progress=False)
    assert summary.added == len(files)
    assert [Path(f.path).name for f in summary.failed] == ["broken.html"]

    one_by_one = Library(make_settings(tmp_path, YANBAO_HOME=str(tmp_path / "one-by-one")))
    for file in files:  # a single file is parsed in this process
        assert one_by_one.index([file], progress=False).added == 1
    assert stored(pooled) == stored(one_by_one)
    assert "files/s" in render_summary_text(summary)
    pooled.close()
    one_by_one.close()


class CountingEmbedder:
    """The packaged MiniLM model, counting how many texts each call embeds."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.calls: list[int] = []

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


@pytest.mark.slow
def test_chunks_are_embedded_in_bounded_batches_across_reports(tmp_path):
    settings = make_settings(tmp_path, YANBAO_EMBED_MODEL=str(minilm_path()))
    status = load_embedder(settings)
    assert status.embedder is not None, status.problem
    counting = CountingEmbedder(status.embedder)
    status.embedder = counting
    library = Library(settings, embedder_status=status)
    sample_copies(tmp_path / "reports", 5)
    summary = library.index([tmp_path / "reports"], progress=False)
    assert summary.added == 5 and summary.failed == []
    assert sum(counting.calls) == summary.chunks
    assert len(counting.calls) < summary.added  # several reports per model call
    assert max(counting.calls) <= EMBED_BATCH
    # each chunk's vector is its own text's, whichever batch it was embedded in
    report = library.store.reports()[0]
    version = library.store.committed_versions()[report.id]
    got = library.store.chunks.get(where={"$and": [{"report_id": report.id}, {"version": version}]},
                                   include=["embeddings", "metadatas"])  # fmt: skip
    texts = {c.chunk.paragraph: c.chunk.search_text for c in library.store.chunks_of(report.id, version)}
    for vector, meta in list(zip(got["embeddings"], got["metadatas"], strict=True))[:3]:
        alone = status.embedder.inner.embed_passages([texts[meta["paragraph"]]])[0]
        cosine = sum(float(a) * float(b) for a, b in zip(vector, alone, strict=True))
        assert math.isclose(cosine, 1.0, abs_tol=1e-3)
    library.close()


def test_a_single_file_is_parsed_in_process():
    assert workers_for(1) == 0
    assert workers_for(POOL_MIN_FILES - 1) == 0
