"""Feishu as issue 13 found it, end to end in webhook mode against the fake Open API: the bot's own
open_id learned despite 5xx and rate limits (and no group mention answered until then), posts as
Feishu sends them now (content_v2, md runs), mentions of colleagues, card clicks whose ids sit at
the top of the event (and the legacy callback), CardKit streaming within its limits, and a bad
FEISHU_DOMAIN. Payload shapes follow larksuite's SDK and connector tests; the notes are the
project's own samples."""

from __future__ import annotations

import time

import httpx
import pytest

from bot.feishu.app import FeishuBot
from bot.feishu.server import FeishuSetupError, build_asgi, check_settings
from bot.permissions import OPERATOR
from bot.service import Yanbao
from index.settings import Settings
from tests.bot.chat_fixtures import ANSWER_NAMES, LLM_PIECES, QUESTION, copy_notes, streaming_llm
from tests.fakes.feishu_api import (
    APP_ID,
    APP_SECRET,
    FakeFeishu,
    SentMessage,
    card_action_event,
    mention,
    message_event,
    webhook_request,
)
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.servers import free_port
from tests.fakes.slack_api import ServedApp
from tests.helpers import run_yanbao

TOKEN = "vt-feishu-edges-token"
KEY = "ek-feishu-edges-key"
READER = "ou_reader"


@pytest.fixture(scope="module")
def feishu():
    with FakeFeishu() as fake:
        yield fake


@pytest.fixture(scope="module")
def settings(tmp_path_factory, feishu):
    reports = tmp_path_factory.mktemp("reports")
    copy_notes(reports)
    return Settings(
        home=tmp_path_factory.mktemp("home"),
        embed_model="none",
        admins=("feishu:ou_admin",),
        report_dirs=(reports,),
        feishu_app_id=APP_ID,
        feishu_app_secret=APP_SECRET,
        feishu_verification_token=TOKEN,
        feishu_encrypt_key=KEY,
        feishu_domain=feishu.url,
    )


@pytest.fixture(scope="module")
def service(settings):
    yanbao = Yanbao(settings)
    assert yanbao.reindex(by=OPERATOR).ok
    return yanbao


@pytest.fixture(scope="module")
def served(service, settings, feishu):
    bot = FeishuBot(service, settings)
    feishu.wait_for(lambda: bot.bot_open_id)
    with ServedApp(build_asgi(service, settings, bot=bot)) as app:
        yield app
    bot.close()


