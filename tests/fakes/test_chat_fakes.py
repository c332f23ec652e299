"""The fake platforms refuse what Slack and Feishu refuse, as they do it, so a bot that breaks a
documented limit fails its tests the way it would fail in production. Driven with the platforms'
own SDK clients (slack_sdk, lark-oapi through bot.feishu.api)."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.feishu.api import FeishuApi, FeishuApiError
from bot.feishu.cards import ANSWER_ELEMENT, streaming_entity_card
from index.settings import Settings
from tests.fakes.feishu_api import APP_ID, APP_SECRET, FakeFeishu
from tests.fakes.slack_api import FakeSlackAPI


def slack_error(call) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value.response["error"]


def test_fake_slack_enforces_the_streaming_rules():
    with FakeSlackAPI() as slack:
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        # outside a DM the recipient must be named
        assert (
            slack_error(lambda: client.chat_startStream(channel="C1", thread_ts="1.0")) == "invalid_arguments"
        )
        started = client.chat_startStream(
            channel="C1",
            thread_ts="1.0",
            recipient_user_id="U1",
            recipient_team_id="T0001",
            markdown_text="a",
        )
        ts = started["ts"]
        assert slack_error(
            lambda: client.chat_appendStream(channel="C1", ts=ts, markdown_text="x" * 12_001)
        ) == ("msg_too_long")
        client.chat_appendStream(channel="C1", ts=ts, markdown_text="b")
        too_many = [{"type": "divider"}] * 51
        assert (
            slack_error(lambda: client.chat_stopStream(channel="C1", ts=ts, blocks=too_many))
            == "invalid_blocks"
        )
        client.chat_stopStream(channel="C1", ts=ts, markdown_text="c", blocks=[{"type": "divider"}])
        assert slack.messages[ts].text == "abc" and slack.messages[ts].blocks[-1] == {"type": "divider"}
        assert slack_error(lambda: client.chat_appendStream(channel="C1", ts=ts, markdown_text="d")) == (
            "message_not_in_streaming_state"
        )
        slack.refuse_streaming = "unknown_method"
        assert slack_error(lambda: client.chat_startStream(channel="D1", thread_ts="2.0")) == "unknown_method"
        assert len(slack.violations) == 4


def test_fake_feishu_enforces_the_cardkit_rules():
    with FakeFeishu() as feishu:
        api = FeishuApi(
            Settings(feishu_app_id=APP_ID, feishu_app_secret=APP_SECRET, feishu_domain=feishu.url)
        )
        card_id = api.create_card(streaming_entity_card("问题", "🔍"))
        api.stream_card_text(card_id, ANSWER_ELEMENT, "第一句", 2)
        api.stream_card_text(card_id, ANSWER_ELEMENT, "第一句", 2)  # a retry (same uuid): done once, fine
        with pytest.raises(FeishuApiError) as stale:
            api.stream_card_text(card_id, ANSWER_ELEMENT, "第一句，第二句", 1)  # an older sequence
        assert stale.value.code == 300317
        api.card_settings(card_id, {"streaming_mode": False}, 3)
        with pytest.raises(FeishuApiError) as closed:
            api.stream_card_text(card_id, ANSWER_ELEMENT, "第三句", 4)
        assert closed.value.code == 300309
        feishu.cardkit_scope = False
        with pytest.raises(FeishuApiError) as scope:
            api.create_card(streaming_entity_card("问题", "🔍"))
        assert scope.value.code == 99991672 and "cardkit:card:write" in str(scope.value)


def test_fake_feishu_refuses_more_than_ten_card_operations_a_second():
    with FakeFeishu() as feishu:
        api = FeishuApi(
            Settings(feishu_app_id=APP_ID, feishu_app_secret=APP_SECRET, feishu_domain=feishu.url)
        )
        card_id = api.create_card(streaming_entity_card("问题", "🔍"))
        for sequence in range(1, 13):  # as fast as the client goes: the 11th within a second is refused
            api.stream_card_text(card_id, ANSWER_ELEMENT, "字" * sequence, sequence)
        assert any("more than 10 operations a second" in v for v in feishu.violations)
        assert 99991400 in [c.code for c in feishu.calls_to("card_content")]
