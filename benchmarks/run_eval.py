"""Score an evaluation set on a fresh index of the sample and seed notes (what `make eval` runs).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/run_eval.py eval/dev.jsonl --model none
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/run_eval.py eval/dev.jsonl --model PATH_TO_MINILM

Indexes samples/ and ../shared/seeds/ into a temporary YANBAO_HOME (embedded store), then runs
bot.evaluate.evaluate_file and prints its report. Only YANBAO_HOME and YANBAO_EMBED_MODEL are set:
no LLM, no Chroma server and no yanbao.toml from the environment, so two runs differ only by the model.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
# Relative questions ("most recent", "last Friday") are asked as of the notes' own time.
DEFAULT_TODAY = "2025-01-08"


def seeds_dir() -> Path:
    path = Path(__file__).resolve().parents[2] / "shared" / "seeds"
    if not path.is_dir():
        raise SystemExit(
            f"run_eval: the seed notes are missing: expected the folder {path} "
            "(../shared/seeds beside the project); the evaluation set refers to them"
        )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="the JSONL question set, e.g. eval/dev.jsonl")
    parser.add_argument("--model", required=True, help="`none` for lexical only, or a local model folder")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument(
        "--today", default=DEFAULT_TODAY, help=f"YYYY-MM-DD questions are asked on (default {DEFAULT_TODAY})"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    if not args.file.is_file():
        print(f"run_eval: {args.file}: no such file", file=sys.stderr)
        return 2
    try:
        today = date.fromisoformat(args.today)
    except ValueError:
        print(f"run_eval: --today {args.today!r}: expected YYYY-MM-DD", file=sys.stderr)
        return 2
    folders = [seeds_dir()]
    if SAMPLES.is_dir():
        folders.append(SAMPLES)
    else:
        print(f"run_eval: note: {SAMPLES} is missing; indexing the seeds only", file=sys.stderr)

    from bot.evaluate import evaluate_file, render_report
    from bot.service import Yanbao
    from index.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="yanbao-eval-") as home:
        settings = load_settings({"YANBAO_HOME": home, "YANBAO_EMBED_MODEL": args.model})
        service = Yanbao(settings)
        started = time.perf_counter()
        library = service.library
        status = library.embedder_status
        if status.problem:
            print(
                f"run_eval: the model could not be loaded, scoring LEXICAL-ONLY: {status.problem}",
                file=sys.stderr,
            )
        summary = library.index(folders, progress=False)
        model = status.embedder.name if status.embedder else "none (lexical only)"
        print(
            f"indexed {summary.added} reports, {summary.chunks} chunks from "
            f"{', '.join(str(f) for f in folders)} in {time.perf_counter() - started:.1f} s; "
            f"embedding model: {model}; today = {today}"
        )
        for failure in summary.failed:
            print(f"  failed: {failure.path}: {failure.error}")
        kwargs = {"today": today} if "today" in inspect.signature(evaluate_file).parameters else {}
        report = evaluate_file(service, args.file, args.k, **kwargs)
        if args.json:
            print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        else:
            print(render_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
