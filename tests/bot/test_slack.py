"""The Slack bot end to end: the real bot served over HTTP by uvicorn, the real Yanbao service over the
fixture notes (lexical only), and a fake Slack Web API on 127.0.0.1. Requests are signed as Slack signs
them; assertions are about what people in Slack would see."""

from __future__ import annotations

import io
import json
import logging
import time

import httpx
import pytest

from bot.permissions import OPERATOR
from bot.service import Yanbao
from bot.slack.server import build_asgi, start_socket_mode
from bot.state import open_state
from index.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer, Stream
from tests.fakes.servers import free_port
from tests.fakes.slack_api import (
    FakeSlackAPI,
    Message,
    ServedApp,
    SlackSender,
    dm_event,
    mention_event,
    new_ts,
)
from tests.helpers import WEEKLY_NOTE, copy_notes, note_paths

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN, READER = "UADMIN", "UREADER"
ACK_BUDGET_SECONDS = 1.0  # Slack allows 3 s; the bot should be far inside it


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slack():
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reports")
    copy_notes(folder)
    return folder


@pytest.fixture(scope="module")
def settings(tmp_path_factory, slack, reports_dir):
    return Settings(
        home=tmp_path_factory.mktemp("yanbao-home"),
        embed_model="none",
        admins=(f"slack:{ADMIN}",),
        report_dirs=(reports_dir,),
        max_upload_mb=1.0,
        slack_bot_token=slack.bot_token,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
    )


@pytest.fixture(scope="module")
def service(settings):
    yanbao = Yanbao(settings)
    summary = yanbao.reindex(by=OPERATOR)
    assert summary.ok and summary.added == len(note_paths())
    return yanbao


@pytest.fixture(scope="module")
def bot(service, settings):
    with ServedApp(build_asgi(service, settings)) as served:
        yield served


@pytest.fixture
def sender(bot):
    slack_side = SlackSender(bot.events_url, SECRET)
    yield slack_side
    slack_side.close()


@pytest.fixture(scope="module")
def weekly_title(service):
    (report,) = [r for r in service.reports() if r.source.endswith(WEEKLY_NOTE.name)]
    return report.title


# --- helpers -------------------------------------------------------------------------------------


def answered(
    slack: FakeSlackAPI, channel: str, thread_ts: str, count: int = 1, timeout: float = 30
) -> list[Message]:
    """The bot's finished answers in a thread (messages that end with the 👍/👎 buttons)."""

    def finished():
        done = [m for m in slack.thread(channel, thread_ts) if m.blocks and m.blocks[-1]["type"] == "actions"]
        return done if len(done) >= count else None

    return slack.wait_for(finished, timeout)


def replies(
    slack: FakeSlackAPI, channel: str, thread_ts: str, containing: str, timeout: float = 30
) -> Message:
    def found():
        return next((m for m in slack.thread(channel, thread_ts) if containing in m.all_text()), None)

    return slack.wait_for(found, timeout)


def citation_lines(message: Message) -> list[str]:
    return [
        e["text"]
        for b in message.blocks
        if b["type"] == "context"
        for e in b["elements"]
        if e.get("text", "").startswith("*[")
    ]


def started_in(slack: FakeSlackAPI, channel: str) -> list:
    """The calls that created a bot message in `channel` (posted, or started as a stream)."""
    return [
        c
        for c in slack.calls
        if c.method in ("chat.postMessage", "chat.startStream") and c.params.get("channel") == channel
    ]


def acked(response, budget: float = ACK_BUDGET_SECONDS) -> None:
    assert response.status_code == 200, response.text
    assert response.elapsed.total_seconds() < budget


def either(text: str, *forms: str) -> bool:
    return any(form in text for form in forms)


def text_pdf(lines: list[str]) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(lines[0])  # reportlab's default metadata title is "untitled"
    pdf.setFont("STSong-Light", 11)
    y = 800
    for line in lines:
        pdf.drawString(50, y, line)
        y -= 22
    pdf.save()
    return buffer.getvalue()


# --- questions in threads ----------------------------------------------------------------------------


