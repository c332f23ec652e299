"""Grow the index to 100k chunks, embedded and through a Chroma server: index time, ask latency,
memory and disk at each checkpoint.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_scale.py [--chunks 100000] [--both|--embedded|--server]
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_scale.py --chunks 1000000   # a bigger machine

Each store starts with the real notes (../shared/seeds, samples/) indexed by the real pipeline, then
grows with synthetic notes (benchmarks/synthetic.py: real jieba tokens, so the lexical index is real;
vectors from the benchmark's hashing embedder, a SYNTHETIC stand-in for a model) to 1k, 10k, 100k
(and 1M) chunks. At each checkpoint:

  write_report  the product's write path (Store.write_report: 8 Chroma calls a report, 5 of them
                writes) on a sample of reports: chunks/s, seconds a report (median and slowest), and
                what writing the whole checkpoint that way would take (an estimate);
  bulk          the rest of the chunks written as the same records in batches of 2,000 (how this
                benchmark reaches 100k in minutes; not a product path);
  refresh       Library.refresh after the growth: the lexical index catching up with the store;
  add 1 report  write_report of one more report + refresh: what indexing one new note costs at N;
  re-index      `Library.index` of the (unchanged) real notes at N: nothing written, catalog read;
  open          a new Library (as a replica or a restarted bot) until its first answer;
  search / ask  Library.search and the whole Yanbao.ask (extractive) over the dev questions, p50/p95;
  RSS, disk     this process's RSS now and at peak, the server's RSS, `du` of YANBAO_HOME and the
                server's --path.

With --both the two backends run one after the other in child processes, so each RSS is its own, and
checkpoints above --server-writes-up-to (default 10k) are not written through the server: writing
100k chunks both ways does not fit in ten minutes on 2 CPUs. The server then serves a copy of the
embedded store taken at the same point (the same records: the corpus is deterministic), its bulk
write time is an estimate from the rate measured at the previous checkpoint (labelled "est."), and
everything after the writes (refresh over HTTP, add one report, re-index, open, latency, RSS, disk)
is measured through the server. --server-writes-up-to 0 writes everything through the server.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import (  # noqa: E402
    CachedCorpus,
    ChromaServer,
    HashingEmbedder,
    RealNotes,
    Vocabulary,
    bulk_load,
    check_bulk_matches_write_report,
    disk_mb,
    latency,
    machine_line,
    peak_rss_mb,
    print_table,
    real_note_paths,
    rss_mb,
)

DEV_SET = ROOT / "eval" / "dev.jsonl"
TODAY = date(2025, 1, 8)
SAMPLE_REPORTS = 10  # reports written through Store.write_report at each checkpoint


def checkpoints(total: int) -> list[int]:
    return [c for c in (1_000, 10_000, 100_000, 1_000_000) if c < total] + [total]


def questions(limit: int) -> list[str]:
    if DEV_SET.is_file():
        items = [
            json.loads(line)["question"]
            for line in DEV_SET.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    else:
        items = [
            "Which stocks does Shanxi recommend for edge compute?",
            "山证推荐哪些IDC标的",
            "豆包11月月活?",
        ]
    return items[:limit] if limit else items


def timed(fn, items: list[str], budget_s: float) -> object:
    """One full timed pass over `items` (after warming up on a few), more passes while within budget."""
    for q in items[:10]:
        fn(q)
    seconds = []
    started = time.perf_counter()
    for _ in range(3):
        for q in items:
            t0 = time.perf_counter()
            fn(q)
            seconds.append(time.perf_counter() - t0)
        if time.perf_counter() - started > budget_s:
            break
    return latency(seconds)


class Profiler:
    """cProfile around a step when --profile is given; prints the top entries by cumulative time."""

    def __init__(self, enabled: bool, log) -> None:
        self.enabled, self.log = enabled, log

    def run(self, label: str, fn, *args, **kwargs):
        if not self.enabled:
            return fn(*args, **kwargs)
        profile = cProfile.Profile()
        result = profile.runcall(fn, *args, **kwargs)
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(14)
        text = out.getvalue()
        self.log(f"--- profile: {label}\n" + text[text.find("   ncalls") :].rstrip())
        return result


def run_backend(kind: str, args: argparse.Namespace, log=print) -> list[dict]:
    """Grow one store (kind "embedded" or "server") through the checkpoints; one dict per checkpoint.

    `args.snapshots` (a folder): the embedded run leaves there a copy of its Chroma folder at each
    checkpoint above `args.server_writes_up_to`, taken right after that checkpoint's writes; the server
    run then serves that copy at the same checkpoint instead of writing it through HTTP."""
    from bot.service import Yanbao
    from index.embedding import EmbedderStatus
    from index.library import Library
    from index.settings import load_settings

    marks = checkpoints(args.chunks)
    notes = RealNotes()
    corpus = CachedCorpus(Vocabulary.from_notes(notes), args.seed, None if args.no_cache else args.cache)
    made = corpus.prepare_chunks(marks[-1])  # forked workers: before any store or server thread starts
    log(
        f"[{kind}] synthetic corpus ready ({'made in ' + format(made, '.0f') + ' s' if made else 'from cache'})"
    )
    asked = questions(args.questions)
    hashing = HashingEmbedder()
    profiler = Profiler(args.profile, log)

    def vectors(item):
        return [hashing.vector_for_tokens(t) for t in item.tokens]

    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix=f"yanbao-bench-scale-{kind}-", dir=args.tmp) as tmp:
        home = Path(tmp) / "home"
        environ = {"YANBAO_HOME": str(home), "YANBAO_EMBED_MODEL": "bench-hashing"}
        server = None
        if kind == "server":
            server = ChromaServer(Path(tmp) / "server-data").__enter__()
            environ["YANBAO_CHROMA_URL"] = server.url
        try:
            settings = load_settings(environ)
            status = EmbedderStatus(hashing, "bench-hashing")
            library = Library(settings, embedder_status=status)
            started = time.perf_counter()
            library.index(real_note_paths(), progress=False)
            log(f"[{kind}] real notes indexed in {time.perf_counter() - started:.1f} s")
            chunks = library.status()["chunks"]
            next_report = 0
            previous_bulk_rate = None
            for mark in marks:
                store = library.store
                row: dict = {"backend": kind, "target": mark, "served_from_copy": False}
                snapshot = args.snapshots / f"chroma-{mark}" if args.snapshots else None
                seeded = (
                    kind == "server"
                    and snapshot is not None
                    and mark > args.server_writes_up_to
                    and (snapshot / "bench-state.json").is_file()
                )
                # 1. the product's write path, on a sample of reports
                sample = []
                while len(sample) < SAMPLE_REPORTS and chunks + sum(len(r.chunks) for r in sample) < mark:
                    sample += corpus.take_reports(next_report, 1)
                    next_report += 1
                generation = store.generation() + 1
                per_report = []
                for item in sample:
                    started = time.perf_counter()
                    store.write_report(
                        item.report, item.version, item.chunks, item.tokens, vectors(item), generation
                    )
                    per_report.append(time.perf_counter() - started)
                write_s = sum(per_report)
                sample_chunks = sum(len(r.chunks) for r in sample)
                row["write_report_chunks_per_s"] = sample_chunks / write_s if write_s else None
                row["write_report_s_p50"] = statistics.median(per_report) if per_report else None
                row["write_report_s_max"] = max(per_report) if per_report else None
                remaining = mark - chunks - sample_chunks
                if seeded:
                    # 2'. serve the embedded run's store as of this point instead of writing it over HTTP
                    assert server is not None and snapshot is not None
                    made_by_embedded = json.loads((snapshot / "bench-state.json").read_text())
                    server.__exit__(None, None, None)
                    shutil.rmtree(server.path)
                    shutil.copytree(snapshot, server.path, ignore=shutil.ignore_patterns("bench-state.json"))
                    server.__enter__()
                    library = Library(settings, embedder_status=status)  # the copy's collections
                    next_report = made_by_embedded["next_report"]
                    row["served_from_copy"] = True
                    row["bulk_chunks_per_s"] = None
                    if previous_bulk_rate and remaining > 0:
                        row["bulk_s_estimate"] = remaining / previous_bulk_rate
                    log(f"[{kind}] {mark:,}: serving a copy of the embedded store (HTTP writes not run; "
                        f"estimated {row.get('bulk_s_estimate', 0):.0f} s at {previous_bulk_rate or 0:.0f} chunks/s)")  # fmt: skip
                else:
                    # 2. the rest in bulk, a block of synthetic reports at a time
                    rest_reports = rest_chunks = 0
                    first_rest = None
                    started = time.perf_counter()
                    for batch in corpus.batches(next_report, remaining) if remaining > 0 else []:
                        bulk_load(store, batch, vectors, generation)
                        rest_reports += len(batch)
                        rest_chunks += sum(len(r.chunks) for r in batch)
                        first_rest = first_rest or batch[0]
                    store.bump_generation()
                    bulk_s = time.perf_counter() - started
                    next_report += rest_reports
                    row["bulk_chunks_per_s"] = rest_chunks / bulk_s if rest_chunks else None
                    previous_bulk_rate = row["bulk_chunks_per_s"] or previous_bulk_rate
                    if sample and first_rest and not results:
                        problem = check_bulk_matches_write_report(store, first_rest, sample[0])
                        if problem:
                            log(f"[{kind}] WARNING: {problem}")
                    if kind == "embedded" and snapshot is not None and mark > args.server_writes_up_to:
                        library.store._client.close()  # let Chroma finish writing before the copy
                        shutil.copytree(home / "chroma", snapshot)
                        (snapshot / "bench-state.json").write_text(json.dumps({"next_report": next_report}))
                        library = Library(settings, embedder_status=status)
                # 3. the lexical index catches up
                started = time.perf_counter()
                profiler.run(f"{kind} {mark:,}: Library.refresh after growth", library.refresh)
                row["refresh_s"] = time.perf_counter() - started
                chunks = library.status()["chunks"]
                row["chunks"], row["reports"] = chunks, len(library.lexical.reports)
                row["store_chunks"] = library.store.count_chunks()
                if row["store_chunks"] != chunks:
                    log(
                        f"[{kind}] WARNING: the store holds {row['store_chunks']:,} chunks, the lexical index {chunks:,}"
                    )
                if row["write_report_chunks_per_s"]:
                    row["write_report_path_s_estimate"] = chunks / row["write_report_chunks_per_s"]
                log(f"[{kind}] {chunks:,} chunks: write_report {row['write_report_chunks_per_s'] or 0:.0f} chunks/s, "
                    f"bulk {_bulk(row)}{' chunks/s' if row['bulk_chunks_per_s'] else ''}, refresh {row['refresh_s']:.1f} s")  # fmt: skip
                # 4. one more report, as a user adding a note
                extra = corpus.take_reports(next_report, 1)[0]
                next_report += 1
                store = library.store
                started = time.perf_counter()
                generation = store.generation() + 1
                profiler.run(
                    f"{kind} {mark:,}: Store.write_report of one report",
                    store.write_report,
                    extra.report,
                    extra.version,
                    extra.chunks,
                    extra.tokens,
                    vectors(extra),
                    generation,
                )
                store.bump_generation()
                row["add_one_write_s"] = time.perf_counter() - started
                started = time.perf_counter()
                profiler.run(f"{kind} {mark:,}: Library.refresh after one report", library.refresh)
                row["add_one_refresh_s"] = time.perf_counter() - started
                chunks = library.status()["chunks"]
                # 5. re-index of the unchanged real notes
                started = time.perf_counter()
                summary = library.index(real_note_paths(), progress=False)
                row["reindex_unchanged_s"] = time.perf_counter() - started
                if summary.added or summary.updated or summary.failed:
                    log(
                        f"[{kind}] WARNING: re-indexing unchanged notes changed something: {summary.to_json()}"
                    )
                # 6. a new Library until its first answer (its lexical cache is on disk and current)
                started = time.perf_counter()
                fresh = Library(settings, embedder_status=status)
                fresh.search(asked[0], today=TODAY)
                row["open_s"] = time.perf_counter() - started
                del fresh
                # 7. latency
                row["search"] = timed(
                    lambda q, lib=library: lib.search(q, k=5, today=TODAY), asked, args.budget
                ).__dict__
                service = Yanbao(settings, library=library)
                row["ask"] = timed(lambda q, s=service: s.ask(q, today=TODAY), asked, args.budget).__dict__
                profiler.run(
                    f"{kind} {mark:,}: Library.search x{len(asked)}",
                    lambda lib=library: [lib.search(q, k=5, today=TODAY) for q in asked],
                )
                refreshes = []
                for _ in range(20):
                    t0 = time.perf_counter()
                    library.refresh()
                    refreshes.append(time.perf_counter() - t0)
                row["refresh_nochange"] = latency(refreshes).__dict__
                # 8. memory and disk
                row["rss_mb"], row["peak_rss_mb"] = rss_mb(), peak_rss_mb()
                row["server_rss_mb"] = server.rss_mb() if server else None
                row["disk_home_mb"] = disk_mb(home)
                row["disk_server_mb"] = disk_mb(server.path) if server else None
                row["chunks"] = chunks
                log(f"[{kind}] {chunks:,} chunks: search {row['search']['p50_ms']:.1f}/{row['search']['p95_ms']:.1f} ms, "
                    f"ask {row['ask']['p50_ms']:.1f}/{row['ask']['p95_ms']:.1f} ms, RSS {row['rss_mb']:.0f} MB")  # fmt: skip
                results.append(row)
        finally:
            if server:
                server.__exit__(None, None, None)
    return results


def print_report(rows: list[dict]) -> None:
    def f(value, spec=".1f") -> str:
        return "-" if value is None else format(value, spec)

    print()
    print("index time (synthetic vectors; the lexical index is real)")
    print_table(
        ["backend", "chunks", "write_report chunks/s", "s/report p50 (max)", "bulk chunks/s", "refresh s",
         "add 1 report: write + refresh s", "re-index unchanged s", "open s",
         "all chunks via write_report (est.) s"],
        [[r["backend"], f"{r['chunks']:,}", f(r["write_report_chunks_per_s"], ".0f"),
          f"{f(r['write_report_s_p50'], '.2f')} ({f(r['write_report_s_max'], '.2f')})", _bulk(r), f(r["refresh_s"]),
          f"{r['add_one_write_s']:.2f} + {r['add_one_refresh_s']:.2f}", f(r["reindex_unchanged_s"], ".2f"),
          f(r["open_s"]), f(r.get("write_report_path_s_estimate"), ".0f")] for r in rows],
    )  # fmt: skip
    print()
    print("latency (ms p50 / p95; hybrid with SYNTHETIC dense vectors), memory and disk")
    print_table(
        ["backend", "chunks", "search", "ask", "refresh, no change", "RSS MB", "peak RSS MB",
         "server RSS MB", "disk home MB", "disk server MB"],
        [[r["backend"], f"{r['chunks']:,}", _lat(r["search"]), _lat(r["ask"]), _lat(r["refresh_nochange"]),
          f(r["rss_mb"], ".0f"), f(r["peak_rss_mb"], ".0f"), f(r["server_rss_mb"], ".0f"),
          f(r["disk_home_mb"], ".0f"), f(r["disk_server_mb"], ".0f")] for r in rows],
    )  # fmt: skip
    for backend in dict.fromkeys(r["backend"] for r in rows):
        mine = [r for r in rows if r["backend"] == backend]
        if len(mine) >= 2:
            first, last = mine[0], mine[-1]
            growth = last["chunks"] / first["chunks"]
            print(
                f"{backend}: {first['chunks']:,} -> {last['chunks']:,} chunks (x{growth:.0f}): "
                f"search p95 x{last['search']['p95_ms'] / first['search']['p95_ms']:.1f}, "
                f"refresh x{last['refresh_s'] / max(first['refresh_s'], 1e-6):.0f}, "
                f"add-one-report x{(last['add_one_write_s'] + last['add_one_refresh_s']) / (first['add_one_write_s'] + first['add_one_refresh_s']):.0f}, "
                f"RSS x{last['rss_mb'] / first['rss_mb']:.1f}, "
                f"disk x{((last['disk_home_mb'] or 0) + (last['disk_server_mb'] or 0)) / max(1e-6, (first['disk_home_mb'] or 0) + (first['disk_server_mb'] or 0)):.0f}"
            )  # fmt: skip
    print()
    targets = {"embedded": 150, "server": 300}
    for r in rows:
        if r["chunks"] >= 100_000 and r["backend"] in targets:
            goal = targets[r["backend"]]
            verdict = "meets" if r["ask"]["p95_ms"] < goal else "MISSES"
            print(
                f"target: ask p95 < {goal} ms at 100k chunks ({r['backend']}): {r['ask']['p95_ms']:.1f} ms, {verdict}"
            )


def _bulk(r: dict) -> str:
    if r.get("served_from_copy"):
        estimate = r.get("bulk_s_estimate")
        return f"not run: copy (est. {estimate:.0f} s)" if estimate else "not run: copy"
    return "-" if r["bulk_chunks_per_s"] is None else f"{r['bulk_chunks_per_s']:.0f}"


def _lat(d: dict) -> str:
    return f"{d['p50_ms']:.1f} / {d['p95_ms']:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--chunks", type=int, default=100_000, help="grow to this many chunks (default 100000)"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--both", action="store_const", dest="backends", const="both", help="embedded, then server (default)"
    )
    which.add_argument("--embedded", action="store_const", dest="backends", const="embedded")
    which.add_argument("--server", action="store_const", dest="backends", const="server")
    parser.add_argument(
        "--questions", type=int, default=0, help="dev questions timed per checkpoint (default 0 = all)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=8.0,
        help="after one timed pass, more passes while under this many seconds",
    )
    parser.add_argument(
        "--server-writes-up-to",
        type=int,
        default=10_000,
        help="with --both: larger checkpoints are not written through the server (too slow here); it serves "
        "a copy of the embedded store at that checkpoint instead, and the HTTP write time is estimated "
        "from the last measured rate (default 10000; 0 = write everything through the server)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile refresh, write_report and search")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cache", type=Path, default=ROOT / ".bench" / "synthetic", help="synthetic-chunk cache"
    )
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--tmp", help="where the stores are made (default: the system temp folder)")
    parser.add_argument("--json-out", type=Path, help=argparse.SUPPRESS)  # used by --both for its children
    parser.add_argument("--snapshots", type=Path, help=argparse.SUPPRESS)  # likewise
    parser.set_defaults(backends="both")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up temp stores and the server
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    def log(message: str) -> None:
        print(message, file=sys.stderr if args.json_out else sys.stdout, flush=True)

    if args.json_out:  # a child of --both
        args.json_out.write_text(json.dumps(run_backend(args.backends, args, log)))
        return 0
    started = time.perf_counter()
    print(f"== bench_scale: grow to {args.chunks:,} chunks ({', '.join(f'{c:,}' for c in checkpoints(args.chunks))}); "
          f"backends: {args.backends}")  # fmt: skip
    print(f"   {machine_line()}")
    rows: list[dict] = []
    if args.backends == "both":
        with tempfile.TemporaryDirectory(prefix="yanbao-bench-scale-", dir=args.tmp) as shared:
            for kind in ("embedded", "server"):
                out = Path(shared) / f"{kind}.json"
                command = [
                    sys.executable, __file__, f"--{kind}", "--json-out", str(out), "--chunks", str(args.chunks),
                    "--questions", str(args.questions), "--budget", str(args.budget), "--seed", str(args.seed),
                    "--cache", str(args.cache), "--server-writes-up-to", str(args.server_writes_up_to),
                ]  # fmt: skip
                command += ["--no-cache"] if args.no_cache else []
                command += ["--tmp", args.tmp] if args.tmp else []
                command += ["--profile"] if args.profile else []
                command += ["--snapshots", shared] if args.server_writes_up_to else []
                child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
                try:
                    code = child.wait()
                finally:
                    if child.poll() is None:
                        child.terminate()
                        child.wait(timeout=60)
                if code:
                    print(f"   the {kind} run failed (exit {code})")
                    continue
                rows += json.loads(out.read_text())
    else:
        rows = run_backend(args.backends, args)
    print_report(rows)
    print(f"\n   finished in {time.perf_counter() - started:.0f} s; {machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
