"""The `yanbao` command: index, ask, weekly, reports, serve, chat, eval, doctor, models.

Every command that a script may read takes --json. Exit codes: 0 ok, 1 some work failed, 2 usage.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
from pathlib import Path

# Chroma and tokenizers print telemetry/parallelism noise; the hub must never be probed for minutes.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _err(message: str) -> None:
    sys.stderr.write(f"yanbao: {message}\n")


def port(text: str) -> int:
    """A TCP port, 1-65535: `serve --port 99999` is refused, not bound elsewhere."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (use 1-65535)")
    return value


_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})|(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def day(text: str) -> str:
    """A date as YYYY-MM-DD, from 2024-12-01, 20241201, 2024/12/01 or 2024.12.01."""
    match = _DAY.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (write 2024-12-01 or 20241201)")
    year, month, day_ = (int(part) for part in match.groups() if part is not None)
    try:
        return datetime.date(year, month, day_).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date ({exc})") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="yanbao", description="研报 yanbao: answers about research notes, with citations."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="index report files or folders (incremental)")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    p.add_argument("--prune", action="store_true", help="remove reports whose files are gone")
    p.add_argument(
        "--watch",
        action="store_true",
        help="keep running: index files dropped into the folders (and, with --prune, remove deleted ones)",
    )
    p.add_argument("--interval", type=float, default=10.0, help="with --watch: seconds between looks (10)")
    p.add_argument(
        "--rebuild-lexical",
        action="store_true",
        help="rebuild this machine's lexical index from the store (after the PATHs, if any)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("ask", help='ask a question ("-" reads one question per line from stdin)')
    p.add_argument("question")
    p.add_argument("--broker")
    p.add_argument("--since", type=day, help="YYYY-MM-DD (or YYYYMMDD)")
    p.add_argument("--until", type=day, help="YYYY-MM-DD (or YYYYMMDD)")
    p.add_argument("--conversation", help="a conversation id, to ask follow-up questions")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--hits",
        type=int,
        default=0,
        metavar="K",
        help='with --json: add "hits", the top K retrieved paragraphs',
    )

    p = sub.add_parser("weekly", help="summarize the latest weekly note(s)")
    p.add_argument("--broker")
    p.add_argument("--sector")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("changes", help="what changed between a broker's latest weekly and the one before")
    p.add_argument("words", nargs="*", metavar="BROKER_OR_SECTOR", help="e.g. 山西证券 通信")
    p.add_argument("--broker")
    p.add_argument("--sector")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("subscriptions", help="every channel's subscriptions to new weekly notes")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("reports", help="list indexed reports; `reports show ID`, `reports remove ID`")
    p.add_argument("action", nargs="?", choices=["list", "show", "remove"], default="list")
    p.add_argument("id", nargs="?")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("serve", help="run the Slack or Feishu bot")
    p.add_argument("platform", choices=["slack", "feishu"])
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=port, default=8080)
    p.add_argument("--mode", choices=["http", "socket", "ws"], help="slack: http|socket; feishu: ws|http")

    sub.add_parser("chat", help="the bot's commands in a terminal")

    p = sub.add_parser("eval", help="score retrieval and answers on a JSONL question set")
    p.add_argument("file", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("-k", type=int, default=5)
    p.add_argument(
        "--today", type=day, help="YYYY-MM-DD: the date relative questions are asked on (default: today)"
    )

    p = sub.add_parser("doctor", help="what is configured and reachable")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("models", help="models: `models pull NAME --to DIR` for air-gapped installs")
    p.add_argument("action", choices=["pull"])
    p.add_argument("name")
    p.add_argument("--to", type=Path, required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from bot.commands import run_command  # heavy imports only after argument errors are out of the way

    try:
        return run_command(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # a message naming what to check, not a traceback (that has secrets)
        from bot.errors import debugging, describe_failure, masked_traceback
        from index.settings import SettingsError, load_settings

        try:
            settings = load_settings()
        except SettingsError:
            settings = None
        if debugging(settings):
            sys.stderr.write(masked_traceback(exc, settings))
        _err(describe_failure(exc, settings))
        return 1


if __name__ == "__main__":
    sys.exit(main())
