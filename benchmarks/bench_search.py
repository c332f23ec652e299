"""`ask` retrieval latency and quality at 1k, 10k and 100k chunks, lexical-only and hybrid.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_search.py [--model PATH] [--sizes 1000,10000,100000]

The corpus: the real notes (../shared/seeds and samples/) indexed through the real pipeline, then
synthetic notes (benchmarks/synthetic.py) written into the same embedded Chroma store until it holds
each size. The synthetic chunks carry their real jieba tokens, so the lexical side (BM25) is real.

Dense vectors at scale are SYNTHETIC: stored chunks and queries are embedded by the benchmark's hashing
embedder (a bag-of-words stand-in; running MiniLM over 100k chunks would take hours on 2 CPUs). The
Chroma HNSW search, the fusion and everything else are the product's code. With --model, two more
figures use the real model:
  * "hybrid, MiniLM query": every query is also encoded by MiniLM (its real cost, model loaded) and
    searched with the hashing vector — the latency of hybrid search with a real model at each size;
  * "hybrid, MiniLM all" at sizes up to --real-dense-max: every chunk embedded by MiniLM, the real thing.

Latency is Library.search (what `ask` runs before answering), model loaded, store warm, over the
questions of eval/dev.jsonl; lexical-only runs the same Library with its dense retriever switched off.
At the largest size the whole Yanbao.ask (extractive answer) is timed too. Quality under load: the
evidence rank of issue 3's question (EDGE) and the dev set's recall@5 at each size.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import (  # noqa: E402
    EDGE_EVIDENCE,
    EDGE_QUESTION,
    CachedCorpus,
    HashingEmbedder,
    RealNotes,
    Vocabulary,
    bulk_load,
    latency,
    machine_line,
    print_table,
    real_note_paths,
)

DEV_SET = ROOT / "eval" / "dev.jsonl"
DEFAULT_TODAY = date(2025, 1, 8)
FALLBACK_QUESTIONS = [  # used when eval/dev.jsonl is missing
    {"question": EDGE_QUESTION, "evidence": EDGE_EVIDENCE},
    {"question": "山证推荐哪些IDC标的", "evidence": None},
    {"question": "豆包11月月活?", "evidence": None},
    {"question": "字节跳动2025年资本开支", "evidence": None},
    {"question": "Which optical module stocks are recommended?", "evidence": None},
    {"question": "latest weekly from Shanxi", "evidence": None},
    {"question": "2024年12月 液冷 标的", "evidence": None},
    {"question": "A股1月需要防范什么风险?", "evidence": None},
]


def load_questions(limit: int | None) -> list[dict]:
    if not DEV_SET.is_file():
        items = FALLBACK_QUESTIONS
    else:
        items = [
            json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
    items = [i for i in items if i.get("question")]
    if not any(i["question"] == EDGE_QUESTION for i in items):
        items.insert(0, {"question": EDGE_QUESTION, "evidence": EDGE_EVIDENCE})
    return items[:limit] if limit else items


class QueryCostEmbedder:
    """Pays the real model's query-encoding cost, then searches with the hashing vector (the stored
    vectors at scale are hashing vectors, so a MiniLM vector could not be compared with them)."""

    def __init__(self, model, hashing: HashingEmbedder) -> None:
        self.model, self.hashing = model, hashing
        self.name, self.dim = hashing.name, hashing.dim

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return self.hashing.embed_passages(texts)

    def embed_query(self, text: str) -> list[float]:
        self.model.embed_query(text)
        return self.hashing.embed_query(text)


def evidence_rank(hits, evidence: str | None) -> int | None:
    from bot.evaluate import fold

    if not evidence:
        return None
    target = fold(evidence)
    for position, hit in enumerate(hits, start=1):
        if target in fold(f"{hit.chunk.section or ''}{hit.chunk.text}"):
            return position
    return None


def measure(library, questions: list[dict], repeats: int, budget_s: float, k: int = 5) -> dict:
    """Library.search over the questions, `repeats` times (after one warm-up pass), within a time budget."""
    seconds: list[float] = []
    stages: dict[str, list[float]] = {}
    ranks: dict[str, int | None] = {}
    for q in questions:  # warm-up, and the quality figures
        result = library.search(q["question"], k=k, today=_today(q))
        ranks[q["question"]] = evidence_rank(result.hits, q.get("evidence"))
    started = time.perf_counter()
    for _ in range(repeats):
        for q in questions:
            t0 = time.perf_counter()
            result = library.search(q["question"], k=k, today=_today(q))
            seconds.append(time.perf_counter() - t0)
            for stage, value in result.timings.items():
                stages.setdefault(stage, []).append(value)
        if time.perf_counter() - started > budget_s:
            break
    with_evidence = [q for q in questions if q.get("evidence")]
    recall5 = sum(1 for q in with_evidence if (ranks[q["question"]] or 99) <= 5) / max(1, len(with_evidence))
    return {
        "latency": latency(seconds),
        "stages": {s: latency(v) for s, v in stages.items()},
        "edge_rank": ranks.get(EDGE_QUESTION),
        "recall5": recall5,
        "misses_at5": [q["question"] for q in with_evidence if (ranks[q["question"]] or 99) > 5],
        "recall5_by_kind": {
            kind: sum(1 for q in group if (ranks[q["question"]] or 99) <= 5) / len(group)
            for kind in sorted({q.get("kind", "?") for q in with_evidence})
            if (group := [q for q in with_evidence if q.get("kind", "?") == kind])
        },
    }


def _today(item: dict) -> date:
    return date.fromisoformat(item["today"]) if item.get("today") else DEFAULT_TODAY


def measure_ask(service, questions: list[dict], repeats: int, budget_s: float) -> object:
    """Yanbao.ask over the questions: one warm-up pass, then timed passes within the budget."""
    for q in questions:
        service.ask(q["question"], today=_today(q))
    seconds = []
    started = time.perf_counter()
    for _ in range(repeats):
        for q in questions:
            t0 = time.perf_counter()
            service.ask(q["question"], today=_today(q))
            seconds.append(time.perf_counter() - t0)
        if time.perf_counter() - started > budget_s:
            break
    return latency(seconds)


def edge_text(rank: int | None) -> str:
    return f"yes (#{rank})" if rank and rank <= 5 else f"NO ({'#' + str(rank) if rank else 'not in top 5'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help="a local sentence-transformers model folder (e.g. the MiniLM package's)"
    )
    parser.add_argument("--sizes", default="1000,10000,100000", help="chunk counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes over the questions per size")
    parser.add_argument(
        "--budget", type=float, default=25.0, help="seconds of timed queries per size at most"
    )
    parser.add_argument(
        "--questions", type=int, default=0, help="use only the first N dev questions (0 = all)"
    )
    parser.add_argument("--real-dense-max", type=int, default=1000, help="largest size embedded with --model")
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cache", type=Path, default=ROOT / ".bench" / "synthetic", help="synthetic-chunk cache"
    )
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the temporary stores
    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    sizes = [0, *sizes]  # 0: the real notes alone, the baseline for the quality columns
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    print(f"== bench_search: ask retrieval latency at {', '.join(f'{s:,}' for s in sizes[1:])} chunks")
    print(f"   {machine_line()}")
    questions = load_questions(args.questions or None)
    print(
        f"   {len(questions)} questions ({'eval/dev.jsonl' if DEV_SET.is_file() else 'built-in list'}), "
        f"top-5, today={DEFAULT_TODAY} unless a question says otherwise"
    )

    # Synthetic chunks first: made by forked workers, before any model or store starts threads.
    started = time.perf_counter()
    notes = RealNotes()
    vocabulary = Vocabulary.from_notes(notes)
    corpus = CachedCorpus(vocabulary, args.seed, None if args.no_cache else args.cache)
    made = corpus.prepare_chunks(sizes[-1])
    print(
        f"   synthetic corpus ready in {time.perf_counter() - started:.1f} s "
        f"({'made ' + format(made, '.1f') + ' s' if made else 'from cache'}); "
        f"vocabulary {len(vocabulary.words):,} words + {len(vocabulary.stocks):,} stock names"
    )

    from bot.service import Yanbao
    from index.embedding import EmbedderStatus, SentenceTransformerEmbedder
    from index.library import Library
    from index.settings import load_settings

    model = None
    if args.model:
        import torch

        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        started = time.perf_counter()
        model = SentenceTransformerEmbedder(args.model, args.model)
        print(
            f"   model {args.model} loaded in {time.perf_counter() - started:.1f} s "
            f"(torch threads {torch.get_num_threads()})"
        )

    hashing = HashingEmbedder()
    rows = []
    stage_rows = []
    kind_rows: list[tuple[int, dict, dict]] = []
    notes_out = []
    ask_rows = []
    with tempfile.TemporaryDirectory(prefix="yanbao-bench-search-") as tmp:
        home = Path(tmp) / "synthetic-dense"
        settings = load_settings({"YANBAO_HOME": str(home), "YANBAO_EMBED_MODEL": "bench-hashing"})
        library = Library(settings, embedder_status=EmbedderStatus(hashing, "bench-hashing"))
        library.index(real_note_paths(), progress=False)
        chunks = library.status()["chunks"]
        next_report = 0
        for size in sizes:
            if size > chunks:
                started = time.perf_counter()
                generation = library.store.generation() + 1
                for batch in corpus.batches(next_report, size - chunks):  # a block at a time
                    next_report += len(batch)
                    bulk_load(
                        library.store,
                        batch,
                        lambda r: [hashing.vector_for_tokens(t) for t in r.tokens],
                        generation,
                    )
                library.store.bump_generation()
                load_s = time.perf_counter() - started
                started = time.perf_counter()
                library.refresh()
                refresh_s = time.perf_counter() - started
                chunks = library.status()["chunks"]
                notes_out.append(
                    f"{chunks:>9,} chunks: bulk write {load_s:6.1f} s, lexical refresh {refresh_s:6.1f} s"
                )
            print(f"-- {chunks:,} chunks ({len(library.lexical.reports):,} reports)", flush=True)

            dense = library.searcher.embedder
            library.searcher.embedder = None  # lexical-only: the same Library with dense retrieval off
            lexical = measure(library, questions, args.repeats, args.budget)
            library.searcher.embedder = dense
            hybrid = measure(library, questions, args.repeats, args.budget)
            row = [f"{chunks:,}", lexical["latency"], hybrid["latency"]]
            if model is not None:
                library.searcher.embedder = QueryCostEmbedder(model, hashing)
                with_model = measure(library, questions, args.repeats, args.budget)
                library.searcher.embedder = dense
                row.append(with_model["latency"])
            row += [
                f"{lexical['recall5']:.2f} / {hybrid['recall5']:.2f}",
                f"{edge_text(lexical['edge_rank'])} / {edge_text(hybrid['edge_rank'])}",
            ]
            rows.append(row)
            kind_rows.append((chunks, lexical["recall5_by_kind"], hybrid["recall5_by_kind"]))
            for name, result in (("lexical", lexical), ("hybrid", hybrid)):
                stage_rows.append(
                    [f"{chunks:,}", name]
                    + [
                        result["stages"].get(s, "")
                        for s in ("parse", "retrieve_lexical", "retrieve_dense", "fuse")
                    ]
                )
            print(
                f"   lexical {lexical['latency']} ms  hybrid {hybrid['latency']} ms (p50 / p95)", flush=True
            )

        # the whole ask (extractive answer) at the largest size
        service = Yanbao(settings, library=library)
        library.searcher.embedder = None
        ask_rows.append(["lexical-only", measure_ask(service, questions, args.repeats, args.budget)])
        library.searcher.embedder = dense
        ask_rows.append(
            ["hybrid (synthetic vectors)", measure_ask(service, questions, args.repeats, args.budget)]
        )
        if model is not None:
            library.searcher.embedder = QueryCostEmbedder(model, hashing)
            ask_rows.append(
                ["hybrid, MiniLM query", measure_ask(service, questions, args.repeats, args.budget)]
            )
            library.searcher.embedder = dense
        largest = chunks

        real_rows = []
        if model is not None:
            real_rows = real_model_run(model, corpus, questions, args, Path(tmp) / "minilm", sizes)

    print()
    print("Library.search latency, ms p50 / p95 (dense vectors at scale are SYNTHETIC: hashing embedder)")
    headers = ["chunks", "lexical-only", "hybrid (synthetic)"]
    if model is not None:
        headers.append("hybrid, MiniLM query")
    headers += ["dev recall@5 lex / hyb", "edge question in top 5 (lex / hyb)"]
    print_table(headers, rows)
    if real_rows:
        print()
        print("hybrid with every chunk embedded by the real model (--model), ms p50 / p95")
        print_table(["chunks", "hybrid, MiniLM all", "dev recall@5", "edge question in top 5"], real_rows)
    print()
    kinds = sorted({k for _, lex, _ in kind_rows for k in lex})
    counts = {k: sum(1 for q in questions if q.get("evidence") and q.get("kind", "?") == k) for k in kinds}
    print("dev recall@5 by question kind, lexical / hybrid (synthetic): how the real answers hold up as")
    print("synthetic paragraphs made of the same words pile up")
    print_table(
        ["chunks", *[f"{k} ({counts[k]})" for k in kinds]],
        [
            [f"{c:,}", *[f"{lex.get(k, 0):.2f} / {hyb.get(k, 0):.2f}" for k in kinds]]
            for c, lex, hyb in kind_rows
        ],
    )
    print()
    print("stage times inside Library.search, ms p50 / p95")
    print_table(["chunks", "mode", "parse", "retrieve_lexical", "retrieve_dense", "fuse"], stage_rows)
    print()
    print(f"Yanbao.ask (extractive answer) at {largest:,} chunks, ms p50 / p95")
    print_table(["mode", "ask p50 / p95"], ask_rows)
    print()
    print("building the corpus (not the product's write path: see bench_scale.py for that)")
    for line in notes_out:
        print(f"  {line}")
    target = rows[-1][2].p95_ms if rows else float("nan")
    print(
        f"\ntarget: p95 < 150 ms at 100k chunks; hybrid (synthetic) p95 at {largest:,} chunks = {target:.1f} ms"
    )
    print(f"   {machine_line()}")
    return 0


def real_model_run(model, corpus, questions, args, home: Path, sizes: list[int]) -> list[list[object]]:
    """Hybrid with MiniLM vectors for every chunk, at the sizes up to --real-dense-max."""
    from index.embedding import EmbedderStatus
    from index.library import Library
    from index.settings import load_settings

    rows = []
    settings = load_settings({"YANBAO_HOME": str(home), "YANBAO_EMBED_MODEL": args.model})
    library = Library(settings, embedder_status=EmbedderStatus(model, args.model))
    library.index(real_note_paths(), progress=False)
    chunks = library.status()["chunks"]
    next_report = 0
    for size in [s for s in sizes if s <= args.real_dense_max]:
        if size > chunks:
            reports = corpus.take_chunks(next_report, size - chunks)
            next_report += len(reports)
            started = time.perf_counter()
            generation = library.store.generation() + 1
            # one encode call for all chunks (length-sorted batches), then each report's share
            vectors = iter(model.embed_passages([c.search_text for r in reports for c in r.chunks]))
            bulk_load(
                library.store,
                reports,
                lambda r, v=vectors: [next(v) for _ in r.chunks],
                generation,
            )
            library.store.bump_generation()
            library.refresh()
            chunks = library.status()["chunks"]
            print(
                f"-- MiniLM: {chunks:,} chunks embedded and written in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
        result = measure(library, questions, args.repeats, args.budget)
        rows.append(
            [f"{chunks:,}", result["latency"], f"{result['recall5']:.2f}", edge_text(result["edge_rank"])]
        )
    return rows


if __name__ == "__main__":
    sys.exit(main())
