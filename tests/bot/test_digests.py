"""Digests of new weekly notes, posted to subscribed channels: which channels get one, exactly once
(also from a second worker over the same store and state, as another replica or a restarted one
is), quiet hours, the daily cap, and channels the bot cannot post to. The bot is the real Slack
and Feishu adapters talking to the fake Slack Web API and Feishu Open API on 127.0.0.1; the notes
are the Shanxi telecom weeklies in tests/fixtures/ (invented), indexed into a throwaway store."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.digests import DigestWorker
from bot.dispatch import Dispatcher
from bot.feishu.app import FeishuBot
from bot.permissions import OPERATOR, Requester
from bot.service import Yanbao
from bot.slack.app import build_app
from bot.subscriptions import Subscriptions
from index.settings import Settings
from tests.fakes.feishu_api import APP_ID, APP_SECRET, FakeFeishu
from tests.fakes.slack_api import FakeSlackAPI, Message
from tests.helpers import FIXTURES, write_note

WEEK1 = FIXTURES / "shanxi_telecom_weekly_20250113.txt"
WEEK2 = FIXTURES / "shanxi_telecom_weekly_20250120.txt"
ADMIN, READER = "UADMIN", "UREADER"
SHANGHAI = ZoneInfo("Asia/Shanghai")

GUOSHENG_WEEKLY = [
    "【国盛证券】计算机行业周报(20250113-20250119)：AI Agent商业化提速",
    "国盛证券研究所 报告发布日期：2025年1月20日",
    "分析师：陈远航 S0680524010001",
    "本周观点：1）AI Agent：企业级智能体进入规模化部署阶段，办公场景付费渗透率提升至9.2%，通信与算力需求同步提升。",
    "建议关注：AI Agent：金山办公、科大讯飞；国产算力：海光信息、中科曙光。",
    "风险提示：AI技术落地不及预期。",
]


def at(text: str) -> float:
    """A moment in Shanghai time ("2025-01-20 09:00") as the workers' clock gives it."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


class Clock:
    def __init__(self, moment: str) -> None:
        self.now = at(moment)

    def set(self, moment: str) -> None:
        self.now = at(moment)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack():
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
def reports(tmp_path) -> Path:
    folder = tmp_path / "reports"
    folder.mkdir()
    return folder


def slack_settings(tmp_path: Path, slack: FakeSlackAPI, **options) -> Settings:
    return Settings(
        home=tmp_path / "home",
        embed_model="none",
        admins=(f"slack:{ADMIN}",),
        slack_bot_token=slack.bot_token,
        slack_signing_secret="s3cr3t-for-digest-tests",
        slack_api_url=slack.api_url,
        **options,
    )


