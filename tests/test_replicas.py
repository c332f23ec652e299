"""Two bot replicas, one Chroma server, one Redis: what issue 7 asks of "replicas that agree".

Replica A and replica B are real `yanbao serve slack --mode http` processes, each with its own
YANBAO_HOME (so nothing is shared through the disk) and the same Chroma server, Redis and namespace.
Slack is the in-process fake Web API; requests to the bots are signed as Slack signs them. The fixture
notes are indexed into the shared store first by a separate `yanbao index` process.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from bot.state import open_state
from index.settings import load_settings
from tests.fakes.processes import YanbaoProcess, logs_on_failure, start_yanbao, wait_healthy
from tests.fakes.servers import free_port
from tests.fakes.slack_api import FakeSlackAPI, Message, SlackSender, mention_event, new_ts
from tests.helpers import FIXTURES, base_env, copy_notes, json_out, note_paths, run_yanbao, write_note

pytestmark = pytest.mark.slow

SECRET = "3c1f0a9e7d5b42c8a6e4f2d0b8c6a4e2"
ADMIN, READER = "UADMIN", "UREADER"
STARTUP_SECONDS = 120  # two bots importing torch/chromadb at once on a loaded 2-core machine
ANSWER_SECONDS = 60

# A 国盛证券 weekly that only the second test indexes: nothing in the fixture notes names 移远通信 or 美格智能.
GUOSHENG_NOTE = [
    "【国盛证券】通信行业周报(20250106-20250112)：边缘算力加速落地",
    "国盛证券研究所 报告发布日期：2025年1月13日",
    "分析师：宋嘉吉 S0680519010002",
    "核心观点：端侧AI模组出货提速，边缘算力需求持续提升，我们看好模组厂商的业绩弹性。",
    "建议关注：边缘算力：移远通信、美格智能；光模块：中际旭创、新易盛。",
    "风险提示：下游需求不及预期；技术迭代不及预期。",
]
GUOSHENG_QUESTION = "国盛推荐哪些边缘算力标的?"


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slack():
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("replicas")


@pytest.fixture(scope="module")
def store_env(chroma_server, redis_server) -> dict[str, str]:
    """Where every replica keeps what it shares: one Chroma server, one Redis, a namespace of its own."""
    return {
        "YANBAO_CHROMA_URL": chroma_server.url,
        "YANBAO_REDIS_URL": redis_server.url,
        "YANBAO_NAMESPACE": "replicas" + uuid.uuid4().hex[:12],
    }


@pytest.fixture(scope="module")
def reports_dir(workdir) -> Path:
    """Replica A's YANBAO_REPORT_DIRS: empty until a test writes a note into it."""
    folder = workdir / "reports"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def replicas(slack, store_env, workdir, reports_dir):
    """(replica A, replica B), healthy, over a shared store that holds the two fixture notes."""
    seeded = run_yanbao(
        ["index", "--json", *map(str, note_paths())], workdir / "indexer-home", timeout=180, **store_env
    )
    assert seeded.returncode == 0, seeded.stderr
    assert json_out(seeded)["added"] == len(note_paths())

    bot_env = {
        **store_env,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "YANBAO_ADMINS": f"slack:{ADMIN}",
        "YANBAO_DIGEST_POLL_SECONDS": "0.5",  # digests of new weeklies are looked for twice a second
        "YANBAO_DIGEST_MAX_AGE_DAYS": "0",  # the test notes are from 2025: still news here
    }
    started: list[YanbaoProcess] = []
    try:
        for name, extra in (("A", {"YANBAO_REPORT_DIRS": str(reports_dir)}), ("B", {})):
            started.append(start_replica(name, workdir, {**bot_env, **extra}))
        for replica in started:
            health = wait_healthy(replica, STARTUP_SECONDS)
            assert health["store"] and health["state"], health
        yield tuple(started)
    finally:
        for replica in started:
            replica.stop()


def start_replica(name: str, workdir: Path, env: dict[str, str]) -> YanbaoProcess:
    """`yanbao serve slack` as replica `name`, its home and log under `workdir`; `env` is kept on
    the process so a test can restart it the same way."""
    port = free_port()
    replica = start_yanbao(
        f"replica {name}",
        ["serve", "slack", "--host", "127.0.0.1", "--port", str(port), "--mode", "http"],
        workdir / f"home-{name.lower()}",
        workdir / f"replica-{name.lower()}.log",
        port=port,
        **env,
    )
    replica.env = env  # type: ignore[attr-defined]
    return replica


