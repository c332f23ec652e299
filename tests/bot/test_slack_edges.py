"""Slack as its users and operators meet it in 2026, end to end against the fake Web API: native
streaming (and its fallback), the AI-app split view, and the edges issue 13 found — malformed
requests, app_rate_limited, a start-up without Slack, a Socket Mode outage, a captioned upload.
Payload shapes follow slackapi/bolt-python's scenario tests and Slack's reference pages; the notes
are the project's own samples."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from bot.dispatch import Command, Context, Reply, Say
from bot.permissions import OPERATOR
from bot.service import Yanbao
from bot.slack.app import build_app
from bot.slack.identity import SlackIdentity
from bot.slack.server import build_asgi, start_socket_mode
from index.settings import Settings
from tests.bot.chat_fixtures import (
    ANSWER_NAMES,
    LLM_PIECES,
    QUESTION,
    UNSUPPORTED_NAME,
    copy_notes,
    streaming_llm,
)
from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.processes import logs_on_failure, start_yanbao
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

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ADMIN, READER = "UADMIN", "UREADER"


@pytest.fixture(scope="module")
def slack():
    with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def settings(tmp_path_factory, slack):
    reports = tmp_path_factory.mktemp("reports")
    copy_notes(reports)
    return Settings(
        home=tmp_path_factory.mktemp("home"),
        embed_model="none",
        admins=(f"slack:{ADMIN}",),
        report_dirs=(reports,),
        slack_bot_token=slack.bot_token,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
    )


@pytest.fixture(scope="module")
def service(settings):
    yanbao = Yanbao(settings)
    assert yanbao.reindex(by=OPERATOR).ok
    return yanbao


@pytest.fixture(scope="module")
def bot(service, settings):
    with ServedApp(build_asgi(service, settings)) as served:
        yield served


@pytest.fixture
def sender(bot):
    side = SlackSender(bot.events_url, SECRET)
    yield side
    side.close()


def finished(slack: FakeSlackAPI, channel: str, thread_ts: str, timeout: float = 30) -> Message:
    """The bot's finished answer in a thread (ends with the 👍/👎 buttons)."""

    def done():
        return next(
            (m for m in slack.thread(channel, thread_ts) if m.blocks and m.blocks[-1]["type"] == "actions"),
            None,
        )

    return slack.wait_for(done, timeout)


def reply_with(slack: FakeSlackAPI, channel: str, thread_ts: str, text: str, timeout: float = 30) -> Message:
    return slack.wait_for(
        lambda: next((m for m in slack.thread(channel, thread_ts) if text in m.all_text()), None), timeout
    )


def calls_in(slack: FakeSlackAPI, channel: str, *methods: str) -> list:
    return [
        c
        for c in slack.calls
        if c.method in methods and (c.params.get("channel") or c.params.get("channel_id")) == channel
    ]


def feedback_value(message: Message) -> dict:
    return json.loads(message.blocks[-1]["elements"][0]["value"])


def llm_settings(settings: Settings, llm: FakeOpenAIServer) -> Settings:
    return settings.replace(llm_base_url=llm.url, llm_model="fake-model", llm_timeout=10.0)


# --- native streaming --------------------------------------------------------------------------------


def test_an_llm_answer_streams_natively_and_ends_with_its_citations(slack, service, settings):
    pieces = LLM_PIECES[:-1]  # the supported sentence only
    with FakeOpenAIServer() as llm:
        llm.responder = streaming_llm(pieces)
        llm_on = llm_settings(settings, llm)
        with ServedApp(build_asgi(Yanbao(llm_on), llm_on)) as served:
            side = SlackSender(served.events_url, SECRET)
            ts = new_ts()
            side.event(mention_event(f"<@UBOT> {QUESTION}", user=READER, channel="CSTREAM", ts=ts))
            answer = finished(slack, "CSTREAM", ts)
            side.close()
    stream = calls_in(slack, "CSTREAM", "chat.startStream", "chat.appendStream", "chat.stopStream")
    assert [c.method for c in stream][0] == "chat.startStream" and stream[-1].method == "chat.stopStream"
    assert any(c.method == "chat.appendStream" for c in stream), [
        c.params for c in stream
    ]  # it grew while the LLM wrote
    start = stream[0].params
    assert start["thread_ts"] == ts and start["recipient_user_id"] == READER and start["recipient_team_id"]
    assert "万兴科技" not in json.dumps(start, ensure_ascii=False)
    # the streamed text, then the citation block, footer and buttons the stop carried
    assert all(name in answer.text for name in ANSWER_NAMES) and "fake-model" in answer.all_text()
    assert answer.blocks[0]["type"] == "markdown"
    assert [b["type"] for b in answer.blocks[-4:]] == ["divider", "context", "context", "actions"]
    assert answer.blocks[-3]["elements"][0]["text"].startswith("*[1]*")
    statuses = calls_in(slack, "CSTREAM", "assistant.threads.setStatus")
    assert statuses and statuses[0].params["status"].startswith("is searching")
    assert ("CSTREAM", ts) not in slack.statuses  # the reply cleared the status line
    assert not slack.violations


