"""Indexing throughput: lexical-only and with an embedding model, beside the bare model.encode.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_index.py [--model PATH] [--copies N]

Writes N copies of the real notes (../shared/seeds and samples/) to a temporary folder, each copy a
distinct report (its title line carries "bench copy i", so its content hash and id differ), and
indexes the folder with `Library.index` into a temporary YANBAO_HOME (embedded Chroma store):
  * prepare only   read, clean, describe, chunk and tokenize every file (Indexer.prepare), no store;
  * lexical-only   YANBAO_EMBED_MODEL=none, the whole index run;
  * with model     YANBAO_EMBED_MODEL=PATH (e.g. the MiniLM package's folder), the whole index run;
  * model.encode   the bare SentenceTransformer.encode over the same chunk texts (batch 32, normalised),
                   so what the pipeline adds around the model is visible; once in one call (batches of
                   similar length), once with one call a report as the pipeline makes them;
  * re-index       the same folder again, nothing changed: in the same process, and in a new Library
                   (what a fresh `yanbao index` pays: opening the store and the lexical cache).

PDF reader (first, and alone with --pdf-only): broker-shaped notes written by tests/broker_pdf.py
(about 30 pages each: a two-column first page with a sidebar or a layout table, running lines,
charts drawn as hundreds of vector paths, tables with captions, financial statements, disclaimer
pages), read in one process (one core) by
  * bare pypdfium2   open, and every page's text page and text (no positions, no layout);
  * the reader       index.readers.read_document (index/pdf/): what indexing runs;
each file in turn, best of --pdf-rounds per file, in CPU seconds; then the reading quality against what the
generator drew (paragraph integrity, sidebar leaks, tables with their caption, metadata), and
lexical-only indexing (`Library.index`, YANBAO_EMBED_MODEL=none) of one note and of the set.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests.broker_pdf draws the PDFs

from synthetic import machine_line, print_table, real_note_files  # noqa: E402

_HTML_TITLE = re.compile(rb"<title>", re.IGNORECASE)


def distinct_copy(data: bytes, suffix: str, number: int) -> bytes:
    """The file with its title marked as copy `number` (content hash and report differ per copy)."""
    marker = f" (bench copy {number})"
    if suffix in (".html", ".htm") and _HTML_TITLE.search(data):
        return _HTML_TITLE.sub(b"<title>" + marker.strip().encode() + b" ", data, count=1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data + f"\n{marker}\n".encode("ascii")
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            lines[index] = line.rstrip("\r") + marker + ("\r" if line.endswith("\r") else "")
            break
    return "\n".join(lines).encode("utf-8")


def write_copies(files: list[Path], folder: Path, copies: int) -> list[Path]:
    written = []
    for number in range(copies):
        target = folder / f"copy{number:03d}"
        target.mkdir(parents=True)
        for file in files:
            path = target / file.name
            path.write_bytes(distinct_copy(file.read_bytes(), file.suffix.lower(), number))
            written.append(path)
    return written


def pdf_figures(count: int, body_pages: int, rounds: int) -> None:
    """Reader vs bare pypdfium2 on generated broker notes; quality; lexical-only indexing."""
    import pypdfium2

    from index.library import Library
    from index.readers import read_document
    from index.settings import load_settings
    from tests.broker_pdf import find_cjk_font, note_specs, score_reading, write_note

    font = find_cjk_font()
    fonts = f"embedded {Path(font).name} + Vera" if font else "reportlab's unembedded CID fonts"
    print(f"== PDF reader: {count} generated broker notes ({fonts})")
    with tempfile.TemporaryDirectory(prefix="yanbao-bench-pdf-") as tmp:
        folder = Path(tmp) / "pdf"
        folder.mkdir()
        started = time.perf_counter()
        files, truths = [], []
        for number, spec in enumerate(note_specs(count, body_pages=body_pages, cjk_font_file=font)):
            path = (
                folder / f"{spec.day:%Y%m%d}-{spec.broker}-{spec.stock_name}({spec.stock_code})-{number}.pdf"
            )
            truths.append(write_note(path, spec))
            files.append(path)
        pages = sum(t.pages for t in truths)
        print(
            f"   wrote {len(files)} notes, {pages} pages ({pages / len(files):.0f} a note) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        blobs = [f.read_bytes() for f in files]

        def bare(data: bytes) -> None:
            document = pypdfium2.PdfDocument(data)
            for index in range(len(document)):
                page = document[index]
                textpage = page.get_textpage()
                textpage.get_text_range()
                textpage.close()
                page.close()
            document.close()

        # Each file is read bare and by the reader in turn, `rounds` times, and each keeps its best
        # CPU time: other work on the machine then inflates neither side more than the other.
        best = {"bare": 0.0, "reader": 0.0}
        for path, data in zip(files, blobs, strict=True):
            times = {"bare": float("inf"), "reader": float("inf")}
            for _ in range(rounds):
                started = time.process_time()
                bare(data)
                times["bare"] = min(times["bare"], time.process_time() - started)
                started = time.process_time()
                read_document(path)
                times["reader"] = min(times["reader"], time.process_time() - started)
            best["bare"] += times["bare"]
            best["reader"] += times["reader"]
        rows = [
            ["bare pypdfium2 text (open, text page, text)", pages, f"{best['bare']:.2f}", rate(pages, best["bare"])],
            ["reader (index/pdf: layout, tables, hints)", pages, f"{best['reader']:.2f}", rate(pages, best["reader"])],
        ]  # fmt: skip
        print_table(["PDF reading, one core, CPU seconds", "pages", "seconds", "pages/s"], rows)
        print(f"   reader / bare = {best['reader'] / best['bare']:.2f}x (target: within 3x)")

        scores = [score_reading(read_document(f), t) for f, t in zip(files, truths, strict=True)]
        whole = sum(s.whole for s in scores)
        paragraphs = sum(s.paragraphs for s in scores)
        leaks = sum(len(s.sidebar_leaks) for s in scores)
        tables = sum(s.tables for s in scores)
        captioned = sum(s.tables_with_caption for s in scores)
        metadata_ok = sum(1 for s in scores if not s.metadata_errors)
        print(
            f"   quality: paragraph integrity {whole}/{paragraphs} = {whole / max(1, paragraphs):.1%}; "
            f"sidebar lines in main text: {leaks}; tables with their caption on every row: "
            f"{captioned}/{tables}; notes with broker, date, title, analysts, rating, target, ticker "
            f"all right: {metadata_ok}/{len(scores)}"
        )
        for s in scores:
            for error in s.metadata_errors[:2]:
                print(f"     metadata: {error}")

        settings = load_settings({"YANBAO_HOME": str(Path(tmp) / "home-one"), "YANBAO_EMBED_MODEL": "none"})
        library = Library(settings)
        library.indexer.tokenizer.tokens("预热")  # jieba's dictionary load is not per-report work
        one = files[0]
        started, cpu = time.perf_counter(), time.process_time()
        summary = library.index([one], progress=False)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"   lexical-only index of one {truths[0].pages}-page note: {wall:.2f} s wall, {cpu:.2f} s CPU "
            f"({summary.chunks} chunks; target under 2 s)"
        )
        settings = load_settings({"YANBAO_HOME": str(Path(tmp) / "home-all"), "YANBAO_EMBED_MODEL": "none"})
        library = Library(settings)
        started, cpu = time.perf_counter(), time.process_time()
        summary = library.index([folder], progress=False)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"   lexical-only index of all {len(files)} notes: {wall:.2f} s wall, {cpu:.2f} s CPU = "
            f"{pages / wall:.1f} pages/s wall, {pages / cpu:.1f} pages/s CPU ({summary.added} added, "
            f"{len(summary.failed)} failed)"
        )
    print()


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.1f}" if seconds > 0 else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", help="a local sentence-transformers model folder (e.g. the MiniLM package's)"
    )
    parser.add_argument(
        "--copies", type=int, default=10, help="copies of the real notes to index (default 10)"
    )
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch.set_num_threads (0 = torch's default)"
    )
    parser.add_argument("--pdf-notes", type=int, default=6, help="generated broker PDFs (default 6)")
    parser.add_argument(
        "--pdf-pages", type=int, default=34, help="body sections of each (default 34: ~30 pages)"
    )
    parser.add_argument(
        "--pdf-rounds", type=int, default=5, help="timing rounds per file, best kept (default 5)"
    )
    parser.add_argument("--pdf-only", action="store_true", help="only the PDF reader figures")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

    from index.lexicon import Lexicon
    from index.library import Library
    from index.normalize import default_tokenizer
    from index.pipeline import Indexer
    from index.settings import load_settings

    if args.pdf_notes:
        pdf_figures(args.pdf_notes, args.pdf_pages, args.pdf_rounds)
    if args.pdf_only:
        return 0
    originals = real_note_files()
    print(f"== bench_index: {args.copies} copies of {len(originals)} real note files")
    print(f"   {machine_line()}")
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="yanbao-bench-index-") as tmp:
        folder = Path(tmp) / "reports"
        files = write_copies(originals, folder, args.copies)

        # prepare only: the CPU work of the pipeline without any store
        tokenizer, lexicon = default_tokenizer(), Lexicon.load()
        tokenizer.tokens("预热")  # jieba's dictionary load is not per-report work
        indexer = Indexer(None, None, tokenizer, lexicon)  # type: ignore[arg-type]  # prepare() needs no store
        started = time.perf_counter()
        prepared = [indexer.prepare(f, str(f.resolve()), f.read_bytes()) for f in files]
        prepare_s = time.perf_counter() - started
        texts = [c.search_text for p in prepared for c in p.chunks]
        n_reports, n_chunks = len(prepared), len(texts)
        rows.append(["prepare only (read/clean/describe/chunk/tokenize)", n_reports, n_chunks, prepare_s])

        def index_run(label: str, model: str) -> Library | None:
            home = Path(tmp) / f"home-{len(rows)}"
            settings = load_settings({"YANBAO_HOME": str(home), "YANBAO_EMBED_MODEL": model})
            started = time.perf_counter()
            library = Library(settings)
            open_s = time.perf_counter() - started
            if model != "none" and library.embedder_status.problem:
                print(f"   {label}: model not loaded ({library.embedder_status.problem}); skipped")
                return None
            started = time.perf_counter()
            summary = library.index([folder], progress=False)
            seconds = time.perf_counter() - started
            if summary.failed:
                print(f"   {label}: {len(summary.failed)} files failed, first: {summary.failed[0]}")
            rows.append([f"{label}: index run", summary.added, summary.chunks, seconds])
            started = time.perf_counter()
            again = library.index([folder], progress=False)
            rows.append(
                [f"{label}: re-index, nothing changed", again.unchanged, 0, time.perf_counter() - started]
            )
            started = time.perf_counter()
            fresh = Library(settings, embedder_status=library.embedder_status)  # model already loaded
            again = fresh.index([folder], progress=False)
            rows.append(
                [f"{label}: re-index in a new Library", again.unchanged, 0, time.perf_counter() - started]
            )
            print(f"   {label}: opened in {open_s:.1f} s, indexed in {seconds:.1f} s", flush=True)
            return library

        index_run("lexical-only", "none")
        if args.model:
            import torch

            if args.torch_threads:
                torch.set_num_threads(args.torch_threads)
            library = index_run("with model", args.model)
            if library is not None:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(args.model, device="cpu")
                model.encode(texts[:8], batch_size=32, normalize_embeddings=True, show_progress_bar=False)
                started = time.perf_counter()
                model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
                encode_s = time.perf_counter() - started
                rows.append(["bare model.encode of the same chunks", "", n_chunks, encode_s])
                started = time.perf_counter()
                for item in prepared:  # the pipeline embeds each report on its own
                    texts_of_report = [c.search_text for c in item.chunks]
                    model.encode(
                        texts_of_report, batch_size=32, normalize_embeddings=True, show_progress_bar=False
                    )
                rows.append(
                    ["bare model.encode, one call a report", "", n_chunks, time.perf_counter() - started]
                )
                print(f"   model {args.model} (torch threads {torch.get_num_threads()})")
        shutil.rmtree(folder, ignore_errors=True)

    print()
    table = []
    for label, reports, chunks, seconds in rows:
        table.append([
            label,
            f"{reports:,}" if isinstance(reports, int) else reports,
            f"{chunks:,}" if chunks else "",
            f"{seconds:.2f}",
            rate(reports, seconds) if isinstance(reports, int) and reports else "",
            rate(chunks, seconds) if chunks else "",
        ])  # fmt: skip
    print_table(["step", "reports", "chunks", "seconds", "reports/s", "chunks/s"], table)
    by_label = {r[0]: r[3] for r in rows}
    lexical_s = by_label.get("lexical-only: index run")
    model_s = by_label.get("with model: index run")
    encode_s = by_label.get("bare model.encode of the same chunks")
    if lexical_s is not None:
        print(f"\nstore + lexical index cost of a lexical-only run: {lexical_s - prepare_s:.2f} s "
              f"({(lexical_s - prepare_s) / max(1, n_reports) * 1000:.0f} ms a report) beyond prepare")  # fmt: skip
    per_report_s = by_label.get("bare model.encode, one call a report")
    if model_s is not None and encode_s is not None and lexical_s is not None and per_report_s is not None:
        print(
            f"with model: {model_s:.2f} s = model.encode as the pipeline calls it (one call a report) "
            f"{per_report_s:.2f} s + everything else {model_s - per_report_s:.2f} s "
            f"(a lexical-only run: {lexical_s:.2f} s)"
        )
        print(
            f"one encode call for all chunks would take {encode_s:.2f} s: batching across reports "
            f"saves {per_report_s - encode_s:.2f} s ({per_report_s / encode_s:.2f}x on the encode)"
        )
    print(f"   {machine_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
