"""The Feishu bot end to end in webhook mode: the real bot served over HTTP by uvicorn, the real
Yanbao service over the fixture notes (lexical only), and a fake Feishu Open API on 127.0.0.1.
Pushes are encrypted and signed as Feishu does it (one bot runs with a verification token only and
plain bodies); assertions are about the cards people in Feishu would see."""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest

from bot.feishu.app import FeishuBot
from bot.feishu.server import build_asgi
from bot.permissions import OPERATOR
from bot.service import Yanbao
from bot.state import open_state
from index.settings import Settings
from tests.fakes.feishu_api import (
    APP_ID,
    APP_SECRET,
    BOT_OPEN_ID,
    FakeFeishu,
    SentMessage,
    card_action_event,
    mention,
    menu_event,
    message_event,
    new_id,
    webhook_request,
)
from tests.fakes.openai_server import FakeOpenAIServer, Stream
from tests.fakes.slack_api import ServedApp
from tests.helpers import WEEKLY_NOTE, copy_notes, note_paths

TOKEN = "vt-feishu-test-token"
KEY = "ek-feishu-test-encrypt-key"
ADMIN, READER = "ou_admin", "ou_reader"
ACK_BUDGET_SECONDS = 1.0  # Feishu allows 3 s; the bot should be far inside it


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feishu():
    with FakeFeishu() as fake:
        yield fake


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    copy_notes(folder)
    return folder


@pytest.fixture(scope="module")
def settings(tmp_path_factory, feishu, reports_dir):
    return Settings(
        home=tmp_path_factory.mktemp("yanbao-home"),
        embed_model="none",
        admins=(f"feishu:{ADMIN}",),
        report_dirs=(reports_dir,),
        max_upload_mb=1.0,
        feishu_app_id=APP_ID,
        feishu_app_secret=APP_SECRET,
        feishu_verification_token=TOKEN,
        feishu_encrypt_key=KEY,
        feishu_domain=feishu.url,
    )


@pytest.fixture(scope="module")
def service(settings):
    yanbao = Yanbao(settings)
    summary = yanbao.reindex(by=OPERATOR)
    assert summary.ok and summary.added == len(note_paths())
    return yanbao


@pytest.fixture(scope="module")
def bot(service, settings, feishu):
    asgi = build_asgi(service, settings)
    # group @mentions are answered once the bot knows its own open_id (until then: direct chats only)
    feishu.wait_for(lambda: asgi.state.feishu_bot.bot_open_id)
    with ServedApp(asgi) as served:
        yield served


@pytest.fixture(scope="module")
def plain_bot(service, settings):
    """The same bot configured with a verification token only: Feishu then pushes plain JSON."""
    with ServedApp(build_asgi(service, settings.replace(feishu_encrypt_key=None))) as served:
        yield served


class Pusher:
    """Feishu's side of the webhook: sends events as Feishu would."""

    def __init__(
        self,
        served: ServedApp,
        *,
        token: str | None = TOKEN,
        encrypt_key: str | None = KEY,
        encrypted: bool = True,
    ) -> None:
        self.url = served.url + "/feishu/events"
        self.token, self.encrypt_key, self.encrypted = token, encrypt_key, encrypted
        self.http = httpx.Client(timeout=10)

    def push(self, payload: dict, **overrides) -> httpx.Response:
        options = dict(token=self.token, encrypt_key=self.encrypt_key, encrypted=self.encrypted)
        options.update(overrides)
        body, headers = webhook_request(payload, **options)
        return self.http.post(self.url, content=body, headers=headers)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def pusher(bot):
    feishu_side = Pusher(bot)
    yield feishu_side
    feishu_side.close()


@pytest.fixture(scope="module")
def weekly_title(service):
    (report,) = [r for r in service.reports() if r.source.endswith(WEEKLY_NOTE.name)]
    return report.title


# --- helpers -------------------------------------------------------------------------------------


def acked(response: httpx.Response, budget: float = ACK_BUDGET_SECONDS) -> dict:
    assert response.status_code == 200, response.text
    assert response.elapsed.total_seconds() < budget
    return response.json()


def either(text: str, *forms: str) -> bool:
    return any(form in text for form in forms)