def test_mention_is_answered_in_its_thread_with_citations(slack, sender, weekly_title):
    ts = new_ts()
    response = sender.event(
        mention_event("<@UBOT> 端侧AI芯片建议关注哪些公司？", user=READER, channel="CMAIN", ts=ts)
    )
    acked(response)

    (answer,) = answered(slack, "CMAIN", ts)
    assert answer.thread_ts == ts
    assert either(answer.all_text(), "晶晨股份")
    cites = citation_lines(answer)
    assert cites and any(weekly_title in c for c in cites)
    # native streaming: a status line while searching, then the answer streamed and ended with its
    # citation blocks, footer and buttons
    statuses = [c for c in slack.calls_to("assistant.threads.setStatus") if c.params["thread_ts"] == ts]
    assert statuses and "searching" in statuses[0].params["status"]
    assert answer.stream_calls[0] == "chat.startStream" and answer.stream_calls[-1] == "chat.stopStream"
    assert [b["type"] for b in answer.blocks[-3:]] == ["context", "context", "actions"]
    assert "Extractive" in answer.all_text()


def test_direct_message_is_answered(slack, sender):
    ts = new_ts()
    acked(sender.event(dm_event("DDR4 8Gb颗粒现货均价是多少？", user=READER, channel="DREADER", ts=ts)))
    (answer,) = answered(slack, "DREADER", ts)
    assert either(answer.all_text(), "1.42")
    assert citation_lines(answer)


def test_follow_up_in_thread_uses_the_earlier_question(slack, sender):
    ts = new_ts()
    question = mention_event("<@UBOT> 端侧AI芯片建议关注哪些公司？", user=READER, channel="CFOLLOW", ts=ts)
    acked(sender.event(question))
    (first,) = answered(slack, "CFOLLOW", ts)
    assert either(first.all_text(), "晶晨股份")

    # "and memory?" only means "which memory companies to watch" after the first question
    follow_up = mention_event("<@UBOT> 那存储呢？", user=READER, channel="CFOLLOW", ts=new_ts(), thread_ts=ts)
    acked(sender.event(follow_up))
    second = answered(slack, "CFOLLOW", ts, count=2)[-1]
    assert second.thread_ts == ts
    assert either(second.all_text(), "兆易创新", "兆易創新")


def test_empty_mention_gets_help(slack, sender):
    ts = new_ts()
    acked(sender.event(mention_event("<@UBOT>", user=READER, channel="CHELP", ts=ts)))
    help_message = replies(slack, "CHELP", ts, "/weekly")
    assert "/reports" in help_message.text


def test_a_very_long_question_is_trimmed_with_a_note(slack, sender):
    ts = new_ts()
    question = "端侧AI芯片出货" + "很长的问题" * 2000
    assert len(question) > 10_000
    acked(sender.event(mention_event(f"<@UBOT> {question}", user=READER, channel="CLONG", ts=ts)))
    (answer,) = answered(slack, "CLONG", ts)
    assert "first 2,000" in answer.all_text()


def test_bot_messages_edits_and_joins_are_ignored(slack, sender):
    before = len(slack.calls_to("chat.postMessage"))
    base = {"channel": "DREADER", "channel_type": "im", "text": "存储价格", "type": "message"}
    acked(sender.event({**base, "ts": new_ts(), "bot_id": "BOTHER", "subtype": "bot_message"}))
    acked(sender.event({**base, "ts": new_ts(), "user": "UBOT", "bot_id": "BBOT"}))
    acked(sender.event({**base, "ts": new_ts(), "subtype": "message_changed", "message": {"text": "x"}}))
    acked(sender.event({**base, "ts": new_ts(), "user": READER, "subtype": "channel_join"}))
    time.sleep(1.0)
    assert len(slack.calls_to("chat.postMessage")) == before


# --- duplicates and restarts --------------------------------------------------------------------------


def test_a_retried_event_is_answered_once_even_after_a_restart(slack, service, settings):
    ts = new_ts()
    event = mention_event("<@UBOT> DDR4 8Gb颗粒现货均价是多少？", user=READER, channel="CRETRY", ts=ts)
    event_id = "EvRETRY0001"
    with ServedApp(build_asgi(service, settings)) as first:
        slack_side = SlackSender(first.events_url, SECRET)
        acked(slack_side.event(event, event_id=event_id))
        acked(slack_side.event(event, event_id=event_id, retry_num=1))
        answered(slack, "CRETRY", ts)
        # the same message delivered again as a message event: new event_id, same client_msg_id
        acked(slack_side.event({**event, "type": "message", "channel_type": "im"}, event_id="EvRETRY0002"))
        slack_side.close()

    # a restarted bot: new service, new app, new state connection, same YANBAO_HOME
    with ServedApp(build_asgi(Yanbao(settings), settings)) as restarted:
        slack_side = SlackSender(restarted.events_url, SECRET)
        acked(slack_side.event(event, event_id=event_id, retry_num=2), budget=2.0)
        time.sleep(1.5)
        slack_side.close()
    assert len(started_in(slack, "CRETRY")) == 1
    assert len(answered(slack, "CRETRY", ts)) == 1