def test_streamed_text_the_verifier_drops_does_not_stay(slack, service, settings):
    with FakeOpenAIServer() as llm:
        llm.responder = streaming_llm(LLM_PIECES)
        llm_on = llm_settings(settings, llm)
        with ServedApp(build_asgi(Yanbao(llm_on), llm_on)) as served:
            side = SlackSender(served.events_url, SECRET)
            ts = new_ts()
            side.event(mention_event(f"<@UBOT> {QUESTION}", user=READER, channel="CVERIFY", ts=ts))
            answer = slack.wait_for(
                lambda: next(
                    (m for m in slack.thread("CVERIFY", ts) if m.versions and not m.streaming), None
                ),
                30,
            )
            side.close()
    streamed = json.dumps(
        [
            c.params
            for c in calls_in(slack, "CVERIFY", "chat.appendStream", "chat.stopStream", "chat.startStream")
        ],
        ensure_ascii=False,
    )
    assert UNSUPPORTED_NAME in streamed  # the LLM wrote it and it was shown while streaming…
    assert UNSUPPORTED_NAME not in answer.all_text()  # …but the message that stays is the verified one
    assert calls_in(slack, "CVERIFY", "chat.update") and answer.blocks[-1]["type"] == "actions"


def test_where_streaming_is_refused_the_answer_falls_back_to_chat_update(slack, service, settings):
    slack.refuse_streaming = "unknown_method"
    try:
        with ServedApp(build_asgi(service, settings)) as served:
            side = SlackSender(served.events_url, SECRET)
            first_ts, second_ts = new_ts(), new_ts()
            side.event(mention_event(f"<@UBOT> {QUESTION}", user=READER, channel="COLD", ts=first_ts))
            first = finished(slack, "COLD", first_ts)
            side.event(mention_event(f"<@UBOT> {QUESTION}", user=READER, channel="COLD2", ts=second_ts))
            second = finished(slack, "COLD2", second_ts)
            side.close()
    finally:
        slack.refuse_streaming = None
    assert all(name in first.all_text() for name in ANSWER_NAMES) and first.blocks[-1]["type"] == "actions"
    assert [c.error for c in calls_in(slack, "COLD", "chat.startStream")] == ["unknown_method"]
    # learned once: the next answer goes straight to "Searching…" + chat.update, no stream attempted
    assert not calls_in(slack, "COLD2", "chat.startStream")
    assert "Searching" in second.versions[0]["text"] and all(n in second.all_text() for n in ANSWER_NAMES)


def test_without_assistant_write_a_placeholder_shows_the_search(slack, service, settings):
    slack.refuse_assistant = "missing_scope"
    try:
        with ServedApp(build_asgi(service, settings)) as served:
            side = SlackSender(served.events_url, SECRET)
            ts = new_ts()
            side.event(mention_event(f"<@UBOT> {QUESTION}", user=READER, channel="CNOSTATUS", ts=ts))
            answer = finished(slack, "CNOSTATUS", ts)
            side.close()
    finally:
        slack.refuse_assistant = None
    assert answer.versions and "Searching" in answer.versions[0]["text"]
    assert all(name in answer.all_text() for name in ANSWER_NAMES)


# --- the AI-app split view -----------------------------------------------------------------------------


def assistant_thread_started(channel: str, thread_ts: str, user: str) -> dict:
    """bolt-python's thread_started_event_body, with this test's ids."""
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user,
            "context": {"channel_id": "CWHERE", "team_id": "T0001", "enterprise_id": None},
            "channel_id": channel,
            "thread_ts": thread_ts,
        },
        "event_ts": new_ts(),
    }


def test_an_ai_app_thread_gets_a_greeting_suggested_prompts_and_a_title(slack, sender):
    thread_ts = new_ts()
    response = sender.event(assistant_thread_started("DAI", thread_ts, READER))
    assert response.status_code == 200
    greeting = reply_with(slack, "DAI", thread_ts, "research notes")
    assert "4 research notes" in greeting.text
    (prompts,) = slack.wait_for(lambda: calls_in(slack, "DAI", "assistant.threads.setSuggestedPrompts"))
    messages = [p["message"] for p in prompts.params["prompts"]]
    assert "/weekly" in messages and "/help" in messages and len(messages) <= 4
    assert any("国盛证券" in m for m in messages)  # a question about the newest weekly's broker

    # the person's first question in that thread titles it and is answered in it
    question = dm_event(QUESTION, user=READER, channel="DAI", ts=new_ts(), thread_ts=thread_ts)
    assert sender.event(question).status_code == 200
    answer = finished(slack, "DAI", thread_ts)
    assert all(name in answer.all_text() for name in ANSWER_NAMES)
    (title,) = calls_in(slack, "DAI", "assistant.threads.setTitle")
    assert title.params["title"] == QUESTION and title.params["thread_ts"] == thread_ts


