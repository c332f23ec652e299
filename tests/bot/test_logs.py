"""JSON log lines carry a request id, and a secret logged by mistake never reaches the output."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from bot.logs import configure_logging, current_request_id, request_context, secret_values
from index.settings import Settings

SLACK_BOT_TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"
SLACK_APP_TOKEN = "xapp-1-A0123456789-1234567890123-abcdef0123456789"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
LLM_KEY = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
FEISHU_SECRET = "Fs3cr3tN0tPatterned"


@pytest.fixture
def output():
    stream = io.StringIO()
    settings = Settings(
        slack_bot_token=SLACK_BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        feishu_app_secret=FEISHU_SECRET,
    )
    handler = configure_logging("DEBUG", secrets=secret_values(settings), stream=stream)
    yield stream
    logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line_with_extras(output: io.StringIO) -> None:
    logging.getLogger("bot.slack").info("question from %s", "U1", extra={"platform": "slack", "chars": 12})
    [entry] = lines(output)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "bot.slack"
    assert entry["msg"] == "question from U1"
    assert entry["platform"] == "slack" and entry["chars"] == 12
    assert entry["ts"].endswith("+00:00")
    assert "request_id" not in entry


def test_request_id_tags_every_line_in_the_context(output: io.StringIO) -> None:
    log = logging.getLogger("bot.service")
    with request_context() as rid:
        log.info("retrieve")
        log.info("answer")
    with request_context("slack-Ev42"):
        log.info("given id")
    log.info("outside")
    entries = lines(output)
    assert len(rid) >= 12
    assert [e.get("request_id") for e in entries] == [rid, rid, "slack-Ev42", None]
    assert current_request_id() is None


def test_request_ids_do_not_leak_between_concurrent_tasks(output: io.StringIO) -> None:
    async def handle(name: str) -> str:
        with request_context(name):
            await asyncio.sleep(0.01)
            logging.getLogger("bot").info("done %s", name)
            return current_request_id()

    async def main() -> list[str]:
        return await asyncio.gather(handle("a"), handle("b"))

    assert asyncio.run(main()) == ["a", "b"]
    assert {(e["msg"], e["request_id"]) for e in lines(output) if e["logger"] == "bot"} == {
        ("done a", "a"),
        ("done b", "b"),
    }


@pytest.mark.parametrize(
    "leak",
    [SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SIGNING_SECRET, LLM_KEY, FEISHU_SECRET, "xoxp-11-22-33-abcdef"],
)
def test_a_token_logged_by_mistake_is_masked(output: io.StringIO, leak: str) -> None:
    log = logging.getLogger("bot.slack")
    log.info("calling with %s", leak)
    log.warning(f"headers: Authorization: Bearer {leak}")
    log.error("bad response", extra={"headers": {"Authorization": leak}, "args_seen": [leak, 1]})
    try:
        raise RuntimeError(f"auth failed for {leak}")
    except RuntimeError:
        log.exception("request failed")
    text = output.getvalue()
    assert leak not in text
    assert "***" in text
    assert len([e for e in lines(output) if e["logger"] == "bot.slack"]) == 4


def test_bearer_and_url_passwords_are_masked(output: io.StringIO) -> None:
    logging.getLogger("x").info(
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig and redis://:r3dis-pass@redis:6379/0"
    )
    [entry] = lines(output)
    assert "eyJhbGciOiJIUzI1NiJ9" not in entry["msg"] and "r3dis-pass" not in entry["msg"]
    assert "Bearer ***" in entry["msg"] and "redis://:***@redis:6379/0" in entry["msg"]


def test_ordinary_text_is_left_alone(output: io.StringIO) -> None:
    message = "task-list updated; 中信证券 2024-12-16 周报 sk- skipped; 1 xox"
    logging.getLogger("x").info(message)
    assert lines(output)[0]["msg"] == message


def test_text_mode_for_terminals() -> None:
    stream = io.StringIO()
    handler = configure_logging("info", json=False, secrets=[SIGNING_SECRET], stream=stream)
    try:
        with request_context("r1"):
            logging.getLogger("bot").info("secret is %s", SIGNING_SECRET, extra={"platform": "feishu"})
        logging.getLogger("bot").debug("hidden at INFO")
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "[r1] secret is ***" in text and "platform=feishu" in text
    assert SIGNING_SECRET not in text and "hidden" not in text


def test_configuring_twice_keeps_one_handler() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    first = configure_logging("INFO", stream=io.StringIO())
    second = configure_logging("INFO", stream=io.StringIO())
    try:
        assert first not in root.handlers and second in root.handlers
        assert len(root.handlers) == len(before) + 1
    finally:
        root.removeHandler(second)


def test_an_unknown_level_names_the_setting() -> None:
    with pytest.raises(ValueError, match="YANBAO_LOG_LEVEL"):
        configure_logging("LOUD")
