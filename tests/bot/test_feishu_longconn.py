"""The Feishu bot over the long connection: the real lark-oapi ws.Client, run by bot.feishu.longconn
in its own thread, against a fake of Feishu's endpoint discovery and WebSocket (protobuf frames) on
127.0.0.1. The fake can go silent (a half-open connection) and can hang endpoint discovery
(oapi-sdk-python#169); the watchdog must reconnect in both cases."""

from __future__ import annotations

import time

import pytest

from bot.feishu.app import FeishuBot
from bot.feishu.longconn import LongConnection
from bot.permissions import OPERATOR
from bot.service import Yanbao
from index.settings import Settings
from tests.fakes.feishu_api import (
    APP_ID,
    APP_SECRET,
    FakeFeishu,
    callback_result,
    card_action_event,
    mention,
    message_event,
)
from tests.helpers import WEEKLY_NOTE, copy_notes

SILENCE_SECONDS = 3.0
READER = "ou_reader"


@pytest.fixture(scope="module")
def feishu():
    with FakeFeishu(ping_interval=1) as fake:
        yield fake


@pytest.fixture(scope="module")
def settings(tmp_path_factory, feishu):
    reports = tmp_path_factory.mktemp("reports")
    copy_notes(reports)
    return Settings(
        home=tmp_path_factory.mktemp("yanbao-home"),
        embed_model="none",
        report_dirs=(reports,),
        feishu_app_id=APP_ID,
        feishu_app_secret=APP_SECRET,
        feishu_domain=feishu.url,
    )


@pytest.fixture(scope="module")
def service(settings):
    yanbao = Yanbao(settings)
    assert yanbao.reindex(by=OPERATOR).ok
    return yanbao


@pytest.fixture(scope="module")
def bot(service, settings, feishu):
    feishu_bot = FeishuBot(service, settings)
    # group @mentions are answered once the bot knows its own open_id (until then: direct chats only)
    feishu.wait_for(lambda: feishu_bot.bot_open_id)
    yield feishu_bot
    feishu_bot.close()


@pytest.fixture(scope="module")
def connection(bot, settings, feishu):
    long_connection = LongConnection(
        settings, bot.handle_event, silence_seconds=SILENCE_SECONDS, check_every=0.2
    )
    long_connection.start()
    feishu.wait_for_connection()
    yield long_connection
    long_connection.stop()


@pytest.fixture(scope="module")
def weekly_title(service):
    (report,) = [r for r in service.reports() if r.source.endswith(WEEKLY_NOTE.name)]
    return report.title


def either(text: str, *forms: str) -> bool:
    return any(form in text for form in forms)


def test_a_question_arrives_over_the_long_connection_and_is_answered(feishu, connection, weekly_title):
    payload = message_event(feishu, "端侧AI芯片建议关注哪些公司？", sender=READER)
    started = time.monotonic()
    ack = feishu.push_event(payload)
    assert ack["code"] == 200 and time.monotonic() - started < 1.0
    answer = feishu.answer_to(payload["event"]["message"]["message_id"])
    assert either(answer.text(), "晶晨股份")
    assert weekly_title in answer.text()
    assert connection.connected and connection.status()["connected"]


def test_a_group_mention_and_a_repush_over_the_long_connection(feishu, connection):
    payload = message_event(
        feishu,
        "@_user_1 DDR4 8Gb颗粒现货均价是多少？",
        sender=READER,
        chat_type="group",
        chat_id="oc_ws_group",
        mentions=[mention()],
    )
    assert feishu.push_event(payload)["code"] == 200
    assert feishu.push_event(payload)["code"] == 200  # re-pushed: acknowledged, not answered again
    message_id = payload["event"]["message"]["message_id"]
    assert "1.42" in feishu.answer_to(message_id).text()
    time.sleep(1.0)
    assert len(feishu.replies_to(message_id)) == 1


def test_card_clicks_are_answered_over_the_long_connection(feishu, connection):
    payload = message_event(feishu, "DDR4 8Gb颗粒现货均价是多少？", sender=READER, chat_id="oc_ws_vote")
    feishu.push_event(payload)
    answer = feishu.answer_to(payload["event"]["message"]["message_id"])
    value = answer.card["body"]["elements"][-1]["columns"][1]["elements"][0]["behaviors"][0]["value"]
    result = callback_result(
        feishu.push_event(card_action_event(answer.message_id, "oc_ws_vote", READER, value))
    )
    assert result["toast"]["type"] == "success"
    assert "已记录你的反馈 👎" in str(result["card"]["data"])


def test_the_watchdog_reconnects_after_the_connection_goes_silent(feishu, connection):
    restarts = connection.restarts
    before = len(feishu.ws_connections)
    feishu.go_silent()  # the socket stays open; Feishu just stops talking (no pongs, no events)
    feishu.wait_for(lambda: len(feishu.ws_connections) > before and feishu.live_connections(), 20)
    assert connection.restarts == restarts + 1
    payload = message_event(feishu, "2025年全球AI PC出货量预计多少？", sender=READER, chat_id="oc_ws_after")
    assert feishu.push_event(payload)["code"] == 200
    assert "1.1億台" in feishu.answer_to(payload["event"]["message"]["message_id"]).text()


def test_the_watchdog_gets_past_a_hung_endpoint_discovery(feishu, connection):
    """oapi-sdk-python#169: endpoint discovery without a timeout hangs the SDK forever."""
    restarts = connection.restarts
    discoveries = len(feishu.calls_to("endpoint"))
    feishu.hang_endpoint(1)
    feishu.go_silent()
    # silence → a new session whose discovery hangs → still silent → another session that connects
    feishu.wait_for(lambda: feishu.live_connections(), 30)
    hung = [c for c in feishu.calls_to("endpoint")[discoveries:] if c.body["hung"]]
    assert len(hung) == 1 and connection.restarts >= restarts + 2
    payload = message_event(feishu, "DDR4 8Gb颗粒现货均价是多少？", sender=READER, chat_id="oc_ws_after_hang")
    assert feishu.push_event(payload)["code"] == 200
    assert "1.42" in feishu.answer_to(payload["event"]["message"]["message_id"]).text()