class Replica:
    """What one `yanbao serve slack` process holds: a service over the shared home, the Slack
    adapter, and a digest worker posting through it."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.service = Yanbao(settings)
        self.bot = build_app(self.service, settings).yanbao  # type: ignore[attr-defined]
        self.worker = DigestWorker(self.service, "slack", self.bot.post_digest, clock=clock)

    @property
    def dispatcher(self) -> Dispatcher:
        return self.bot.dispatcher

    def run(self, text: str, channel: str, user: str = READER):
        return self.dispatcher.handle(text, Requester("slack", user), channel=channel)

    def index(self, *paths: Path):
        summary = self.service.reindex(list(paths), by=OPERATOR, prune=False)
        assert summary.ok, summary.failed
        return summary


def digests(slack: FakeSlackAPI, channel: str) -> list[Message]:
    return [m for m in list(slack.messages.values()) if m.channel == channel and "New weekly note" in m.text]


def every_digest(slack: FakeSlackAPI) -> list[Message]:
    return [m for m in list(slack.messages.values()) if "New weekly note" in m.text]


def copy(note: Path, folder: Path) -> Path:
    return Path(shutil.copy(note, folder / note.name))


# --- who gets a digest, and how many ----------------------------------------------------------------


def test_a_new_weekly_is_posted_once_to_each_subscribed_channel_and_nowhere_else(tmp_path, slack, reports):
    clock = Clock("2025-01-20 09:00")
    settings = slack_settings(tmp_path, slack)
    first = Replica(settings, clock)
    first.index(copy(WEEK1, reports))  # the back catalogue: there before anyone subscribed

    for channel, args in (
        ("CSHANXI", "weekly 山证"),
        ("CTELECOM", "weekly telecom"),
        ("CALL", "weekly"),
        ("CGUOSHENG", "weekly 国盛证券"),
        ("CCOMPUTER", "weekly 山西证券 计算机"),
    ):
        reply = first.run(f"/subscribe {args}", channel)
        assert reply.tone == "success", reply.text("en") if reply.text else reply
    first.worker.run_once()
    assert every_digest(slack) == []  # subscribing never posts the notes already indexed

    first.index(copy(WEEK2, reports))
    done = first.worker.run_once()
    assert sorted(done.posted) == sorted((c, done.new[0]) for c in ("CSHANXI", "CTELECOM", "CALL"))
    # a computer weekly that mentions 通信 in passing is not a telecom weekly
    first.index(write_note(reports / "guosheng_weekly_20250120.txt", GUOSHENG_WEEKLY))
    guosheng = first.worker.run_once()
    assert sorted(c for c, _ in guosheng.posted) == ["CALL", "CGUOSHENG"]
    for channel in ("CSHANXI", "CTELECOM"):
        (digest,) = digests(slack, channel)
        text = digest.all_text()
        # the new note's cited summary: its picks, cited to its own paragraphs
        assert "光迅科技" in text and "液冷" in text, text
        assert "通信行业周跟踪(20250113-20250119)" in text
        assert "(20250106-20250112)" not in text  # nothing of the week before
    assert digests(slack, "CCOMPUTER") == []

    # again, from the same worker; then from a second replica and from the first one restarted
    first.worker.run_once()
    second = Replica(settings, clock)
    assert second.worker.run_once().posted == []
    restarted = Replica(settings, clock)
    assert restarted.worker.run_once().posted == []
    # the note re-indexed with a correction is not news
    corrected = reports / WEEK2.name
    corrected.write_text(WEEK2.read_text(encoding="utf-8").replace("约40%", "约41%"), encoding="utf-8")
    assert second.index(corrected).updated == 1
    assert restarted.worker.run_once().new == []
    assert len(every_digest(slack)) == 5  # 3 of the Shanxi weekly, 2 of the Guosheng one


def test_two_workers_racing_post_each_digest_once(tmp_path, slack, reports):
    """Two replicas' workers run their rounds at the same moment: one posts, the other skips or
    finds the digest claimed."""
    import threading

    clock = Clock("2025-01-20 09:00")
    settings = slack_settings(tmp_path, slack)
    replicas = [Replica(settings, clock) for _ in range(2)]
    replicas[0].run("/subscribe weekly", "CALL")
    replicas[0].worker.run_once()
    replicas[0].index(copy(WEEK1, reports), copy(WEEK2, reports))
    start = threading.Barrier(2)
    rounds = []

    def run(replica: Replica) -> None:
        start.wait()
        rounds.append(replica.worker.run_once())

    threads = [threading.Thread(target=run, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for replica in replicas:  # and once more each, after the race
        rounds.append(replica.worker.run_once())
    assert len(digests(slack, "CALL")) == 2
    assert sum(len(r.posted) for r in rounds) == 2


# --- quiet hours and the daily cap ---------------------------------------------------------------------


def test_quiet_hours_hold_digests_and_the_daily_cap_moves_the_rest_to_the_next_day(tmp_path, slack, reports):
    clock = Clock("2025-01-20 07:00")
    settings = slack_settings(tmp_path, slack, digest_quiet_hours="22:00-08:00", digest_daily_cap=1)
    replica = Replica(settings, clock)
    reply = replica.run("/subscribe weekly", "CDESK")
    assert "at most 1 a day" in reply.text("en") and "22:00-08:00" in reply.text("en")
    replica.worker.run_once()
    replica.index(copy(WEEK2, reports), write_note(reports / "guosheng_weekly_20250120.txt", GUOSHENG_WEEKLY))

    held = replica.worker.run_once()  # 07:00 in Shanghai: quiet
    assert held.held_quiet == 2 and held.posted == [] and digests(slack, "CDESK") == []

    clock.set("2025-01-20 08:05")
    first = replica.worker.run_once()
    assert len(first.posted) == 1 and first.held_cap == 1
    clock.set("2025-01-20 21:00")
    assert replica.worker.run_once().held_cap == 1  # still the same day: the cap holds
    clock.set("2025-01-21 08:00")
    second = replica.worker.run_once()
    assert len(second.posted) == 1 and second.held_cap == 0
    posted = digests(slack, "CDESK")
    assert len(posted) == 2
    assert {"光迅科技" in m.all_text() for m in posted} == {True, False}  # one digest per note


# --- channels the bot cannot post to ---------------------------------------------------------------------


def test_a_channel_the_bot_was_removed_from_is_dropped_and_its_subscription_says_why(
    tmp_path, slack, reports
):
    clock = Clock("2025-01-20 10:00")
    replica = Replica(slack_settings(tmp_path, slack), clock)
    replica.run("/subscribe weekly", "CGONE")
    replica.run("/subscribe weekly", "CSTAYS")
    replica.worker.run_once()
    replica.index(copy(WEEK2, reports))
    slack.script_error("chat.postMessage", "not_in_channel", when=lambda p: p.get("channel") == "CGONE")
    done = replica.worker.run_once()
    assert done.dropped == 1 and [c for c, _ in done.posted] == ["CSTAYS"]
    assert replica.worker.run_once().posted == []  # not retried
    listed = replica.run("/subscriptions", "CGONE").text("en")
    assert "last delivery failed: not_in_channel" in listed, listed


def test_a_failed_post_is_retried_next_round(tmp_path, slack, reports):
    clock = Clock("2025-01-20 10:00")
    replica = Replica(slack_settings(tmp_path, slack), clock)
    replica.run("/subscribe weekly", "CFLAKY")
    replica.worker.run_once()
    replica.index(copy(WEEK2, reports))
    down = {"now": True}
    slack.script_error(
        "chat.postMessage", "internal_error", status=500, times=100, when=lambda _: down["now"]
    )
    failed = replica.worker.run_once()
    assert failed.failed == 1 and digests(slack, "CFLAKY") == []
    down["now"] = False  # Slack is back
    assert len(replica.worker.run_once().posted) == 1
    assert len(digests(slack, "CFLAKY")) == 1


# --- the commands --------------------------------------------------------------------------------------


def test_unsubscribe_stops_digests_and_lists_what_was_removed(tmp_path, slack, reports):
    clock = Clock("2025-01-20 10:00")
    replica = Replica(slack_settings(tmp_path, slack), clock)
    replica.run("/subscribe weekly 山西证券", "CDESK")
    replica.run("/subscribe weekly 国盛", "CDESK")
    assert "already subscribed" in replica.run("/subscribe weekly Shanxi", "CDESK").text("en")
    listed = replica.run("/subscriptions", "CDESK").text("en")
    assert "from 山西证券" in listed and "from 国盛证券" in listed
    removed = replica.run("/unsubscribe weekly 山证", "CDESK")
    assert removed.tone == "success" and "山西证券" in removed.text("en") and "国盛" not in removed.text("en")
    replica.worker.run_once()
    replica.index(copy(WEEK2, reports))
    assert replica.worker.run_once().posted == []
    assert [s.broker for s in Subscriptions(replica.service.state).all()] == ["国盛证券"]
    assert "no such subscription" in replica.run("/unsubscribe weekly 中泰", "CDESK").text("en")
    everything = replica.run("/unsubscribe", "CDESK")
    assert "国盛证券" in everything.text("en")
    assert Subscriptions(replica.service.state).all() == []


def test_subscribing_another_channel_and_listing_all_are_for_admins(tmp_path, slack):
    replica = Replica(slack_settings(tmp_path, slack), Clock("2025-01-20 10:00"))
    refused = replica.run("/subscribe weekly slack:COTHER", "CHERE")
    assert refused.tone == "refused"
    assert replica.run("/subscriptions all", "CHERE").tone == "refused"
    done = replica.run("/subscribe weekly 山证 slack:COTHER", "CHERE", user=ADMIN)
    assert done.tone == "success" and "slack:COTHER" in done.text("en")
    assert "slack:COTHER" in replica.run("/subscriptions all", "CHERE", user=ADMIN).text("en")
    # the console operator names the channel
    console = replica.dispatcher.handle("/subscribe weekly 国盛 slack:CDESK", OPERATOR)
    assert console.tone == "success"
    needs_channel = replica.dispatcher.handle("/subscribe weekly", OPERATOR)
    assert "slack:C0123" in needs_channel.text("en")


# --- Feishu ------------------------------------------------------------------------------------------------


def test_feishu_chats_get_the_digest_as_a_card_once(tmp_path, reports):
    with FakeFeishu() as feishu:
        settings = Settings(
            home=tmp_path / "home",
            embed_model="none",
            feishu_app_id=APP_ID,
            feishu_app_secret=APP_SECRET,
            feishu_domain=feishu.url,
        )
        service = Yanbao(settings)
        bot = FeishuBot(service, settings)
        try:
            clock = Clock("2025-01-20 10:00")
            worker = DigestWorker(service, "feishu", bot.post_digest, clock=clock)
            for chat in ("oc_desk", "oc_left"):
                reply = bot.dispatcher.handle(
                    "/subscribe weekly 山西证券", Requester("feishu", "ou_reader"), channel=chat
                )
                assert reply.tone == "success"
            worker.run_once()
            service.reindex([copy(WEEK2, reports)], by=OPERATOR, prune=False)
            feishu.kicked_from.add("oc_left")
            done = worker.run_once()
            assert [c for c, _ in done.posted] == ["oc_desk"] and done.dropped == 1
            assert worker.run_once().posted == []
            (card,) = feishu.sent_to("oc_desk")
            assert "光迅科技" in card.text() and "新周报" in str(card.card)
            assert feishu.sent_to("oc_left") == []
        finally:
            bot.close()


def test_an_archive_indexed_late_is_no_news(tmp_path, slack, reports):
    clock = Clock("2025-03-03 09:00")  # six weeks after the notes were published
    replica = Replica(slack_settings(tmp_path, slack, digest_max_age_days=14), clock)
    replica.run("/subscribe weekly", "CDESK")
    replica.worker.run_once()
    replica.index(copy(WEEK1, reports), copy(WEEK2, reports))
    done = replica.worker.run_once()
    assert len(done.new) == 2 and sorted(done.old) == sorted(done.new) and done.queued == 0
    assert digests(slack, "CDESK") == []