def push(app: ServedApp, payload: dict) -> httpx.Response:
    body, headers = webhook_request(payload, token=TOKEN, encrypt_key=KEY, encrypted=True)
    response = httpx.post(app.url + "/feishu/events", content=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response


def subtitle(message: SentMessage) -> str:
    return message.card["header"]["subtitle"]["content"]


def citation_headings(message: SentMessage) -> list[str]:
    return [
        e["header"]["title"]["content"]
        for e in message.card["body"]["elements"]
        if e.get("tag") == "collapsible_panel"
    ]


# --- the bot's own open_id -----------------------------------------------------------------------------


def test_until_the_bot_knows_its_open_id_it_answers_direct_chats_only(feishu, service, settings):
    # GET bot/v3/info fails the ways Feishu fails: 5xx, then the rate limit returned as HTTP 400
    feishu.fail_next("bot_info", 1, "system busy", status=500, times=2)
    feishu.fail_next(
        "bot_info",
        99991400,
        "request trigger frequency limit",
        headers={"x-ogw-ratelimit-reset": "0"},
        times=2,
    )
    feishu.fail_next("bot_info", 1, "system busy", status=502, times=2)
    bot = FeishuBot(service, settings, bot_id_retry_seconds=(0.2,))
    try:
        with ServedApp(build_asgi(service, settings, bot=bot)) as app:
            ours = message_event(
                feishu, f"@_user_1 {QUESTION}", chat_type="group", chat_id="oc_g1", mentions=[mention()]
            )
            theirs = message_event(
                feishu,
                f"@_user_1 {QUESTION}",
                chat_type="group",
                chat_id="oc_g1",
                mentions=[mention("ou_colleague", "张三")],
            )
            direct = message_event(feishu, QUESTION, sender=READER, chat_id="oc_p2p_early")
            for payload in (ours, theirs, direct):
                push(app, payload)
            assert bot.bot_open_id is None  # all three were decided before the id was known
            health = httpx.get(app.url + "/healthz", timeout=5).json()
            assert health["bot_open_id"].startswith("unknown, answering direct chats only")
            answer = feishu.answer_to(direct["event"]["message"]["message_id"])
            assert all(name in answer.text() for name in ANSWER_NAMES)

            feishu.wait_for(lambda: bot.bot_open_id, timeout=60)
            again = message_event(
                feishu, f"@_user_1 {QUESTION}", chat_type="group", chat_id="oc_g1", mentions=[mention()]
            )
            push(app, again)
            assert all(
                name in feishu.answer_to(again["event"]["message"]["message_id"]).text()
                for name in ANSWER_NAMES
            )
            push(app, theirs | {"header": {**theirs["header"], "event_id": "ev-theirs-again"}})
            time.sleep(0.5)
    finally:
        bot.close()
    for payload in (ours, theirs):
        assert feishu.replies_to(payload["event"]["message"]["message_id"]) == []
    codes = [c.code for c in feishu.calls_to("bot_info")]
    assert 99991400 in codes and codes[-1] == 0


# --- what people write -----------------------------------------------------------------------------------


def test_a_content_v2_post_is_read_with_its_md_runs_not_the_stale_content(feishu, served):
    post = {
        "title": "",
        "content": [[{"tag": "text", "text": "旧版内容：豆包APP的MAU是多少？"}]],
        "content_v2": [
            [
                {"tag": "at", "user_id": "@_user_1", "user_name": "yanbao", "style": []},
                {"tag": "md", "text": " **国盛计算机**推荐哪些`AI Agent`标的？"},
            ]
        ],
    }
    payload = message_event(
        feishu, message_type="post", content=post, chat_type="group", chat_id="oc_g2", mentions=[mention()]
    )
    push(served, payload)
    answer = feishu.answer_to(payload["event"]["message"]["message_id"])
    assert subtitle(answer) == QUESTION and all(name in answer.text() for name in ANSWER_NAMES)
    # a post sent by a client that wraps it in a locale
    wrapped = message_event(
        feishu, message_type="post", content={"zh_cn": {"content_v2": post["content_v2"][:1]}}, sender=READER
    )
    push(served, wrapped)
    assert subtitle(feishu.answer_to(wrapped["event"]["message"]["message_id"])) == QUESTION


def test_a_colleagues_mention_becomes_their_name(feishu, served):
    payload = message_event(
        feishu,
        f"@_user_1 @_user_2 说的{QUESTION}",
        chat_type="group",
        chat_id="oc_g3",
        mentions=[mention(), mention("ou_colleague", "张三", "@_user_2")],
    )
    push(served, payload)
    assert subtitle(feishu.answer_to(payload["event"]["message"]["message_id"])) == f"张三 说的{QUESTION}"


# --- 👍 / 👎 ---------------------------------------------------------------------------------------------


def test_votes_on_cards_whose_ids_sit_at_the_top_of_the_event_are_each_stored(feishu, served, settings):
    answers = []
    for chat in ("oc_p2p_vote_a", "oc_p2p_vote_b"):
        payload = message_event(feishu, QUESTION, sender=READER, chat_id=chat)
        push(served, payload)
        answers.append(feishu.answer_to(payload["event"]["message"]["message_id"]))
    value = {"action": "yanbao_feedback", "vote": "up"}
    for answer in answers:
        click = card_action_event(answer.message_id, answer.chat_id, READER, value)
        context = click["event"].pop("context")  # the ids at the top of the event, not in context
        click["event"].update(context)
        assert push(served, click).json()["toast"]["type"] == "success"
    # the legacy card callback: no header, the click's fields at the top of the payload
    legacy = {
        "open_id": READER,
        "user_id": "u_reader",
        "open_message_id": answers[0].message_id,
        "open_chat_id": answers[0].chat_id,
        "tenant_key": "tenant-test",
        "token": TOKEN,
        "action": {"tag": "button", "value": {"action": "yanbao_feedback", "vote": "down"}},
    }
    assert push(served, legacy).json()["toast"]["type"] == "success"

    from bot.state import open_state

    records = [r for r in open_state(settings).list_feedback() if r.get("user") == READER]
    stored = sorted((r["message_id"], r["vote"]) for r in records)
    assert stored == sorted(
        [(answers[0].message_id, "up"), (answers[1].message_id, "up"), (answers[0].message_id, "down")]
    )
    assert all(r["question"] == QUESTION and r["citations"] for r in records)


# --- CardKit streaming -----------------------------------------------------------------------------------


def test_a_fast_llm_streams_into_one_card_within_feishus_limits(feishu, service, settings):
    # 40 small pieces 30 ms apart: far faster than a card may be updated
    pieces = [LLM_PIECES[0], *list("金山办公、科大讯飞、万兴科技"), " [1]。", *["…"] * 20]
    violations = len(feishu.violations)
    with FakeOpenAIServer() as llm:
        llm.responder = streaming_llm(pieces, delay=0.03)
        llm_on = settings.replace(llm_base_url=llm.url, llm_model="fake-model", llm_timeout=10.0)
        bot = FeishuBot(Yanbao(llm_on), llm_on)
        try:
            with ServedApp(build_asgi(bot.service, llm_on, bot=bot)) as app:
                payload = message_event(feishu, QUESTION, sender=READER, chat_id="oc_p2p_fast")
                push(app, payload)
                answer = feishu.answer_to(payload["event"]["message"]["message_id"])
        finally:
            bot.close()
    entity = feishu.entity_of(answer.message_id)
    assert entity is not None and len(entity.updates) >= 3
    ops = sorted(entity.ops)
    assert all(sum(1 for t in ops if start <= t < start + 1.0) <= 10 for start in ops)
    assert len(feishu.violations) == violations  # Feishu refused nothing: rate, sequence, mode all kept
    assert entity.updates[-2:] == ["settings", "update"] and citation_headings(answer)
    assert all(name in answer.text() for name in ANSWER_NAMES) and "mode: llm" in answer.text()


# --- settings -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    [
        "https://open.feishu.cn/open-apis",
        "https://open.feishu.cn:99999",
        "https://",
        "https://open feishu.cn",
    ],
)
def test_a_bad_feishu_domain_is_a_settings_error(settings, domain):
    with pytest.raises(FeishuSetupError, match="FEISHU_DOMAIN"):
        check_settings(settings.replace(feishu_domain=domain), "ws")


def test_serve_feishu_with_a_bad_domain_says_so_without_a_traceback(tmp_path):
    result = run_yanbao(
        ["serve", "feishu", "--port", str(free_port())],
        tmp_path / "home",
        timeout=60,
        FEISHU_APP_ID=APP_ID,
        FEISHU_APP_SECRET=APP_SECRET,
        FEISHU_DOMAIN="https://open.feishu.cn:99999",
    )
    assert result.returncode == 2, result.stderr
    assert "FEISHU_DOMAIN" in result.stderr and "Traceback" not in result.stderr + result.stdout
