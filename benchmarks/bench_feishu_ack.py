"""How fast the Feishu bot acknowledges pushed events, how soon an answer starts streaming into its
card, and how long until the card is final.

Runs the real bot in its own process (`bot.feishu.server.serve`, webhook mode) with the real service
over the project's sample notes (lexical only), against the fake Feishu Open API on 127.0.0.1, then
pushes N encrypted, signed im.message.receive_v1 events at once. Two phases, each with a fresh bot
process: extractive answers (CPU-bound, the hardest load for the acknowledgements), then an LLM (the
fake OpenAI-compatible server) streaming its answers into CardKit cards.

    .venv/bin/python benchmarks/bench_feishu_ack.py [--events 50] [--json] [--no-llm] [--profile]

ack latency          = the HTTP round trip of each push (Feishu wants it under 3 s; target p99 < 100 ms)
first streamed text  = from sending the event to the fake API receiving the first card update with answer text
time to answer       = from sending the event to the fake API receiving the final card (with 👍/👎)
--profile            = also time the webhook's own steps (decrypt, signature, parse) in this process
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
from tests.fakes.feishu_api import APP_ID, APP_SECRET, FakeFeishu, message_event, webhook_request  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402

TOKEN = "bench-verification-token"
KEY = "bench-encrypt-key"

BOT_PROCESS = """
import sys
sys.path.insert(0, sys.argv[1])
from bot.service import Yanbao
from bot.feishu.server import serve
from index.settings import load_settings

settings = load_settings()
serve(Yanbao(settings), settings, host="127.0.0.1", port=int(sys.argv[2]), mode="http")
"""


def push_all(port: int, payloads: list[dict]) -> dict[str, tuple[float, float, int]]:
    """message id -> (sent at, ack seconds, status) of `payloads` pushed at once, encrypted and
    signed as Feishu does."""
    items = []
    for payload in payloads:
        body, headers = webhook_request(payload, token=TOKEN, encrypt_key=KEY, encrypted=True)
        items.append(
            {"key": payload["event"]["message"]["message_id"], "body": body.decode(), "headers": headers}
        )
    return fire(f"http://127.0.0.1:{port}/feishu/events", items)


def first_text_times(feishu: FakeFeishu) -> dict[str, float]:
    """incoming message id -> when its card first received answer text (not the "🔍 searching" status)."""
    out: dict[str, float] = {}
    for call in feishu.calls_to("card_content"):
        content = str(call.body.get("content") or "")
        entity = feishu.entities.get(str(call.body.get("card_id")))
        if call.code or content.startswith("🔍") or entity is None or entity.message_id is None:
            continue
        sent = feishu.messages.get(entity.message_id)
        if sent is not None and sent.parent_id:
            out.setdefault(sent.parent_id, call.at)
    return out


def run_phase(feishu: FakeFeishu, env: dict[str, str], home: Path, events: int, tag: str) -> dict:
    port = free_port()
    bot = start_bot(BOT_PROCESS, env, port, home / f"bot-{tag}.log")
    try:
        # warm-up: the first question loads the lexical index; then one question alone, timed
        for n in range(2):
            warm = message_event(feishu, QUESTIONS[1], sender="ou_warm", chat_id=f"oc_warm{tag}{n}")
            warm_id = warm["event"]["message"]["message_id"]
            warm_sent = push_all(port, [warm])[warm_id][0]
            feishu.answer_to(warm_id, timeout=60)
        payloads = [
            message_event(
                feishu,
                QUESTIONS[i % len(QUESTIONS)],
                sender=f"ou_user{i:03d}",
                chat_id=f"oc_{tag}{i:03d}",
            )
            for i in range(events)
        ]
        fired = push_all(port, payloads)
        answers = {mid: feishu.answer_to(mid, timeout=300) for mid in fired}
    finally:
        bot.terminate()
        bot.wait(timeout=10)
    acks = [ack for _, ack, _ in fired.values()]
    first_text = first_text_times(feishu)
    streamed = [first_text[mid] - sent for mid, (sent, _, _) in fired.items() if mid in first_text]
    # the answer is final when the card carrying the 👍/👎 buttons arrives
    to_answer = [answers[mid].times[-1] - sent for mid, (sent, _, _) in fired.items()]
    return {
        "events": events,
        "statuses": sorted({status for _, _, status in fired.values()}),
        "streamed_answers": len(streamed),
        "first_token_s_alone": round(first_text[warm_id] - warm_sent, 2) if warm_id in first_text else None,
        "card_limit_violations": len(feishu.violations),
        **figures(acks, to_answer, streamed),
    }


def profile_webhook(rounds: int = 2000) -> dict[str, float]:
    """The webhook's own steps for one push, in microseconds (median of `rounds`)."""
    import statistics

    from starlette.datastructures import Headers

    from bot.feishu.crypto import decrypt, signature_matches
    from bot.feishu.webhook import verify_request

    settings = Settings(feishu_verification_token=TOKEN, feishu_encrypt_key=KEY)
    payload = message_event(None, QUESTIONS[0], sender="ou_x", chat_id="oc_x")
    body, headers = webhook_request(payload, token=TOKEN, encrypt_key=KEY, encrypted=True)
    lower = Headers(headers=headers)
    encrypted = json.loads(body)["encrypt"]
    steps = {
        "decrypt": lambda: decrypt(encrypted, KEY),
        "signature": lambda: signature_matches(
            lower["x-lark-request-timestamp"],
            lower["x-lark-request-nonce"],
            KEY,
            body,
            lower["x-lark-signature"],
        ),
        "verify_request (all checks + JSON)": lambda: verify_request(lower, body, settings),
    }
    out = {}
    for name, step in steps.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        out[name] = round(statistics.median(times) * 1e6, 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--no-llm", action="store_true", help="only the extractive phase")
    parser.add_argument("--profile", action="store_true", help="time the webhook's steps in this process")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="yanbao-bench-feishu-"))
    reports = home / "reports"
    copy_notes(reports)
    results: dict[str, dict] = {}
    try:
        with FakeFeishu() as feishu, FakeOpenAIServer() as llm:
            llm.responder = streaming_responder()
            Yanbao(Settings(home=home, embed_model="none", report_dirs=(reports,))).reindex(by=OPERATOR)
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
            results["extractive"] = run_phase(feishu, env, home, args.events, "x")
            if not args.no_llm:
                results["llm_streaming"] = run_phase(
                    feishu, {**env, **llm_env(llm.url)}, home, args.events, "l"
                )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if args.profile:
        results["webhook_steps_us"] = profile_webhook()

    if args.json:
        print(json.dumps(results))
    else:
        print("feishu: encrypted, signed im.message.receive_v1 pushes fired at once at the webhook")
        for name in ("extractive", "llm_streaming"):
            if name in results:
                phase = results[name]
                label = (
                    "extractive answers"
                    if name == "extractive"
                    else "LLM answers streamed into CardKit cards"
                )
                print_phase(label, phase["events"], phase["statuses"], phase)
                if phase["card_limit_violations"]:
                    print(f"    CardKit limits broken: {phase['card_limit_violations']}")
        if "webhook_steps_us" in results:
            steps = ", ".join(f"{k} {v} µs" for k, v in results["webhook_steps_us"].items())
            print(f"  webhook steps per push (median): {steps}")
    phases = [results[k] for k in ("extractive", "llm_streaming") if k in results]
    return 0 if all(p["statuses"] == [200] for p in phases) else 1


if __name__ == "__main__":
    raise SystemExit(main())