@pytest.fixture(scope="module")
def senders(replicas):
    """Slack's side of each replica: (posts to A, posts to B), same signing secret."""
    out = tuple(SlackSender(replica.url + "/slack/events", SECRET) for replica in replicas)
    yield out
    for sender in out:
        sender.close()


# --- helpers -------------------------------------------------------------------------------------


def finished_answers(slack: FakeSlackAPI, channel: str, thread_ts: str) -> list[Message]:
    """The bot's finished answers in a thread (an answer ends with the 👍/👎 buttons)."""
    return [m for m in slack.thread(channel, thread_ts) if m.blocks and m.blocks[-1]["type"] == "actions"]


def ask(slack: FakeSlackAPI, sender: SlackSender, question: str, channel: str) -> Message:
    """Mention the bot with `question` through `sender`; the finished answer in the new thread."""
    ts = new_ts()
    response = sender.event(mention_event(f"<@UBOT> {question}", user=READER, channel=channel, ts=ts))
    assert response.status_code == 200, response.text
    answers = slack.wait_for(lambda: finished_answers(slack, channel, ts), ANSWER_SECONDS)
    assert len(answers) == 1, [m.all_text() for m in answers]
    return answers[0]


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout:g}s: {what}")
        time.sleep(0.1)


def dropped_duplicates(replica: YanbaoProcess, event_id: str) -> int:
    return sum(
        1
        for record in replica.log_records()
        if record.get("msg") == "duplicate event dropped" and record.get("event_id") == event_id
    )


def either(text: str, *forms: str) -> bool:
    return any(form in text for form in forms)


# --- a retried event ----------------------------------------------------------------------------------


def test_a_retried_event_lands_on_the_other_replica_and_is_answered_once(slack, replicas, senders):
    replica_a, replica_b = replicas
    to_a, to_b = senders
    ts = new_ts()
    event = mention_event(
        "<@UBOT> Which stocks does Zhongtai recommend for on-device AI chips?",
        user=READER,
        channel="CRETRY",
        ts=ts,
    )
    event_id = "Ev" + uuid.uuid4().hex[:10].upper()
    body = to_a.event_body(event, event_id=event_id)  # one delivery: same event_id, client_msg_id, text

    with logs_on_failure(replica_a, replica_b):
        first = to_a.post(body, "application/json")
        assert first.status_code == 200, first.text
        # Slack missed the acknowledgement and delivers the event again (X-Slack-Retry-Num: 1,
        # X-Slack-Retry-Reason: http_timeout); the load balancer hands the retry to the other replica
        # while the first is still working on it
        retried = to_b.post(body, "application/json", retry_num=1)
        assert retried.status_code == 200, retried.text

        (answer,) = slack.wait_for(lambda: finished_answers(slack, "CRETRY", ts), ANSWER_SECONDS)
        assert either(answer.all_text(), "晶晨股份"), answer.all_text()

        # and once more after the answer is out, again to B
        late = to_b.post(body, "application/json", retry_num=2)
        assert late.status_code == 200, late.text

        def posted() -> list:  # messages the bot created: posted, or started as a stream
            return [
                c
                for c in slack.calls
                if c.method in ("chat.postMessage", "chat.startStream")
                and c.params.get("channel") == "CRETRY"
            ]

        def dropped() -> int:
            return dropped_duplicates(replica_a, event_id) + dropped_duplicates(replica_b, event_id)

        # both repeats were seen and dropped, by whichever replica lost the claim in Redis (or one
        # was answered again: then the assertions below say so)
        wait_until(
            lambda: dropped() >= 2 or len(posted()) > 1,
            30,
            f"both repeats of {event_id} logged as 'duplicate event dropped'",
        )
        time.sleep(2.0)  # anything still on its way to Slack gets there

        assert len(posted()) == 1, [c.params.get("text") for c in posted()]
        assert len(slack.thread("CRETRY", ts)) == 1
        assert dropped() == 2
        assert dropped_duplicates(replica_b, event_id) >= 1  # the late retry certainly reached B


# --- a report indexed through one replica ----------------------------------------------------------------