# --- signatures ------------------------------------------------------------------------------------


def test_forged_and_stale_requests_are_refused(slack, bot):
    slack_side = SlackSender(bot.events_url, SECRET)
    before = len(slack.calls)
    body = slack_side.event_body(
        mention_event("<@UBOT> 存储价格", user=READER, channel="CFORGED", ts=new_ts())
    )
    forged = slack_side.post(body, "application/json", signature="v0=" + "0" * 64)
    assert forged.status_code == 401
    wrong_secret = SlackSender(bot.events_url, "not-the-secret").post(body, "application/json")
    assert wrong_secret.status_code == 401
    stale = slack_side.post(body, "application/json", timestamp=int(time.time()) - 600)
    assert stale.status_code == 401
    time.sleep(0.5)
    assert len(slack.calls) == before
    slack_side.close()


# --- slash commands ----------------------------------------------------------------------------------


def test_weekly_command_posts_the_summary_in_the_channel(slack, sender, weekly_title):
    response = sender.command(
        "/weekly", "", user=READER, channel="CWEEKLY", response_url=slack.response_url(READER, "CWEEKLY")
    )
    acked(response)

    def weekly_answer():
        return next(
            (
                m
                for m in slack.messages.copy().values()
                if m.channel == "CWEEKLY" and m.blocks and m.blocks[-1]["type"] == "actions"
            ),
            None,
        )

    answer = slack.wait_for(weekly_answer)
    assert answer.thread_ts is None and not answer.ephemeral  # in the channel, for everyone
    assert f"<@{READER}> asked" in answer.all_text()
    assert any(weekly_title in c for c in citation_lines(answer))


def test_yanbao_help_is_ephemeral(slack, sender):
    response = sender.command(
        "/yanbao", "help", user=READER, response_url=slack.response_url(READER, "CMAIN")
    )
    acked(response)
    body = response.json()
    assert body["response_type"] == "ephemeral" and "/weekly" in body["text"]


def test_reindex_by_a_reader_is_refused_and_nothing_runs(slack, sender, reports_dir):
    response = sender.command("/reindex", "", user=READER, response_url=slack.response_url(READER, "CADMIN"))
    acked(response)
    body = response.json()
    assert body["response_type"] == "ephemeral" and "only yanbao admins" in body["text"]
    time.sleep(1.0)
    assert not slack.ephemerals(READER) or all("Re-indexed" not in m.text for m in slack.ephemerals(READER))


def test_reindex_by_an_admin_indexes_new_files(slack, sender, reports_dir):
    (reports_dir / "new_note.txt").write_text(
        "【测试证券】半导体周报(20250106-20250112)\n\n测试证券研究所 2025年1月13日\n\n"
        "本周半导体设备国产化率继续提升,北方华创订单饱满,我们维持推荐评级。\n",
        encoding="utf-8",
    )
    response = sender.command("/reindex", "", user=ADMIN, response_url=slack.response_url(ADMIN, "CADMIN"))
    acked(response)
    assert "Re-indexing" in response.json()["text"]
    done = slack.wait_for(
        lambda: next((m for m in slack.ephemerals(ADMIN) if "Re-indexed" in m.text), None), 60
    )
    assert "1 added" in done.text and "2 unchanged" in done.text


def test_slash_ask_where_the_bot_is_not_in_the_channel_answers_through_response_url(slack, sender):
    slack.script_error("chat.postMessage", "not_in_channel", when=lambda p: p.get("channel") == "COUTSIDE")
    response = sender.command(
        "/ask",
        "端侧AI芯片建议关注哪些公司？",
        user=READER,
        channel="COUTSIDE",
        response_url=slack.response_url(READER, "COUTSIDE"),
    )
    acked(response)

    def in_channel_answer():
        return next(
            (c for c in slack.calls_to("response_url") if c.params.get("response_type") == "in_channel"), None
        )

    call = slack.wait_for(in_channel_answer)
    assert either(json.dumps(call.params, ensure_ascii=False), "晶晨股份")


def test_rate_limited_slack_is_retried_after_retry_after(slack, sender):
    slack.script_error(
        "chat.startStream", "ratelimited", retry_after=1, when=lambda p: p.get("channel") == "CBUSY"
    )
    ts = new_ts()
    acked(
        sender.event(
            mention_event("<@UBOT> DDR4 8Gb颗粒现货均价是多少？", user=READER, channel="CBUSY", ts=ts)
        )
    )
    (answer,) = answered(slack, "CBUSY", ts)
    assert "1.42" in answer.all_text()
    refused = [c for c in started_in(slack, "CBUSY") if c.error]
    assert [c.status for c in refused] == [429]


