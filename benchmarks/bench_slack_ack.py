"""How fast the Slack bot acknowledges, and how long until the answer is in the thread.

Serves the real bot over HTTP (uvicorn) with the real service over the seed notes (lexical only),
against the fake Slack Web API on 127.0.0.1, then fires N signed app_mention events at once.

    .venv/bin/python benchmarks/bench_slack_ack.py [--events 50] [--json]

ack latency      = the HTTP round trip of each event POST (Slack wants it under 3 s; target p99 < 100 ms)
time to answer   = from sending the event to the fake API receiving the chat.update with the answer
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.service import Yanbao  # noqa: E402
from bot.slack.server import build_asgi  # noqa: E402
from index.settings import Settings  # noqa: E402
from tests.fakes.slack_api import (  # noqa: E402
    FakeSlackAPI,
    ServedApp,
    SlackSender,
    mention_event,
    new_ts,
    signed_headers,
)

SEEDS = Path("/work/shared/seeds")
SECRET = "bench-signing-secret"
QUESTIONS = [
    "字节边缘算力建议关注哪些公司？",
    "字节跳动2025年资本开支预计多少？",
    "豆包APP的MAU是多少？",
    "10Y美债收益率上行对美股有什么影响？",
    "IDC基建受益标的有哪些？",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def is_answer(call) -> bool:
    blocks = call.params.get("blocks") or []
    return call.method == "chat.update" and bool(blocks) and blocks[-1].get("type") == "actions"


async def fire(sender: SlackSender, events: list[tuple[str, dict]]) -> dict[str, tuple[float, float, int]]:
    """Post every event at once; channel -> (sent at wall time, ack seconds, status)."""
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=len(events))) as http:

        async def one(channel: str, event: dict) -> tuple[str, tuple[float, float, int]]:
            body = sender.event_body(event)
            headers = signed_headers(SECRET, body, "application/json")
            sent = time.time()
            started = time.perf_counter()
            response = await http.post(sender.bot_url, content=body.encode(), headers=headers)
            return channel, (sent, time.perf_counter() - started, response.status_code)

        results = await asyncio.gather(*(one(channel, event) for channel, event in events))
    return dict(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="yanbao-bench-"))
    reports = home / "reports"
    reports.mkdir()
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, reports / seed.name)
    try:
        with FakeSlackAPI() as slack:
            settings = Settings(
                home=home,
                embed_model="none",
                report_dirs=(reports,),
                slack_bot_token=slack.bot_token,
                slack_signing_secret=SECRET,
                slack_api_url=slack.api_url,
            )
            service = Yanbao(settings)
            service.reindex()
            with ServedApp(build_asgi(service, settings)) as bot:
                sender = SlackSender(bot.events_url, SECRET)
                # warm-up: the first question loads the lexical index
                warm_ts = new_ts()
                started = time.perf_counter()
                sender.event(
                    mention_event("<@UBOT> 豆包APP的MAU是多少？", user="UWARM", channel="CWARM", ts=warm_ts)
                )
                slack.wait_for(
                    lambda: any(is_answer(c) and c.params["channel"] == "CWARM" for c in slack.calls), 60
                )
                warm_seconds = time.perf_counter() - started

                events = [
                    (
                        f"CBENCH{i:03d}",
                        mention_event(
                            f"<@UBOT> {QUESTIONS[i % len(QUESTIONS)]}",
                            user=f"U{i:03d}",
                            channel=f"CBENCH{i:03d}",
                            ts=new_ts(),
                        ),
                    )
                    for i in range(args.events)
                ]
                fired = asyncio.run(fire(sender, events))
                channels = set(fired)
                slack.wait_for(
                    lambda: (
                        len({c.params["channel"] for c in slack.calls if is_answer(c)} & channels)
                        == len(channels)
                    ),
                    300,
                )
                answered_at: dict[str, float] = {}
                for call in slack.calls:
                    if is_answer(call) and call.params["channel"] in channels:
                        answered_at.setdefault(call.params["channel"], call.at)
                sender.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    acks = [ack for _, ack, _ in fired.values()]
    statuses = sorted({status for _, _, status in fired.values()})
    to_answer = [answered_at[ch] - sent for ch, (sent, _, _) in fired.items()]
    figures = {
        "events": args.events,
        "statuses": statuses,
        "ack_ms_p50": round(statistics.median(acks) * 1000, 1),
        "ack_ms_p99": round(percentile(acks, 99) * 1000, 1),
        "ack_ms_max": round(max(acks) * 1000, 1),
        "answer_s_p50": round(statistics.median(to_answer), 2),
        "answer_s_p99": round(percentile(to_answer, 99), 2),
        "first_answer_s": round(warm_seconds, 2),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"slack ack: {args.events} concurrent signed app_mention events, HTTP statuses {statuses}")
        print(
            f"  ack latency      p50 {figures['ack_ms_p50']:7.1f} ms   p99 {figures['ack_ms_p99']:7.1f} ms"
            f"   max {figures['ack_ms_max']:.1f} ms   (target p99 < 100 ms; Slack allows 3000 ms)"
        )
        print(
            f"  time to answer   p50 {figures['answer_s_p50']:7.2f} s    p99 {figures['answer_s_p99']:7.2f} s"
            f"    (first answer, cold: {figures['first_answer_s']:.2f} s)"
        )
    return 0 if statuses == [200] else 1


if __name__ == "__main__":
    raise SystemExit(main())