def test_a_report_indexed_through_one_replica_is_seen_by_the_other(
    slack, replicas, senders, reports_dir, store_env, workdir
):
    replica_a, replica_b = replicas
    to_a, to_b = senders
    with logs_on_failure(replica_a, replica_b):
        # B has answered from the store before: its lexical index is loaded, and knows no such note
        before = ask(slack, to_b, GUOSHENG_QUESTION, "CBEFORE")
        assert "移远通信" not in before.all_text()

        write_note(reports_dir / "guosheng_comm_weekly_20250113.txt", GUOSHENG_NOTE)
        response = to_a.command(
            "/reindex", "", user=ADMIN, channel="CADMIN", response_url=slack.response_url(ADMIN, "CADMIN")
        )
        assert response.status_code == 200, response.text
        assert "Re-indexing" in response.json()["text"]
        done = slack.wait_for(
            lambda: next(
                (m for m in slack.ephemerals(ADMIN) if m.channel == "CADMIN" and "Re-indexed" in m.text), None
            ),
            ANSWER_SECONDS,
        )
        assert "1 added" in done.text and "failed" not in done.text, done.text

        after = ask(slack, to_b, GUOSHENG_QUESTION, "CAFTER")
        assert "移远通信" in after.all_text(), after.all_text()
        assert "国盛证券" in after.all_text()

        # the fixture notes are still there for both (A's re-index pruned only its own folder)
        listed = json_out(run_yanbao(["reports", "--json"], workdir / "lister-home", **store_env))
        sources = sorted(Path(r["source"]).name for r in listed)
        assert sources == sorted([*(p.name for p in note_paths()), "guosheng_comm_weekly_20250113.txt"])


# --- what a replica says about the index ------------------------------------------------------------------


