"""How fast the Slack bot acknowledges, how soon an answer starts streaming, how long until it is in
the thread.

Runs the real bot (`bot.slack.server.serve`, HTTP mode, settings from the environment) in its own
process over the project's sample notes (lexical only), pointed at the fake Slack Web API on
127.0.0.1 in this process; a third process fires N signed app_mention events at once. Two phases,
each with a fresh bot process: extractive answers (CPU-bound, the hardest load for the
acknowledgements), then an LLM (the fake OpenAI-compatible server) streaming its answers through
chat.startStream / appendStream / stopStream.

    .venv/bin/python benchmarks/bench_slack_ack.py [--events 50] [--json] [--no-llm]

ack latency          = the HTTP round trip of each event POST (Slack wants it under 3 s; target p99 < 100 ms)
first streamed text  = from sending the event to the fake API receiving the first streaming call with answer text
time to answer       = from sending the event to the fake API receiving the call that ends the answer
                       (chat.stopStream, or chat.update on the fallback path, with the 👍/👎 buttons)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot_process import (  # noqa: E402 (benchmarks/ is on sys.path)
    QUESTIONS,
    copy_notes,
    figures,
    fire,
    free_port,
    llm_env,
    print_phase,
    start_bot,
    streaming_responder,
)

from bot.permissions import OPERATOR  # noqa: E402
from bot.service import Yanbao  # noqa: E402
from index.settings import Settings  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.fakes.slack_api import (  # noqa: E402
    FakeSlackAPI,
    SlackSender,
    mention_event,
    new_ts,
    signed_headers,
)

SECRET = "bench-signing-secret"
STREAM_METHODS = ("chat.startStream", "chat.appendStream")


def is_answer(call) -> bool:
    blocks = call.params.get("blocks") or []
    return (
        call.method in ("chat.update", "chat.stopStream")
        and bool(blocks)
        and blocks[-1].get("type") == "actions"
    )


def has_text(call) -> bool:
    """A streaming call carrying answer text (not only the stop's blocks)."""
    chunks = call.params.get("chunks") or []
    return call.method in STREAM_METHODS and bool(call.params.get("markdown_text") or chunks)


def fire_events(
    url: str, events: list[tuple[str, dict]], sender: SlackSender
) -> dict[str, tuple[float, float, int]]:
    """channel -> (sent at, ack seconds, status) of `events` posted at once, signed as Slack signs."""
    items = []
    for channel, event in events:
        body = sender.event_body(event)
        items.append(
            {"key": channel, "body": body, "headers": signed_headers(SECRET, body, "application/json")}
        )
    return fire(url, items)


BOT_PROCESS = """
import sys
sys.path.insert(0, sys.argv[1])
from bot.service import Yanbao
from bot.slack.server import serve
from index.settings import load_settings

settings = load_settings()
serve(Yanbao(settings), settings, host="127.0.0.1", port=int(sys.argv[2]))
"""


def run_phase(slack: FakeSlackAPI, env: dict[str, str], home: Path, events: int, tag: str) -> dict:
    """One bot process, a warm-up question, then `events` mentions at once; the figures."""
    port = free_port()
    bot = start_bot(BOT_PROCESS, env, port, home / f"bot-{tag}.log")
    try:
        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET)
        # warm-up: the first question loads the lexical index; then one question alone, timed
        for warm in (f"CCOLD{tag}", f"CALONE{tag}"):
            warm_sent = time.time()
            sender.event(mention_event(f"<@UBOT> {QUESTIONS[1]}", user="UWARM", channel=warm, ts=new_ts()))
            slack.wait_for(
                lambda w=warm: any(is_answer(c) and c.params["channel"] == w for c in slack.calls), 60
            )
        mentions = [
            (
                f"C{tag}{i:03d}",
                mention_event(
                    f"<@UBOT> {QUESTIONS[i % len(QUESTIONS)]}",
                    user=f"U{i:03d}",
                    channel=f"C{tag}{i:03d}",
                    ts=new_ts(),
                ),
            )
            for i in range(events)
        ]
        fired = fire_events(sender.bot_url, mentions, sender)
        channels = set(fired)
        slack.wait_for(
            lambda: (
                len({c.params["channel"] for c in slack.calls if is_answer(c)} & channels) == len(channels)
            ),
            300,
        )
        answered_at: dict[str, float] = {}
        first_text_at: dict[str, float] = {}
        for call in list(slack.calls):
            channel = call.params.get("channel")
            if channel not in channels and channel != warm:
                continue
            if is_answer(call):
                answered_at.setdefault(channel, call.at)
            if has_text(call):
                first_text_at.setdefault(channel, call.at)
        sender.close()
    finally:
        bot.terminate()
        bot.wait(timeout=10)
    acks = [ack for _, ack, _ in fired.values()]
    streamed = [first_text_at[ch] - sent for ch, (sent, _, _) in fired.items() if ch in first_text_at]
    return {
        "events": events,
        "statuses": sorted({status for _, _, status in fired.values()}),
        "streamed_answers": len(streamed),
        "first_token_s_alone": round(first_text_at[warm] - warm_sent, 2) if warm in first_text_at else None,
        **figures(acks, [answered_at[ch] - sent for ch, (sent, _, _) in fired.items()], streamed),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--no-llm", action="store_true", help="only the extractive phase")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="yanbao-bench-"))
    reports = home / "reports"
    copy_notes(reports)
    results: dict[str, dict] = {}
    try:
        with FakeSlackAPI() as slack, FakeOpenAIServer() as llm:
            llm.responder = streaming_responder()
            settings = Settings(
                home=home,
                embed_model="none",
                report_dirs=(reports,),
                slack_bot_token=slack.bot_token,
                slack_signing_secret=SECRET,
                slack_api_url=slack.api_url,
            )
            Yanbao(settings).reindex(by=OPERATOR)
            env = {
                **os.environ,
                "YANBAO_HOME": str(home),
                "YANBAO_EMBED_MODEL": "none",
                "YANBAO_REPORT_DIRS": str(reports),
                "YANBAO_LOG_LEVEL": "WARNING",
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url,
            }
            results["extractive"] = run_phase(slack, env, home, args.events, "X")
            if not args.no_llm:
                results["llm_streaming"] = run_phase(
                    slack, {**env, **llm_env(llm.url)}, home, args.events, "L"
                )
    finally:
        shutil.rmtree(home, ignore_errors=True)

    if args.json:
        print(json.dumps(results))
    else:
        print("slack: signed app_mention events fired at once at the bot (HTTP mode, fake Web API)")
        for name, phase in results.items():
            print_phase(
                "extractive answers" if name == "extractive" else "LLM answers streamed natively",
                phase["events"],
                phase["statuses"],
                phase,
            )
    return 0 if all(p["statuses"] == [200] for p in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
