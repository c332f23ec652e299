"""What each `yanbao` command does, given parsed arguments. Output for people on a terminal, or
JSON for scripts (--json)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.answer import Answer
from bot.logs import configure_logging, secret_values
from bot.permissions import OPERATOR
from bot.render_text import render_answer_text, render_report_text, render_reports_text, render_summary_text
from index.settings import Settings, SettingsError, load_settings

log = logging.getLogger("yanbao.cli")


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _err(message: str) -> None:
    sys.stderr.write(f"yanbao: {message}\n")


def _service(settings: Settings):
    from bot.service import Yanbao

    service = Yanbao(settings)
    status = service.library.embedder_status
    if status.problem:  # said once, clearly; the run goes on lexical-only
        _err(
            f"embedding model not available: {status.problem}. Running lexical-only "
            "(set YANBAO_EMBED_MODEL to a local model folder, or to none to silence this)."
        )
    return service


def run_command(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        _err(f"configuration error: {exc}")
        return 2
    # A server logs; a command run by a person prints what matters itself (a model that cannot be
    # loaded is said once, in words, by _service), so its log shows errors only.
    configure_logging(
        settings.log_level if args.command == "serve" else "ERROR", json=True, secrets=secret_values(settings)
    )
    handler = _COMMANDS[args.command]
    try:
        return handler(args, settings)
    except SettingsError as exc:
        _err(f"configuration error: {exc}")
        return 2


def cmd_index(args, settings: Settings) -> int:
    from index.pipeline import UsageError, discover

    rebuild = args.rebuild_lexical
    if not args.paths and not rebuild:
        _err("index needs at least one PATH (or --rebuild-lexical)")
        return 2
    try:
        discover(args.paths)  # usage errors (missing paths) before anything is opened
    except UsageError as exc:
        _err(str(exc))
        return 2
    from bot.state import LockTimeout

    service = _service(settings)
    if args.watch:
        return _watch(service, args)
    progress = None if not args.no_progress else False
    summary = None

    def waiting(holder: str) -> None:
        _err(f"waiting for the index lock, held by {holder} (only one index run at a time)…")

    if args.paths:
        try:
            with service.state.lock("index", on_wait=waiting):
                summary = service.library.index(list(args.paths), prune=args.prune, progress=progress)
        except LockTimeout as exc:
            _err(
                f"gave up waiting for the index lock after {exc.timeout:g} s; it is held by "
                f"{exc.holder or 'another process'}. Run again when that run has finished."
            )
            return 1
    out = summary.to_json() if summary else {}
    if rebuild:
        out["lexical_chunks"] = service.library.rebuild_lexical()
    if args.json:
        _print_json(out)
    else:
        if summary:
            sys.stdout.write(render_summary_text(summary) + "\n")
        if rebuild:
            sys.stdout.write(f"lexical index rebuilt from the store: {out['lexical_chunks']} chunks\n")
    return 1 if summary and summary.failed else 0


def _watch(service, args) -> int:
    """`index --watch`: index now, then what arrives, until interrupted (Ctrl-C, SIGTERM)."""
    import signal
    import threading

    from bot.watch import watch

    if args.interval <= 0:
        _err("--interval must be more than 0 seconds")
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(summary) -> None:
        if args.json:
            _print_json(summary.to_json())
        else:
            sys.stdout.write(render_summary_text(summary) + "\n")
            sys.stdout.flush()

    folders = ", ".join(str(p) for p in args.paths)
    _err(f"watching {folders} every {args.interval:g} s (Ctrl-C stops)")
    try:
        watch(service, list(args.paths), interval=args.interval, prune=args.prune, report=report, stop=stop)
    except KeyboardInterrupt:
        pass
    return 0


def _answer_out(answer: Answer, as_json: bool) -> None:
    if as_json:
        _print_json(answer.to_json())
    else:
        sys.stdout.write(render_answer_text(answer) + "\n")


def cmd_ask(args, settings: Settings) -> int:
    service = _service(settings)
    if args.hits < 0:
        _err("--hits K: K must be 0 or more")
        return 2
    options = dict(
        broker=args.broker,
        since=args.since,
        until=args.until,
        conversation=args.conversation,
        hits=args.hits,
    )
    if args.question == "-":
        for line in sys.stdin:
            if line.strip():
                _answer_out(service.ask(line.strip(), **options), args.json)
        return 0
    _answer_out(service.ask(args.question, **options), args.json)
    return 0


def cmd_weekly(args, settings: Settings) -> int:
    service = _service(settings)
    _answer_out(service.weekly(broker=args.broker, sector=args.sector), args.json)
    return 0


def cmd_changes(args, settings: Settings) -> int:
    service = _service(settings)
    broker, sector = service.broker_and_sector(" ".join(args.words))
    _answer_out(service.changes(args.broker or broker, args.sector or sector), args.json)
    return 0


def cmd_subscriptions(args, settings: Settings) -> int:
    from bot.state import open_state
    from bot.subscriptions import Subscriptions, render_subscriptions

    subscriptions = Subscriptions(open_state(settings)).all()
    if args.json:
        _print_json([s.to_json() for s in subscriptions])
    else:
        text = (
            render_subscriptions(subscriptions, places=True)
            or "no subscriptions (see /subscribe in a channel)"
        )
        sys.stdout.write(text + "\n")
    return 0


def cmd_reports(args, settings: Settings) -> int:
    service = _service(settings)
    if args.action == "remove":
        if not args.id:
            _err("reports remove needs a report ID (see `yanbao reports`)")
            return 2
        removed = service.remove_report(args.id, by=OPERATOR)
        if args.json:
            _print_json({"removed": removed, "id": args.id})
        else:
            sys.stdout.write(("removed " if removed else "no such report: ") + args.id + "\n")
        return 0 if removed else 1
    if args.action == "show":
        if not args.id:
            _err("reports show needs a report ID (see `yanbao reports`)")
            return 2
        shown = service.report_paragraphs(args.id)
        if shown is None:
            _err(f"no such report: {args.id} (see `yanbao reports`)")
            return 1
        if args.json:
            _print_json(shown)
        else:
            sys.stdout.write(render_report_text(shown) + "\n")
        return 0
    reports = service.reports()
    if args.json:
        _print_json([r.to_json() for r in reports])
    else:
        sys.stdout.write(render_reports_text(reports) + "\n")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    service = _service(settings)
    if args.platform == "slack":
        from bot.slack.server import serve

        serve(service, settings, args.host, args.port, mode=args.mode or "http")
    else:
        from bot.feishu.server import serve

        serve(service, settings, args.host, args.port, mode=args.mode or "ws")
    return 0


def cmd_chat(args, settings: Settings) -> int:
    from bot.console import run_console

    return run_console(_service(settings))


def cmd_eval(args, settings: Settings) -> int:
    from bot.evaluate import evaluate_file, render_report

    if not args.file.is_file():
        _err(f"{args.file}: no such file")
        return 2
    from datetime import date

    try:
        today = date.fromisoformat(args.today) if args.today else None
    except ValueError:
        _err(f"--today {args.today!r}: expected YYYY-MM-DD")
        return 2
    try:
        report = evaluate_file(_service(settings), args.file, k=args.k, today=today)
    except ValueError as exc:
        _err(str(exc))
        return 2
    if args.json:
        _print_json(report)
    else:
        sys.stdout.write(render_report(report) + "\n")
    return 0


def cmd_doctor(args, settings: Settings) -> int:
    from bot.doctor import diagnose, render_diagnosis

    report = diagnose(settings)
    if args.json:
        _print_json(report)
    else:
        sys.stdout.write(render_diagnosis(report) + "\n")
    return 0 if report.get("ok") else 1


def cmd_models(args, settings: Settings) -> int:
    """Download a model on a connected machine, to copy to an air-gapped one."""
    from sentence_transformers import SentenceTransformer

    target: Path = args.to
    try:
        model = SentenceTransformer(args.name, device="cpu")
    except Exception as exc:
        _err(f"could not download {args.name}: {exc}")
        return 1
    target.mkdir(parents=True, exist_ok=True)
    model.save(str(target))
    sys.stdout.write(
        f"saved {args.name} to {target}; on the offline machine set YANBAO_EMBED_MODEL={target}\n"
    )
    return 0


_COMMANDS = {
    "index": cmd_index,
    "ask": cmd_ask,
    "weekly": cmd_weekly,
    "changes": cmd_changes,
    "subscriptions": cmd_subscriptions,
    "reports": cmd_reports,
    "serve": cmd_serve,
    "chat": cmd_chat,
    "eval": cmd_eval,
    "doctor": cmd_doctor,
    "models": cmd_models,
}