def metric_value(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_a_fresh_replica_reports_the_shared_index_size_on_healthz(replicas):
    for replica in replicas:
        health = replica.first_health
        assert health is not None
        assert health["reports"] == len(note_paths()), (replica.name, health)
        assert health["chunks"] > 0, (replica.name, health)


def test_every_replica_exports_the_shared_index_size_in_metrics(replicas, senders, slack, store_env, workdir):
    replica_a, replica_b = replicas
    with logs_on_failure(replica_a, replica_b):
        ask(slack, senders[1], "DDR4 8Gb颗粒现货均价是多少？", "CSIZES")  # B has read the store now
        listed = json_out(run_yanbao(["reports", "--json"], workdir / "sizes-home", **store_env))
        text = httpx.get(replica_b.url + "/metrics", timeout=10).text
        assert metric_value(text, "yanbao_index_reports") == len(listed)
        assert metric_value(text, "yanbao_index_chunks") == sum(r["chunks"] for r in listed)


# --- two index runs at once ----------------------------------------------------------------------------


def test_index_runs_from_two_replicas_at_once_are_serialized(store_env, workdir):
    """Two `yanbao index` runs on one folder, started together while the index lock is held elsewhere:
    neither finishes while the lock is held; afterwards one adds every report and the other finds them all
    unchanged, and the store lists each report once."""
    env = {**store_env, "YANBAO_NAMESPACE": store_env["YANBAO_NAMESPACE"] + "-lock"}  # own catalog
    folder = workdir / "shared-reports"
    files = copy_notes(folder)
    files.append(write_note(folder / "guosheng_weekly.txt", GUOSHENG_NOTE))
    files.append(
        write_note(
            folder / "huatai_optical_weekly.txt",
            [
                "【华泰证券】光模块行业周报(20250106-20250112)",
                "华泰证券研究所 发布时间: 2025-01-13",
                "核心观点：中际旭创800G光模块出货量环比增长35%，1.6T光模块开始小批量出货。",
            ],
        )
    )

    # the same lock every replica takes, opened the way a replica opens it
    state = open_state(load_settings(base_env(workdir / "lock-holder-home", **env)))
    runs: list[YanbaoProcess] = []
    try:
        with state.lock("index", timeout=30):
            for name in ("index-1", "index-2"):
                runs.append(
                    start_yanbao(
                        name, ["index", "--json", str(folder)], workdir / name, workdir / f"{name}.log", **env
                    )
                )
            # both usually reach the lock within this; one still starting up must wait for it too
            time.sleep(8.0)
            with logs_on_failure(*runs):
                assert all(run.process.poll() is None for run in runs), (
                    "an index run did not wait for the lock"
                )
        with logs_on_failure(*runs):
            codes = [run.wait(timeout=120) for run in runs]
            assert codes == [0, 0]
            summaries = [index_summary(run) for run in runs]
            added = sorted(s["added"] for s in summaries)
            assert added == [0, len(files)], summaries
            winner, loser = sorted(summaries, key=lambda s: -s["added"])
            assert loser["unchanged"] == len(files) and loser["updated"] == 0, summaries

            listed = json_out(run_yanbao(["reports", "--json"], workdir / "lock-lister-home", **env))
            sources = sorted(r["source"] for r in listed)
            assert sources == sorted(str(f.resolve()) for f in files)
            assert sum(r["chunks"] for r in listed) == winner["chunks"]
    finally:
        for run in runs:
            run.stop()
        close = getattr(state, "close", None)
        if close:
            close()


def index_summary(run: YanbaoProcess) -> dict:
    """The --json summary an index run printed (its last JSON line: the log shares the file)."""
    lines = [line for line in run.log_text().splitlines() if line.startswith('{"added"')]
    assert lines, run.describe()
    return json.loads(lines[-1])


# --- digests of a new weekly ---------------------------------------------------------------------------


def digest_rounds(replica: YanbaoProcess) -> float:
    """How many rounds the replica's digest worker has run (worked, or skipped while the other did)."""
    text = httpx.get(replica.url + "/metrics", timeout=10).text
    return sum(
        metric_value(text, f'yanbao_digest_rounds_total{{outcome="{outcome}"}}') or 0
        for outcome in ("worked", "busy")
    )


def after_rounds(replicas, rounds: int = 2) -> None:
    """Wait until every replica's digest worker has run `rounds` more rounds: what they would post
    by now is posted."""
    start = {r.name: digest_rounds(r) for r in replicas}
    for replica in replicas:
        wait_until(
            lambda r=replica: digest_rounds(r) >= start[r.name] + rounds,
            60,
            f"{replica.name}: {rounds} digest rounds",
        )


def digests_in(slack: FakeSlackAPI, channel: str) -> list[Message]:
    return [m for m in list(slack.messages.values()) if m.channel == channel and "New weekly note" in m.text]


def test_a_weekly_indexed_by_a_separate_process_is_posted_once_to_each_subscribed_channel(
    slack, replicas, senders, store_env, workdir
):
    replica_a, replica_b = replicas
    to_a, to_b = senders
    with logs_on_failure(replica_a, replica_b):
        for sender, channel, words in (
            (to_a, "CDIGEST", "subscribe weekly 山西证券"),
            (to_b, "CDIGESTALL", "subscribe weekly"),
            (to_a, "CNOTSHANXI", "subscribe weekly 国盛证券"),
        ):
            response = sender.command(
                "/yanbao",
                words,
                user=READER,
                channel=channel,
                response_url=slack.response_url(READER, channel),
            )
            assert response.status_code == 200, response.text
            slack.wait_for(
                lambda c=channel: next(
                    (
                        m
                        for m in list(slack.messages.values())
                        if m.channel == c and "Subscribed" in m.all_text()
                    ),
                    None,
                ),
                ANSWER_SECONDS,
            )
        after_rounds(replicas)  # the workers know the subscriptions and what is indexed already

        note = workdir / "digest-notes" / "shanxi_telecom_weekly_20250120.txt"
        note.parent.mkdir(exist_ok=True)
        note.write_bytes((FIXTURES / note.name).read_bytes())
        indexed = run_yanbao(
            ["index", "--json", str(note)], workdir / "digest-indexer-home", timeout=180, **store_env
        )
        assert indexed.returncode == 0, indexed.stderr
        assert json_out(indexed)["added"] == 1

        for channel in ("CDIGEST", "CDIGESTALL"):
            (digest,) = slack.wait_for(lambda c=channel: digests_in(slack, c), ANSWER_SECONDS)
            assert "光迅科技" in digest.all_text() and "山西证券" in digest.all_text()
        after_rounds(replicas)
        assert len(digests_in(slack, "CDIGEST")) == 1 and len(digests_in(slack, "CDIGESTALL")) == 1
        assert digests_in(slack, "CNOTSHANXI") == []
        assert sum(len(digests_in(slack, c)) for c in {m.channel for m in slack.messages.values()}) == 2

        # replica A restarts (a deploy): it posts nothing again
        replica_a.stop()
        restarted = start_replica("A", workdir, replica_a.env)  # type: ignore[attr-defined]
        try:
            wait_healthy(restarted, STARTUP_SECONDS)
            with logs_on_failure(restarted):
                after_rounds([restarted, replica_b])
                assert len(digests_in(slack, "CDIGEST")) == 1 and len(digests_in(slack, "CDIGESTALL")) == 1
        finally:
            restarted.stop()