# --- 👍 / 👎 -----------------------------------------------------------------------------------------


def test_thumbs_up_is_stored_with_question_answer_and_citations(slack, sender, settings):
    ts = new_ts()
    acked(
        sender.event(
            mention_event("<@UBOT> DDR4 8Gb颗粒现货均价是多少？", user=READER, channel="CVOTE", ts=ts)
        )
    )
    (answer,) = answered(slack, "CVOTE", ts)
    thumbs_up = answer.blocks[-1]["elements"][0]
    message = {
        "type": "message",
        "ts": answer.ts,
        "text": answer.text,
        "blocks": answer.blocks,
        "bot_id": "BBOT",
    }
    response = sender.block_action(
        user=READER,
        channel="CVOTE",
        message=message,
        action={
            "action_id": thumbs_up["action_id"],
            "block_id": "yanbao_feedback",
            "value": thumbs_up["value"],
            "text": thumbs_up["text"],
        },
        response_url=slack.response_url(READER, "CVOTE"),
    )
    acked(response)
    state = open_state(settings)
    (record,) = [r for r in state.list_feedback() if r.get("message_ts") == answer.ts]
    assert record["vote"] == "up" and record["user"] == READER
    assert record["question"] == "DDR4 8Gb颗粒现货均价是多少？"
    assert "1.42" in record["answer"]
    assert record["citations"] and all(c["report_id"] for c in record["citations"])
    slack.wait_for(lambda: any("Thanks" in m.text for m in slack.ephemerals(READER)))


# --- admin file shares -------------------------------------------------------------------------------


PDF_LINES = [
    "【华泰证券】光模块行业周报(20250106-20250112)",
    "华泰证券研究所  发布时间: 2025-01-13",
    "核心观点：中际旭创800G光模块出货量环比增长35%，1.6T光模块开始小批量出货。",
    "我们认为海外云厂商资本开支上修将持续拉动高速光模块需求，维持行业推荐评级。",
]


def test_admin_pdf_upload_is_indexed_then_answerable(slack, sender):
    shared = slack.add_file("光模块周报.pdf", text_pdf(PDF_LINES), user=ADMIN)
    ts = new_ts()
    acked(sender.event(dm_event("", user=ADMIN, channel="DADMIN", ts=ts, files=[shared])))
    reply = replies(slack, "DADMIN", ts, "Indexed", timeout=60)
    assert "光模块行业周报" in reply.text and "华泰证券" in reply.text and "2025-01-13" in reply.text
    assert "chunks" in reply.text
    assert slack.calls_to("files.download")

    ask_ts = new_ts()
    acked(
        sender.event(
            dm_event("中际旭创800G光模块出货量环比增长多少？", user=ADMIN, channel="DADMIN", ts=ask_ts)
        )
    )
    (answer,) = answered(slack, "DADMIN", ask_ts)
    assert "35%" in answer.all_text()
    assert any("光模块" in c for c in citation_lines(answer))


def test_reader_upload_is_politely_refused(slack, sender):
    shared = slack.add_file("secret.pdf", text_pdf(PDF_LINES), user=READER)
    downloads = len(slack.calls_to("files.download"))
    ts = new_ts()
    acked(sender.event(dm_event("", user=READER, channel="DREADER", ts=ts, files=[shared])))
    reply = replies(slack, "DREADER", ts, "Only yanbao admins")
    assert "ask an admin" in reply.text
    time.sleep(0.5)
    assert len(slack.calls_to("files.download")) == downloads


def test_wrong_type_and_oversized_uploads_get_clear_replies(slack, sender):
    sheet = slack.add_file("估值表.xlsx", b"PK\x03\x04 not really a sheet", user=ADMIN)
    big = slack.add_file("huge.txt", "研报".encode() * 400_000, user=ADMIN)  # 2.4 MB, limit 1 MB
    ts = new_ts()
    acked(sender.event(mention_event("<@UBOT>", user=ADMIN, channel="CUPLOAD", ts=ts, files=[sheet, big])))
    wrong_type = replies(slack, "CUPLOAD", ts, ".xlsx file")
    assert "估值表.xlsx" in wrong_type.text and ".pdf" in wrong_type.text
    too_big = replies(slack, "CUPLOAD", ts, "YANBAO_MAX_UPLOAD_MB")
    assert "huge.txt" in too_big.text and "2.4 MB" in too_big.text


