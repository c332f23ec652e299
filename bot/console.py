"""`yanbao chat`: the bot's commands in a terminal, through the same dispatcher as Slack and Feishu.
The person at the terminal is the operator (they own the store), so admin commands run for them."""

from __future__ import annotations

import sys

from bot.dispatch import Dispatcher, Reply
from bot.permissions import OPERATOR
from bot.render_text import render_answer_text, render_reports_text, render_summary_text
from bot.service import Yanbao

PROMPT = "yanbao> "
QUIT = ("/quit", "/exit", ":q")


def render_reply_text(reply: Reply) -> str:
    """A Reply as terminal text."""
    if reply.kind == "answer" and reply.answer is not None:
        return render_answer_text(reply.answer)
    if reply.kind == "reports":
        return render_reports_text(reply.reports)
    if reply.kind == "indexed" and reply.summary is not None:
        return render_summary_text(reply.summary)
    text = reply.text("en") if reply.text else ""
    title = reply.title("en") if reply.title else ""
    return "\n".join(part for part in (title if reply.tone != "info" else "", text) if part) or title


def handle_line(service: Yanbao | Dispatcher, line: str, conversation: str) -> str | None:
    """One console line → the text to print; None means quit."""
    dispatcher = service if isinstance(service, Dispatcher) else Dispatcher(service)
    line = line.strip()
    if not line:
        return ""
    if line in QUIT:
        return None
    return render_reply_text(dispatcher.handle(line, OPERATOR, conversation=conversation))


def run_console(service: Yanbao) -> int:
    dispatcher = Dispatcher(service)
    conversation = "console:" + str(id(service))
    interactive = sys.stdin.isatty()
    if interactive:
        print("yanbao chat — ask a question, or /weekly, /changes, /reports, /reindex PATH, /help, /quit")
    while True:
        try:
            line = input(PROMPT if interactive else "")
        except EOFError:
            return 0
        out = handle_line(dispatcher, line, conversation)
        if out is None:
            return 0
        if out:
            print(out, flush=True)