def test_a_colleagues_mention_becomes_their_name_in_the_question(slack, sender):
    slack.users["U0ALICE"] = "Alice Wang"
    ts = new_ts()
    sender.event(
        mention_event(f"<@UBOT> <@U0ALICE> 问 {QUESTION} :pray:", user=READER, channel="CNAMES", ts=ts)
    )
    answer = finished(slack, "CNAMES", ts)
    assert feedback_value(answer)["q"] == f"Alice Wang 问 {QUESTION}"


# --- robust edges ------------------------------------------------------------------------------------


def signed_post(sender: SlackSender, body: str, content_type: str, **headers: str) -> httpx.Response:
    from tests.fakes.slack_api import signed_headers

    sent = signed_headers(SECRET, body, content_type)
    sent.update(headers)
    return sender.http.post(sender.bot_url, content=body.encode(), headers=sent)


def test_malformed_requests_get_4xx_and_a_short_json_answer(bot, sender, slack, caplog):
    caplog.set_level(logging.INFO)
    before = len(slack.calls)
    cases = [
        # (what Slack's side sends, expected status)
        (
            lambda: sender.http.post(
                bot.events_url, content=b"not json", headers={"Content-Type": "application/json"}
            ),
            401,
        ),
        (lambda: signed_post(sender, "not json", "application/json"), 400),
        (lambda: signed_post(sender, "[1, 2, 3]", "application/json"), 400),
        (lambda: signed_post(sender, "payload=%7Bnot-json", "application/x-www-form-urlencoded"), 400),
        (lambda: signed_post(sender, "payload=%5B%5D", "application/x-www-form-urlencoded"), 400),
        (lambda: signed_post(sender, "foo=bar", "application/x-www-form-urlencoded"), 400),
        (
            lambda: signed_post(
                sender, "{}", "application/json", **{"X-Slack-Request-Timestamp": "yesterday"}
            ),
            401,
        ),
    ]
    for send, status in cases:
        response = send()
        assert response.status_code == status, response.text
        assert len(response.content) < 200 and response.json()["ok"] is False
    # a signed view_submission nobody listens to (bolt-python's view_submission shape): acknowledged
    view = {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "fake"},
        "user": {"id": READER, "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "view": {"id": "V1", "type": "modal", "callback_id": "old-modal", "state": {"values": {}}},
    }
    response = signed_post(sender, "payload=" + quote(json.dumps(view)), "application/x-www-form-urlencoded")
    assert response.status_code == 200
    time.sleep(0.3)
    assert len(slack.calls) == before  # nothing reached Slack's API
    refused = [r for r in caplog.records if r.getMessage().startswith("refused a Slack request")]
    assert len(refused) == len(cases) and all(r.exc_info is None for r in refused)


def test_app_rate_limited_is_acknowledged_and_logged(sender, caplog):
    caplog.set_level(logging.WARNING)
    body = json.dumps(
        {
            "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
            "type": "app_rate_limited",
            "team_id": "T0001",
            "minute_rate_limited": 1518467820,
            "api_app_id": "A0001",
        }
    )
    response = signed_post(sender, body, "application/json")
    assert response.status_code == 200
    assert any(
        "rate limit" in r.getMessage() and r.__dict__.get("team_id") == "T0001" for r in caplog.records
    )


def test_a_captioned_file_share_is_indexed_and_the_caption_not_searched(slack, sender):
    note = "【测试电子】半导体周报(20250106-20250112)\n\n测试证券研究所 2025年1月13日\n\n本周北方华创订单饱满,维持推荐评级。\n"
    shared = slack.add_file("半导体周报.txt", note.encode(), user=ADMIN)
    ts = new_ts()
    event = mention_event(
        "<@UBOT> 这是本周的半导体周报，大家看看", user=ADMIN, channel="CSHARE", ts=ts, files=[shared]
    )
    event["subtype"] = "file_share"
    sender.event(event)
    reply_with(slack, "CSHARE", ts, "Indexed", timeout=60)
    time.sleep(0.5)
    assert not calls_in(slack, "CSHARE", "chat.startStream", "assistant.threads.setStatus")