def test_a_file_larger_than_slack_said_is_cut_off_at_the_limit(slack, sender, settings):
    liar = slack.add_file("small.txt", "研报".encode() * 400_000, user=ADMIN, reported_size=1000)
    ts = new_ts()
    acked(sender.event(mention_event("<@UBOT>", user=ADMIN, channel="CLIAR", ts=ts, files=[liar])))
    reply = replies(slack, "CLIAR", ts, "larger than the upload limit")
    assert "small.txt" in reply.text
    assert not list((settings.home / "uploads").glob(f"{liar['id']}*"))


# --- an LLM streaming into the message ----------------------------------------------------------


def test_llm_answer_streams_into_the_message_then_shows_the_model(slack, settings, service):
    pieces = ["中泰证券", "指出本周", "DDR4 8Gb颗粒", "现货均价为", "1.42美元，", "环比下跌0.7% [1]"]
    with FakeOpenAIServer() as llm:
        llm.responder = lambda req: Stream(pieces, delay=0.4) if req.get("stream") else "DDR4 现货均价"
        llm_settings = settings.replace(llm_base_url=llm.url, llm_model="fake-model", llm_timeout=10.0)
        with ServedApp(build_asgi(Yanbao(llm_settings), llm_settings)) as bot:
            slack_side = SlackSender(bot.events_url, SECRET)
            ts = new_ts()
            acked(
                slack_side.event(
                    mention_event("<@UBOT> DDR4 8Gb颗粒现货均价是多少？", user=READER, channel="CLLM", ts=ts)
                )
            )
            (answer,) = answered(slack, "CLLM", ts)
            slack_side.close()
    assert "1.42" in answer.all_text() and "fake-model" in answer.all_text()
    assert citation_lines(answer)
    # streamed while the LLM wrote: started with the first words, appended, then stopped
    stream = [c for c in slack.calls if c.method.endswith("Stream") and c.params.get("channel") == "CLLM"]
    assert [c.method for c in stream][0] == "chat.startStream" and stream[-1].method == "chat.stopStream"
    assert any(c.method == "chat.appendStream" for c in stream)
    first = json.dumps(stream[0].params, ensure_ascii=False)
    assert "1.42美元，环比下跌" not in first  # shown while still growing


# --- secrets stay out of the logs ---------------------------------------------------------------------


def test_tokens_and_the_signing_secret_never_reach_the_logs(slack, sender, settings, caplog):
    caplog.set_level(logging.DEBUG)
    ts = new_ts()
    acked(
        sender.event(
            mention_event("<@UBOT> DDR4 8Gb颗粒现货均价是多少？", user=READER, channel="CLOGS", ts=ts)
        )
    )
    answered(slack, "CLOGS", ts)
    shared = slack.add_file("notes.md", "# 测试\n\n华泰证券研究所 2025-01-13 测试内容。".encode(), user=ADMIN)
    acked(sender.event(dm_event("", user=ADMIN, channel="DLOGS", ts=(upload_ts := new_ts()), files=[shared])))
    replies(slack, "DLOGS", upload_ts, "Indexed", timeout=60)
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert text  # the flow did log
    assert slack.bot_token not in text and SECRET not in text


# --- Socket Mode ---------------------------------------------------------------------------------


def test_socket_mode_answers_events_and_commands(slack, service, settings):
    socket_settings = settings.replace(slack_app_token=slack.app_token, slack_signing_secret=None)
    port = free_port()
    connection = start_socket_mode(service, socket_settings, host="127.0.0.1", port=port)
    try:
        slack.wait_for(lambda: slack.socket_connections >= 1)
        ts = new_ts()
        sender = SlackSender("http://unused", SECRET)
        body = json.loads(
            sender.event_body(
                mention_event("<@UBOT> DDR4 8Gb颗粒现货均价是多少？", user=READER, channel="CSOCK", ts=ts)
            )
        )
        first = slack.socket_send("events_api", body)
        slack.wait_for(lambda: first in slack.socket_acks, 5)
        (answer,) = answered(slack, "CSOCK", ts)
        assert "1.42" in answer.all_text() and citation_lines(answer)

        retried = slack.socket_send("events_api", body, retry_attempt=1)
        slack.wait_for(lambda: retried in slack.socket_acks, 5)

        command = sender.command_payload(
            "/yanbao", "help", user=READER, channel="CSOCK", response_url=slack.response_url(READER, "CSOCK")
        )
        helped = slack.socket_send("slash_commands", command)
        ack = slack.wait_for(lambda: slack.socket_acks.get(helped), 5)
        assert "/weekly" in ack["payload"]["text"]

        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["ok"] is True
        time.sleep(1.0)
        assert len(started_in(slack, "CSOCK")) == 1
    finally:
        connection.close()
