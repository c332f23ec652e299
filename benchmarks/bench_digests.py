"""What the digest worker costs a serving replica: an idle round (nothing new indexed), next to the
`library.refresh()` every question already pays, and a round that posts one digest to a fake
Slack on 127.0.0.1. Lexical-only store of N small weekly notes (the Shanxi fixture weekly with other
brokers and weeks), SQLite state.

    .venv/bin/python benchmarks/bench_digests.py [--notes 200] [--rounds 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.digests import DigestWorker  # noqa: E402
from bot.permissions import OPERATOR, Requester  # noqa: E402
from bot.service import Yanbao  # noqa: E402
from bot.slack.app import build_app  # noqa: E402
from index.settings import Settings  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402

TEMPLATE = ROOT / "tests" / "fixtures" / "shanxi_telecom_weekly_20250113.txt"
BROKERS = ["山西证券", "国盛证券", "中泰证券", "华泰证券", "中信证券", "招商证券", "开源证券", "德邦证券"]


def write_notes(folder: Path, count: int) -> list[Path]:
    text = TEMPLATE.read_text(encoding="utf-8")
    paths = []
    for n in range(count):
        broker = BROKERS[n % len(BROKERS)]
        week = n // len(BROKERS)
        day = 1 + week % 28
        note = text.replace("山西证券", broker).replace(
            "2025年1月13日", f"2024年{1 + week // 28 % 12}月{day}日"
        )
        path = folder / f"weekly_{n:04d}.txt"
        path.write_text(note, encoding="utf-8")
        paths.append(path)
    return paths


def timed(action, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-digests-"))
    reports = tmp / "reports"
    reports.mkdir()
    with FakeSlackAPI() as slack:
        settings = Settings(
            home=tmp / "home",
            embed_model="none",
            slack_bot_token=slack.bot_token,
            slack_signing_secret="bench-digests-signing-secret",
            slack_api_url=slack.api_url,
            digest_max_age_days=0,
            digest_daily_cap=1000,
        )
        service = Yanbao(settings)
        started = time.perf_counter()
        service.reindex(write_notes(reports, args.notes), by=OPERATOR, prune=False)
        indexed = time.perf_counter() - started
        bot = build_app(service, settings).yanbao  # type: ignore[attr-defined]
        for channel in ("CALL", "CSHANXI", "CTELECOM"):
            words = {"CALL": "weekly", "CSHANXI": "weekly 山西证券", "CTELECOM": "weekly 通信"}[channel]
            bot.dispatcher.handle(f"/subscribe {words}", Requester("slack", "UBENCH"), channel=channel)
        worker = DigestWorker(service, "slack", bot.post_digest)
        worker.run_once()  # the first round marks what is indexed as seen

        refresh = timed(service.library.refresh, args.rounds)
        idle = timed(worker.run_once, args.rounds)
        posting = []
        for n in range(min(args.rounds, 10)):
            extra = reports / f"new_{n}.txt"
            extra.write_text(
                TEMPLATE.read_text(encoding="utf-8").replace("2025年1月13日", f"2025年2月{n + 1}日")
            )
            service.reindex([extra], by=OPERATOR, prune=False)
            started = time.perf_counter()
            done = worker.run_once()
            posting.append(time.perf_counter() - started)
            assert len(done.posted) == 3, done  # CALL, CSHANXI and CTELECOM
    median = statistics.median
    print(f"{args.notes} weekly notes indexed lexical-only in {indexed:.1f} s; 3 subscribed channels")
    print(f"library.refresh() (every question pays it):      median {median(refresh) * 1000:7.2f} ms")
    print(
        f"digest round, nothing new:                        median {median(idle) * 1000:7.2f} ms "
        f"({median(idle) / median(refresh):.1f}x a refresh)"
    )
    print(f"digest round, one new weekly posted to 3 channels: median {median(posting) * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
