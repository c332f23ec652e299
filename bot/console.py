"""`yanbao chat`: the bot's commands in a terminal, through the same service as Slack and Feishu."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.render_text import render_answer_text, render_reports_text, render_summary_text
from bot.service import Yanbao

PROMPT = "yanbao> "


def handle_line(service: Yanbao, line: str, conversation: str) -> str | None:
    """One console line → the text to print; None means quit."""
    line = line.strip()
    if not line:
        return ""
    if line in ("/quit", "/exit", ":q"):
        return None
    command, _, rest = line.partition(" ")
    rest = rest.strip()
    if command == "/help":
        return service.help_text()
    if command == "/weekly":
        return render_answer_text(service.weekly(broker=rest or None) if rest else service.weekly())
    if command == "/reports":
        return render_reports_text(service.reports())
    if command == "/reindex":
        paths = [Path(p) for p in rest.split()] if rest else None
        return render_summary_text(service.reindex(paths))
    return render_answer_text(service.ask(line, conversation=conversation))


def run_console(service: Yanbao) -> int:
    conversation = "console:" + str(id(service))
    interactive = sys.stdin.isatty()
    if interactive:
        print("yanbao chat — ask a question, or /weekly, /reports, /reindex PATH, /help, /quit")
    while True:
        try:
            line = input(PROMPT if interactive else "")
        except EOFError:
            return 0
        out = handle_line(service, line, conversation)
        if out is None:
            return 0
        if out:
            print(out, flush=True)
