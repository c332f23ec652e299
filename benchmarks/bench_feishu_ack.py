"""How fast the Feishu bot acknowledges pushed events, and how long until the answer card is final.

Runs the real bot in its own process (`bot.feishu.server.serve`, webhook mode) with the real service
over the seed notes (lexical only), against the fake Feishu Open API on 127.0.0.1, then pushes N
encrypted, signed im.message.receive_v1 events at once.

    .venv/bin/python benchmarks/bench_feishu_ack.py [--events 50] [--json]

ack latency      = the HTTP round trip of each push (Feishu wants it under 3 s; target p99 < 100 ms)
time to answer   = from sending the event to the fake API receiving the PATCH with the answer card
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot_process import free_port, percentile, start_bot  # noqa: E402 (benchmarks/ is on sys.path)

from bot.service import Yanbao  # noqa: E402
from index.settings import Settings  # noqa: E402
from tests.fakes.feishu_api import APP_ID, APP_SECRET, FakeFeishu, message_event, webhook_request  # noqa: E402
from tests.helpers import copy_notes  # noqa: E402

TOKEN = "bench-verification-token"
KEY = "bench-encrypt-key"
QUESTIONS = [
    "字节边缘算力建议关注哪些公司？",
    "字节跳动2025年资本开支预计多少？",
    "豆包APP的MAU是多少？",
    "10Y美债收益率上行对美股有什么影响？",
    "IDC基建受益标的有哪些？",
]

BOT_PROCESS = """
import sys
sys.path.insert(0, sys.argv[1])
from bot.service import Yanbao
from bot.feishu.server import serve
from index.settings import load_settings

settings = load_settings()
serve(Yanbao(settings), settings, host="127.0.0.1", port=int(sys.argv[2]), mode="http")
"""


async def fire(port: int, payloads: list[dict]) -> dict[str, tuple[float, float, int]]:
    """Push every event at once, as Feishu's servers would; message id -> (sent at wall time, ack
    seconds, HTTP status). The requests are built and the connections opened before the clock
    starts, so the figures are the bot's, not the Python HTTP client's."""
    prepared = []
    for payload in payloads:
        body, headers = webhook_request(payload, token=TOKEN, encrypt_key=KEY, encrypted=True)
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST /feishu/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode() + body
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        prepared.append((payload["event"]["message"]["message_id"], request, reader, writer))

    async def one(
        message_id: str, request: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, tuple[float, float, int]]:
        sent = time.time()
        started = time.perf_counter()
        writer.write(request)
        await writer.drain()
        response = await reader.read()  # the bot closes the connection after its answer
        elapsed = time.perf_counter() - started
        writer.close()
        return message_id, (sent, elapsed, int(response.split(b" ", 2)[1]))

    return dict(await asyncio.gather(*(one(*item) for item in prepared)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="yanbao-bench-feishu-"))
    reports = home / "reports"
    copy_notes(reports)
    try:
        with FakeFeishu() as feishu:
            Yanbao(Settings(home=home, embed_model="none", report_dirs=(reports,))).reindex()
            env = {
                **os.environ,
                "YANBAO_HOME": str(home),
                "YANBAO_EMBED_MODEL": "none",
                "YANBAO_REPORT_DIRS": str(reports),
                "YANBAO_LOG_LEVEL": "WARNING",
                "FEISHU_APP_ID": APP_ID,
                "FEISHU_APP_SECRET": APP_SECRET,
                "FEISHU_VERIFICATION_TOKEN": TOKEN,
                "FEISHU_ENCRYPT_KEY": KEY,
                "FEISHU_DOMAIN": feishu.url,
            }
            port = free_port()
            bot = start_bot(BOT_PROCESS, env, port, home / "bot.log")
            try:
                # warm-up: the first question loads the lexical index
                warm = message_event(feishu, "豆包APP的MAU是多少？", sender="ou_warm", chat_id="oc_warm")
                started = time.perf_counter()
                asyncio.run(fire(port, [warm]))
                feishu.answer_to(warm["event"]["message"]["message_id"], timeout=60)
                warm_seconds = time.perf_counter() - started

                payloads = [
                    message_event(
                        feishu,
                        QUESTIONS[i % len(QUESTIONS)],
                        sender=f"ou_user{i:03d}",
                        chat_id=f"oc_bench{i:03d}",
                    )
                    for i in range(args.events)
                ]
                fired = asyncio.run(fire(port, payloads))
                answers = {mid: feishu.answer_to(mid, timeout=300) for mid in fired}
            finally:
                bot.terminate()
                bot.wait(timeout=10)
    finally:
        shutil.rmtree(home, ignore_errors=True)

    acks = [ack for _, ack, _ in fired.values()]
    statuses = sorted({status for _, _, status in fired.values()})
    # the answer is final when the PATCH carrying the 👍/👎 buttons arrives
    to_answer = [answers[mid].times[-1] - sent for mid, (sent, _, _) in fired.items()]
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
        print(
            f"feishu ack: {args.events} concurrent encrypted, signed im.message.receive_v1 pushes, "
            f"HTTP statuses {statuses}"
        )
        print(
            f"  ack latency      p50 {figures['ack_ms_p50']:7.1f} ms   p99 {figures['ack_ms_p99']:7.1f} ms"
            f"   max {figures['ack_ms_max']:.1f} ms   (target p99 < 100 ms; Feishu allows 3000 ms)"
        )
        print(
            f"  time to answer   p50 {figures['answer_s_p50']:7.2f} s    p99 {figures['answer_s_p99']:7.2f} s"
            f"    (first answer, cold: {figures['first_answer_s']:.2f} s)"
        )
    return 0 if statuses == [200] else 1


if __name__ == "__main__":
    raise SystemExit(main())