def citation_headings(message: SentMessage) -> list[str]:
    return [
        e["header"]["title"]["content"]
        for e in message.card["body"]["elements"]
        if e.get("tag") == "collapsible_panel"
    ]


def ask(fake: FakeFeishu, pusher: Pusher, text: str, **event) -> tuple[str, SentMessage]:
    payload = message_event(fake, text, **event)
    acked(pusher.push(payload))
    message_id = payload["event"]["message"]["message_id"]
    return message_id, fake.answer_to(message_id)


def text_pdf(lines: list[str]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setFont("STSong-Light", 11)
    y = 800
    for line in lines:
        pdf.drawString(50, y, line)
        y -= 22
    pdf.save()
    return buffer.getvalue()


# --- questions -------------------------------------------------------------------------------------


def test_p2p_question_is_answered_with_a_citation_card(feishu, pusher, weekly_title):
    message_id, answer = ask(feishu, pusher, "端侧AI芯片建议关注哪些公司？", sender=READER)
    assert either(answer.text(), "晶晨股份")
    headings = citation_headings(answer)
    assert headings and any(weekly_title in h for h in headings)
    # one CardKit card from "searching" to the cited answer, streaming turned off at the end
    assert "正在检索" in answer.text(0) and answer.cards[0]["config"]["streaming_mode"] is True
    entity = feishu.entity_of(answer.message_id)
    assert entity is not None and entity.updates[-2:] == ["settings", "update"]
    assert not answer.card["config"].get("streaming_mode")
    assert "mode: extractive" in answer.text() and "👍 有用" in answer.text()
    assert not answer.reply_in_thread
    (reply_call,) = [c for c in feishu.calls_to("reply") if c.body["message_id"] == message_id]
    assert reply_call.body["msg_type"] == "interactive" and reply_call.body["uuid"].endswith(message_id)


def test_plain_json_pushes_with_a_verification_token(feishu, plain_bot):
    feishu_side = Pusher(plain_bot, encrypt_key=None, encrypted=False)
    _, answer = ask(
        feishu, feishu_side, "DDR4 8Gb颗粒现货均价是多少？", sender=READER, chat_id="oc_p2p_plain"
    )
    assert "1.42" in answer.text() and citation_headings(answer)
    feishu_side.close()


def test_group_mention_is_answered_and_other_chatter_ignored(feishu, pusher):
    _, answer = ask(
        feishu,
        pusher,
        "@_user_1 DDR4 8Gb颗粒现货均价是多少？",
        sender=READER,
        chat_id="oc_group",
        chat_type="group",
        mentions=[mention()],
    )
    assert "1.42" in answer.text()
    assert "@_user_1" not in json.dumps(answer.card["header"], ensure_ascii=False)

    chatter = message_event(
        feishu,
        "@_user_1 今天开会吗？",
        sender=READER,
        chat_id="oc_group",
        chat_type="group",
        mentions=[mention("ou_colleague", "同事")],
    )
    acked(pusher.push(chatter))
    time.sleep(1.0)
    assert feishu.replies_to(chatter["event"]["message"]["message_id"]) == []


def test_follow_up_in_a_topic_thread_uses_the_earlier_question(feishu, pusher):
    thread = new_id("omt")
    first_id, first = ask(
        feishu,
        pusher,
        "@_user_1 2025年AI PC渗透率预计多少？",
        sender=READER,
        chat_id="oc_topics",
        chat_type="group",
        mentions=[mention()],
        thread_id=thread,
    )
    assert "41%" in first.text() and first.reply_in_thread

    # a reply in the topic, without @yanbao: still a follow-up of the same conversation
    _, second = ask(
        feishu,
        pusher,
        "那2024年呢？",
        sender=READER,
        chat_id="oc_topics",
        chat_type="group",
        root_id=first_id,
        thread_id=thread,
    )
    assert second.reply_in_thread
    assert "18%" in second.text()


def test_post_messages_are_read_and_images_politely_declined(feishu, pusher):
    post = {
        "title": "",
        "content": [[{"tag": "text", "text": "DDR4 8Gb颗粒"}, {"tag": "text", "text": "现货均价是多少？"}]],
    }
    _, answer = ask(feishu, pusher, None, sender=READER, message_type="post", content=post)
    assert "1.42" in answer.text()

    image = message_event(feishu, message_type="image", content={"image_key": "img_v2_1"}, sender=READER)
    acked(pusher.push(image))
    declined = feishu.reply_containing(image["event"]["message"]["message_id"], "暂时看不懂图片")
    assert "文字" in declined.text()


def test_empty_mention_and_help_show_usage(feishu, pusher):
    payload = message_event(feishu, "@_user_1", chat_type="group", chat_id="oc_group", mentions=[mention()])
    acked(pusher.push(payload))
    usage = feishu.reply_containing(payload["event"]["message"]["message_id"], "/weekly")
    assert "/reports" in usage.text() and "/reindex" in usage.text()


def llm_answer(feishu: FakeFeishu, service_settings: Settings, chat_id: str, **bot_options) -> SentMessage:
    """Ask with an LLM that streams its answer in pieces; the finished answer message."""
    chunks = ["中泰证券建议关注", "端侧AI芯片：", "恒玄科技、", "晶晨股份、", "瑞芯微、", "全志科技 [1]"]
    with FakeOpenAIServer() as llm:
        llm.responder = lambda request: Stream(chunks, delay=0.3) if request.get("stream") else "端侧AI芯片"
        llm_settings = service_settings.replace(
            llm_base_url=llm.url, llm_model="fake-model", llm_timeout=10.0
        )
        llm_service = Yanbao(llm_settings)
        bot = FeishuBot(llm_service, llm_settings, **bot_options)
        with ServedApp(build_asgi(llm_service, llm_settings, bot=bot)) as served:
            feishu_side = Pusher(served)
            _, answer = ask(
                feishu, feishu_side, "端侧AI芯片建议关注哪些公司？", sender=READER, chat_id=chat_id
            )
            feishu_side.close()
        bot.close()
    return answer


def test_an_llm_answer_streams_into_one_cardkit_card(feishu, settings):
    violations = len(feishu.violations)
    answer = llm_answer(feishu, settings, "oc_p2p_llm")
    entity = feishu.entity_of(answer.message_id)
    assert entity is not None  # one card, from the first status to the cited answer
    texts = [c for c in feishu.calls_to("card_content") if c.body.get("card_id") == entity.card_id]
    streamed = [c.body["content"] for c in texts if "🔍" not in c.body["content"]]
    assert len(streamed) >= 2 and "全志科技" not in streamed[0]  # the text grew in the card
    sequences = [
        c.body["sequence"]
        for c in feishu.calls
        if c.body.get("card_id") == entity.card_id and "sequence" in c.body
    ]
    assert sequences == sorted(set(sequences))  # strictly increasing, as Feishu requires
    assert len(feishu.violations) == violations  # never more than 10 operations a second, never out of order
    assert entity.updates[-2:] == ["settings", "update"] and not entity.streaming
    assert "晶晨股份" in answer.text() and "mode: llm" in answer.text() and "fake-model" in answer.text()
    assert citation_headings(answer)  # the citation panels end the same card


def test_without_the_cardkit_scope_the_answer_is_patched_into_a_plain_card(feishu, settings):
    feishu.cardkit_scope = False
    try:
        answer = llm_answer(feishu, settings, "oc_p2p_llm_plain", stream_interval=0.4)
    finally:
        feishu.cardkit_scope = True
    assert feishu.entity_of(answer.message_id) is None
    assert any(c.code == 99991672 for c in feishu.calls_to("card_create"))
    streamed = [json.dumps(card, ensure_ascii=False) for card in answer.cards[1:-1]]
    assert streamed and all("▍" in card and "正在生成" in card for card in streamed)
    assert len(streamed) < 6  # throttled: fewer PATCHes than pieces of text
    assert "晶晨股份" in answer.text() and "mode: llm" in answer.text() and citation_headings(answer)


# --- commands ---------------------------------------------------------------------------------------


def test_weekly_command_summarises_the_latest_weekly(feishu, pusher, weekly_title):
    _, answer = ask(feishu, pusher, "/weekly", sender=READER)
    assert "周报摘要" in answer.text()
    assert any(weekly_title in h for h in citation_headings(answer))


def test_weekly_and_help_from_the_bot_menu(feishu, pusher, weekly_title):
    acked(pusher.push(menu_event("weekly", "ou_menu_user")))
    weekly = feishu.wait_for(lambda: next((m for m in feishu.sent_to("ou_menu_user") if m.is_answer), None))
    assert any(weekly_title in h for h in citation_headings(weekly))
    acked(pusher.push(menu_event("help", "ou_menu_user")))
    feishu.wait_for(
        lambda: any("/weekly" in m.text() and "使用帮助" in m.text() for m in feishu.sent_to("ou_menu_user"))
    )


def test_reports_command_lists_the_indexed_notes(feishu, pusher, weekly_title):
    payload = message_event(feishu, "/reports", sender=READER)
    acked(pusher.push(payload))
    listing = feishu.reply_containing(payload["event"]["message"]["message_id"], "已索引的研报")
    assert weekly_title in listing.text()


def test_reindex_by_a_reader_is_refused(feishu, pusher):
    payload = message_event(feishu, "/reindex", sender=READER)
    acked(pusher.push(payload))
    refusal = feishu.reply_containing(payload["event"]["message"]["message_id"], "只有管理员可以重建索引")
    time.sleep(0.5)
    assert len(refusal.cards) == 1 and "索引已更新" not in refusal.text()


def test_reindex_by_an_admin_reports_counts(feishu, pusher):
    payload = message_event(feishu, "/reindex", sender=ADMIN, chat_id="oc_p2p_admin")
    acked(pusher.push(payload))
    done = feishu.reply_containing(payload["event"]["message"]["message_id"], "索引已更新", timeout=60)
    assert "未变 2" in done.text()


# --- admin uploads ----------------------------------------------------------------------------------

PDF_LINES = [
    "【测试证券】光模块行业周报(20250106-20250112)",
    "测试证券研究所  发布时间: 2025-01-13",
    "核心观点：中际旭创800G光模块出货量环比增长35%，1.6T光模块开始小批量出货。",
    "我们认为海外云厂商资本开支上修将持续拉动高速光模块需求，维持行业推荐评级。",
]


def file_message(fake: FakeFeishu, name: str, content: bytes, sender: str) -> dict:
    file_key = new_id("file_v3")
    payload = message_event(
        fake,
        message_type="file",
        content={"file_key": file_key, "file_name": name},
        sender=sender,
        chat_id=f"oc_p2p_{sender}",
    )
    fake.add_file(payload["event"]["message"]["message_id"], file_key, content, name)
    return payload


def test_admin_pdf_is_indexed_then_answerable(feishu, pusher):
    payload = file_message(feishu, "光模块周报.pdf", text_pdf(PDF_LINES), ADMIN)
    acked(pusher.push(payload))
    message_id = payload["event"]["message"]["message_id"]
    done = feishu.reply_containing(message_id, "已索引", timeout=60)
    assert "光模块" in done.text() and "段" in done.text() and "2025-01-13" in done.text()
    (download,) = [c for c in feishu.calls_to("download") if c.body["message_id"] == message_id]
    assert download.body["type"] == "file"

    _, answer = ask(
        feishu, pusher, "中际旭创800G光模块出货量环比增长多少？", sender=ADMIN, chat_id="oc_p2p_admin"
    )
    assert "35%" in answer.text()
    assert any("光模块" in h for h in citation_headings(answer))


def test_reader_upload_is_politely_refused(feishu, pusher):
    downloads = len(feishu.calls_to("download"))
    payload = file_message(feishu, "secret.pdf", text_pdf(PDF_LINES), READER)
    acked(pusher.push(payload))
    feishu.reply_containing(payload["event"]["message"]["message_id"], "只有 yanbao 管理员可以")
    time.sleep(0.5)
    assert len(feishu.calls_to("download")) == downloads


def test_wrong_type_and_oversized_uploads_get_the_exact_reason(feishu, pusher):
    sheet = file_message(feishu, "估值表.xlsx", b"PK\x03\x04 not a sheet", ADMIN)
    big = file_message(feishu, "huge.txt", "研报".encode() * 400_000, ADMIN)  # 2.4 MB, limit 1 MB
    acked(pusher.push(sheet))
    acked(pusher.push(big))
    wrong_type = feishu.reply_containing(sheet["event"]["message"]["message_id"], ".xlsx")
    assert "估值表.xlsx" in wrong_type.text() and ".pdf" in wrong_type.text()
    too_big = feishu.reply_containing(big["event"]["message"]["message_id"], "YANBAO_MAX_UPLOAD_MB")
    assert "huge.txt" in too_big.text() and "2.4 MB" in too_big.text()


# --- duplicates and restarts --------------------------------------------------------------------------


def test_a_repushed_event_is_answered_once_even_after_a_restart(feishu, service, settings):
    payload = message_event(feishu, "2025年全球AI PC出货量预计多少？", sender=READER, chat_id="oc_p2p_retry")
    message_id = payload["event"]["message"]["message_id"]
    with ServedApp(build_asgi(service, settings)) as first:
        feishu_side = Pusher(first)
        acked(feishu_side.push(payload))
        acked(feishu_side.push(payload))  # Feishu re-pushes with the same event_id
        feishu.answer_to(message_id)
        again = json.loads(json.dumps(payload))
        again["header"]["event_id"] = "ev-new-id-same-message"  # the same message, a new event id
        acked(feishu_side.push(again))
        feishu_side.close()

    # a restarted bot: new service, new app, new state connection, same YANBAO_HOME
    with ServedApp(build_asgi(Yanbao(settings), settings)) as restarted:
        feishu_side = Pusher(restarted)
        acked(feishu_side.push(payload), budget=2.0)
        time.sleep(1.5)
        feishu_side.close()
    assert len(feishu.replies_to(message_id)) == 1
    assert len([c for c in feishu.calls_to("reply") if c.body["message_id"] == message_id]) == 1


# --- refusals and the webhook protocol ----------------------------------------------------------------


def test_forged_pushes_are_refused_with_4xx(feishu, bot):
    before = len(feishu.calls)
    payload = message_event(feishu, "存储价格", sender=READER, chat_id="oc_forged")
    feishu_side = Pusher(bot)
    assert feishu_side.push(payload, token="not-the-token").status_code == 401
    body, headers = webhook_request(payload, token=TOKEN, encrypt_key=KEY, encrypted=True)
    forged = dict(headers, **{"X-Lark-Signature": "0" * 64})
    assert feishu_side.http.post(feishu_side.url, content=body, headers=forged).status_code == 401
    unsigned = {k: v for k, v in headers.items() if not k.startswith("X-Lark")}
    assert feishu_side.http.post(feishu_side.url, content=body, headers=unsigned).status_code == 401
    assert feishu_side.push(payload, encrypt_key="another-key").status_code in (400, 401)
    assert feishu_side.http.post(feishu_side.url, content=b"{not json", headers=headers).status_code == 400
    time.sleep(0.5)
    assert len(feishu.calls) == before
    feishu_side.close()


def test_header_case_does_not_matter(feishu, bot):
    feishu_side = Pusher(bot)
    payload = message_event(feishu, "DDR4 8Gb颗粒现货均价是多少？", sender=READER, chat_id="oc_p2p_case")
    body, headers = webhook_request(payload, token=TOKEN, encrypt_key=KEY, encrypted=True)
    lower = {k.lower(): v for k, v in headers.items()}
    acked(feishu_side.http.post(feishu_side.url, content=body, headers=lower))
    assert "1.42" in feishu.answer_to(payload["event"]["message"]["message_id"]).text()
    feishu_side.close()


def test_url_verification_answers_the_challenge(bot, plain_bot):
    challenge = {"type": "url_verification", "challenge": "ch-4f1d"}
    encrypted = Pusher(bot)
    assert acked(encrypted.push(challenge)) == {"challenge": "ch-4f1d"}
    plain = Pusher(plain_bot, encrypt_key=None, encrypted=False)
    assert acked(plain.push(challenge)) == {"challenge": "ch-4f1d"}
    assert plain.push(challenge, token="wrong").status_code == 401
    encrypted.close()
    plain.close()


def test_unknown_event_types_are_acknowledged_and_ignored(feishu, pusher):
    before = len(feishu.calls)
    payload = {
        "schema": "2.0",
        "header": {"event_id": new_id("ev"), "event_type": "im.chat.member.bot.added_v1"},
        "event": {"chat_id": "oc_new"},
    }
    assert acked(pusher.push(payload)) == {"msg": "success"}
    ours = message_event(feishu, "我自己发的卡片", sender_type="app", sender=BOT_OPEN_ID)
    assert acked(pusher.push(ours)) == {"msg": "success"}
    time.sleep(0.5)
    assert len(feishu.calls) == before


# --- Feishu API errors -------------------------------------------------------------------------------


def test_expired_token_is_refreshed_and_rate_limits_waited_out(feishu, pusher):
    tokens = len(feishu.calls_to("token"))
    feishu.expire_tokens()
    feishu.fail_next(
        "card_update",
        99991400,
        "request trigger frequency limit",
        status=429,
        headers={"x-ogw-ratelimit-reset": "1"},
    )
    message_id, answer = ask(
        feishu, pusher, "DDR4 8Gb颗粒现货均价是多少？", sender=READER, chat_id="oc_p2p_errors"
    )
    assert "1.42" in answer.text()
    assert len(feishu.calls_to("token")) > tokens
    assert [c.code for c in feishu.calls_to("card_update") if c.code] == [99991400]


def test_bot_not_in_chat_is_logged_and_the_bot_keeps_working(feishu, pusher, caplog):
    feishu.kicked_from.add("oc_left_group")
    payload = message_event(
        feishu,
        "@_user_1 DDR4 8Gb颗粒现货均价是多少？",
        chat_type="group",
        chat_id="oc_left_group",
        mentions=[mention()],
        sender=READER,
    )
    acked(pusher.push(payload))
    feishu.wait_for(lambda: any(c.code == 230002 for c in feishu.calls_to("reply")))
    _, answer = ask(
        feishu, pusher, "DDR4 8Gb颗粒现货均价是多少？", sender=READER, chat_id="oc_p2p_after_kick"
    )
    assert "1.42" in answer.text()
    assert feishu.replies_to(payload["event"]["message"]["message_id"]) == []
    assert any("230002" in r.getMessage() and "not in this chat" in r.getMessage() for r in caplog.records)


# --- 👍 / 👎 -----------------------------------------------------------------------------------------


def test_thumbs_up_is_stored_with_question_answer_and_citations(feishu, pusher, settings):
    _, answer = ask(feishu, pusher, "DDR4 8Gb颗粒现货均价是多少？", sender=READER, chat_id="oc_p2p_vote")
    buttons = [c["elements"][0] for c in answer.card["body"]["elements"][-1]["columns"]]
    value = buttons[0]["behaviors"][0]["value"]
    response = acked(pusher.push(card_action_event(answer.message_id, "oc_p2p_vote", READER, value)))
    assert response["toast"]["type"] == "success"
    assert "已记录你的反馈 👍" in json.dumps(response["card"]["data"], ensure_ascii=False)

    (record,) = [r for r in open_state(settings).list_feedback() if r.get("message_id") == answer.message_id]
    assert record["platform"] == "feishu" and record["vote"] == "up" and record["user"] == READER
    assert record["question"] == "DDR4 8Gb颗粒现货均价是多少？" and "1.42" in record["answer"]
    assert record["citations"] and all(c["report_id"] and c["text"] for c in record["citations"])
    # a second push of the same click is not stored twice
    acked(pusher.push(card_action_event(answer.message_id, "oc_p2p_vote", READER, value)))
    assert (
        len([r for r in open_state(settings).list_feedback() if r.get("message_id") == answer.message_id])
        == 1
    )


def test_health_and_metrics(bot):
    with httpx.Client(timeout=5) as http:
        health = http.get(bot.url + "/healthz")
        assert health.status_code == 200 and health.json()["platform"] == "feishu"
        metrics = http.get(bot.url + "/metrics").text
        assert 'yanbao_events_total{outcome="answered",platform="feishu"}' in metrics