def test_a_new_command_appears_in_slack_everywhere(slack, service, settings):
    app = build_app(service, settings)

    def run_count(ctx: Context, args: str) -> Reply:
        return Reply.message(Say(f"{len(ctx.service.reports())} notes indexed"), private=True)

    expected = f"{len(service.reports())} notes indexed"

    app.yanbao.dispatcher.register(Command("count", run_count, summary=Say("how many notes"), private=True))
    with ServedApp(build_asgi(service, settings, app=app)) as served:
        side = SlackSender(served.events_url, SECRET)
        for command, text in (("/yanbao", "count"), ("/count", "")):
            side.command(
                command, text, user=READER, channel="CCMD", response_url=slack.response_url(READER, "CCMD")
            )
        ts = new_ts()
        side.event(dm_event("/count", user=READER, channel="DCMD", ts=ts))
        reply_with(slack, "DCMD", ts, expected)
        help_ack = side.command(
            "/yanbao", "help", user=READER, response_url=slack.response_url(READER, "CCMD")
        )
        side.close()
    slack.wait_for(lambda: len([m for m in slack.ephemerals(READER) if m.text == expected]) >= 2)
    assert "`/count`" in help_ack.json()["text"]


# --- start-up and connections ---------------------------------------------------------------------------


def health(url: str) -> httpx.Response:
    return httpx.get(url + "/healthz", timeout=5)


def wait_health(url: str, status: int, timeout: float = 30, until=lambda body: True) -> dict:
    """The first /healthz body with `status` for which `until(body)` holds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = health(url)
            if last.status_code == status and until(last.json()):
                return last.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(
        f"/healthz never answered {status}; last: {last.status_code if last else None} {last.text if last else ''}"
    )


def test_start_up_without_slack_serves_health_says_why_and_retries(service, settings):
    port = free_port()
    offline = settings.replace(slack_api_url=f"http://127.0.0.1:{port}/api/")
    app = build_app(service, offline, identity=SlackIdentity(offline, retry_seconds=(0.2,)))
    with ServedApp(build_asgi(service, offline, app=app)) as served:
        down = wait_health(served.url, 503, until=lambda body: body["slack_problem"] != "not checked yet")
        assert "cannot reach Slack" in down["slack_problem"] and "SLACK_API_URL" in down["slack_problem"]
        with FakeSlackAPI(port=port):  # Slack comes back on the same address
            up = wait_health(served.url, 200)
    assert up["slack_api"] is True and up["slack_problem"] is None


class Egress404(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = b"<html><body>404 Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_egress_answering_404_is_named_not_taken_for_a_bad_token(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Egress404)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proxied = settings.replace(slack_api_url=f"http://127.0.0.1:{server.server_address[1]}/api/")
        identity = SlackIdentity(proxied)
        assert identity.check() is False
    finally:
        server.shutdown()
    assert "HTTP 404" in identity.problem and "SLACK_API_URL" in identity.problem
    assert "SLACK_BOT_TOKEN" not in identity.problem


def test_serve_slack_with_no_network_stays_up_and_says_what_to_check(tmp_path):
    port, dead = free_port(), free_port()
    server = start_yanbao(
        "serve-slack",
        ["serve", "slack", "--host", "127.0.0.1", "--port", str(port)],
        tmp_path / "home",
        tmp_path / "serve.log",
        port=port,
        SLACK_BOT_TOKEN="xoxb-offline",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=f"http://127.0.0.1:{dead}/api/",
    )
    try:
        with logs_on_failure(server):
            body = wait_health(
                server.url, 503, timeout=60, until=lambda body: body["slack_problem"] != "not checked yet"
            )
            assert "SLACK_API_URL" in body["slack_problem"]
            assert server.process.poll() is None  # still serving, still retrying
            log = server.log_text()
            assert "cannot reach Slack" in log and "Traceback" not in log
    finally:
        server.stop()


def test_socket_mode_health_follows_the_socket(slack, service, settings):
    socket_settings = settings.replace(slack_app_token=slack.app_token, slack_signing_secret=None)
    port = free_port()
    connection = start_socket_mode(
        service, socket_settings, host="127.0.0.1", port=port, ping_interval=1, retry_seconds=(0.2,)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_health(url, 200)["socket_mode"] is True
        slack.drop_sockets()  # an outage: the socket closes and cannot be re-opened
        down = wait_health(url, 503)
        assert down["socket_mode"] is False and down["socket_problem"]
        slack.restore_sockets()
        assert wait_health(url, 200)["socket_mode"] is True
    finally:
        slack.restore_sockets()
        connection.close()


# --- the app manifest --------------------------------------------------------------------------------


def test_the_manifest_asks_for_what_the_bot_uses(service):
    import yaml

    from bot.dispatch import Dispatcher

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "deploy/slack/manifest.yml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "assistant:write", "users:read", "files:read", "app_mentions:read"} <= scopes
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mention", "message.im", "assistant_thread_started"} <= events
    assert "assistant_view" in manifest["features"]
    dispatcher = Dispatcher(service)
    for command in manifest["features"]["slash_commands"]:
        name = command["command"].lstrip("/")
        assert name == "yanbao" or dispatcher.get(name) is not None, name
