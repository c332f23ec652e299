"""LLMClient against a real OpenAI-compatible server on 127.0.0.1 (tests/fakes/openai_server.py)."""

# ruff: noqa: F811  (the openai_server fixture is imported, then named as a test argument)

from __future__ import annotations

import logging
import time

import httpx
import pytest

from bot.llm import ChatResult, LLMBadResponse, LLMClient, LLMError, LLMUnavailable, Usage
from index.settings import load_settings
from tests.fakes.openai_server import (  # noqa: F401
    FakeOpenAIServer,
    Garbage,
    Hang,
    Reply,
    Status,
    Stream,
    TrickleForever,
    openai_server,
)

KEY = "sk-test-very-secret-4242"
MESSAGES = [{"role": "system", "content": "答问"}, {"role": "user", "content": "豆包11月月活?"}]


def make_client(server: FakeOpenAIServer, **options) -> LLMClient:
    options = {"timeout": 5.0, "max_retries": 2, "backoff": 0.01, **options}
    return LLMClient(server.url, "fake-model", **options)


def test_chat_returns_text_usage_and_sends_the_request(openai_server):
    openai_server.script(
        [Reply("豆包11月月活5998万 [1]", usage={"prompt_tokens": 12, "completion_tokens": 7})]
    )
    with make_client(openai_server, api_key=KEY) as client:
        result = client.chat(MESSAGES, max_tokens=200)

    assert result == ChatResult("豆包11月月活5998万 [1]", "fake-model", Usage(12, 7, 19), "stop")
    assert client.last_usage == Usage(12, 7, 19)
    request = openai_server.last_request
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.json["model"] == "fake-model"
    assert request.json["messages"] == MESSAGES
    assert request.json["max_tokens"] == 200
    assert "stream" not in request.json


def test_base_url_trailing_slash_and_extra_body(openai_server):
    with LLMClient(openai_server.url + "/", "fake-model", extra_body={"enable_thinking": False}) as client:
        client.chat(MESSAGES)
    assert openai_server.last_request.path == "/v1/chat/completions"
    assert openai_server.last_request.json["enable_thinking"] is False


def test_no_authorization_header_without_api_key(openai_server):
    with make_client(openai_server) as client:
        client.chat(MESSAGES)
    assert "authorization" not in openai_server.last_request.headers


def test_stream_yields_chunks_in_order_and_records_usage(openai_server):
    openai_server.script(
        [Stream(["山西", "证券", "推荐"], usage={"prompt_tokens": 30, "completion_tokens": 3})]
    )
    with make_client(openai_server) as client:
        assert list(client.stream(MESSAGES)) == ["山西", "证券", "推荐"]
        assert client.last_usage == Usage(30, 3, 33)
    body = openai_server.last_request.json
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_stream_skips_reasoning_content(openai_server):
    openai_server.script([Stream(["答案", "。"], reasoning=["先想", "一想"])])
    with make_client(openai_server) as client:
        assert "".join(client.stream(MESSAGES)) == "答案。"


def test_chat_ignores_reasoning_and_think_block(openai_server):
    openai_server.script(
        [Reply("答案 [1]", reasoning="想了很久"), Reply("<think>\n想\n</think>\n\n答案 [2]")]
    )
    with make_client(openai_server) as client:
        assert client.chat(MESSAGES).text == "答案 [1]"
        assert client.chat(MESSAGES).text == "答案 [2]"


def test_stream_drops_a_think_block_split_across_chunks(openai_server):
    openai_server.script([Stream(["<thi", "nk>想一", "想</th", "ink>\n答", "案"])])
    with make_client(openai_server) as client:
        assert "".join(client.stream(MESSAGES)) == "答案"


def test_stream_falls_back_when_stream_options_is_rejected(openai_server):
    rejected = Status(400, "Unrecognized request argument supplied: stream_options")
    openai_server.script([rejected, Stream(["ok"])])
    with make_client(openai_server) as client:
        assert list(client.stream(MESSAGES)) == ["ok"]
        assert client.last_usage == Usage()  # the server was not asked for usage
        assert "".join(client.stream(MESSAGES)) == openai_server.default_reply
    first, second, third = openai_server.requests
    assert "stream_options" in first.json
    assert "stream_options" not in second.json
    assert "stream_options" not in third.json  # remembered for this client


def test_429_with_retry_after_then_success(openai_server):
    openai_server.script([Status(429, retry_after=0), Reply("好")])
    with make_client(openai_server) as client:
        assert client.chat(MESSAGES).text == "好"
    assert len(openai_server.requests) == 2


def test_500_three_times_is_unavailable_after_retries(openai_server):
    openai_server.script([Status(500), Status(500), Status(500), Reply("too late")])
    with make_client(openai_server, max_retries=2) as client:
        with pytest.raises(LLMUnavailable, match="HTTP 500") as caught:
            client.chat(MESSAGES)
    assert caught.value.status_code == 500
    assert len(openai_server.requests) == 3
    assert openai_server.pending == 1


def test_connection_refused_names_the_base_url_setting():
    with FakeOpenAIServer() as server:
        url = server.url  # a port nobody listens on once stopped
    with LLMClient(url, "fake-model", max_retries=1, backoff=0.01, timeout=2) as client:
        with pytest.raises(LLMUnavailable, match="YANBAO_LLM_BASE_URL"):
            client.chat(MESSAGES)


def test_hang_past_the_timeout_is_unavailable(openai_server):
    openai_server.script([Hang(seconds=10)])
    started = time.monotonic()
    with make_client(openai_server, timeout=1) as client:
        with pytest.raises(LLMUnavailable, match="YANBAO_LLM_TIMEOUT"):
            client.chat(MESSAGES)
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("streaming", [False, True])
def test_a_trickling_server_cannot_outlast_the_deadline(openai_server, streaming):
    openai_server.script([TrickleForever(interval=0.1)])
    started = time.monotonic()
    with make_client(openai_server, timeout=1) as client:
        with pytest.raises(LLMUnavailable, match="did not finish within 1s"):
            client.chat(MESSAGES) if not streaming else list(client.stream(MESSAGES))
    assert time.monotonic() - started < 4


def test_a_slow_read_is_cut_at_the_deadline(openai_server):
    # one byte per 0.7s: each read is within the read timeout, the whole call is not
    openai_server.script([TrickleForever(interval=0.7)])
    started = time.monotonic()
    with make_client(openai_server, timeout=1) as client:
        with pytest.raises(LLMUnavailable, match="YANBAO_LLM_TIMEOUT"):
            client.chat(MESSAGES)
    assert time.monotonic() - started < 4


def test_a_stream_that_never_ends_is_cut_after_some_deltas(openai_server):
    openai_server.script([Stream(["字"] * 1000, delay=0.05)])
    received: list[str] = []
    with make_client(openai_server, timeout=1) as client:
        with pytest.raises(LLMUnavailable):
            for delta in client.stream(MESSAGES):
                received.append(delta)
    assert 0 < len(received) < 1000


@pytest.mark.parametrize(
    "garbage",
    [
        Garbage("not json"),
        Garbage('{"id": "x", "choices": []}'),
        Garbage('{"choices": [{"index": 0, "message": {"role": "assistant", "content": ""}}]}'),
        Garbage("<html>502 Bad Gateway</html>", content_type="text/html"),
    ],
)
def test_garbage_body_is_a_bad_response(openai_server, garbage):
    openai_server.script([garbage])
    with make_client(openai_server) as client:
        with pytest.raises(LLMBadResponse):
            client.chat(MESSAGES)
    assert len(openai_server.requests) == 1


def test_bad_sse_is_a_bad_response(openai_server):
    openai_server.script([Garbage("data: {broken\n\n", content_type="text/event-stream")])
    with make_client(openai_server) as client:
        with pytest.raises(LLMBadResponse, match="not JSON"):
            list(client.stream(MESSAGES))


def test_401_names_the_key_setting_but_never_the_key(openai_server):
    openai_server.script([Status(401, f"Incorrect API key provided: {KEY}")])
    with make_client(openai_server, api_key=KEY) as client:
        with pytest.raises(LLMError) as caught:
            client.chat(MESSAGES)
    assert not isinstance(caught.value, LLMUnavailable)
    assert "YANBAO_LLM_API_KEY" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY not in repr(client)
    assert len(openai_server.requests) == 1  # no retry


def test_404_model_not_found_names_the_model_setting(openai_server):
    openai_server.script([Status(404, "The model `fake-model` does not exist", error_code="model_not_found")])
    with make_client(openai_server) as client:
        with pytest.raises(LLMError, match="YANBAO_LLM_MODEL"):
            client.chat(MESSAGES)
    assert len(openai_server.requests) == 1


def test_wrong_path_names_the_base_url_setting(openai_server):
    base = openai_server.url.removesuffix("/v1")  # forgot the /v1
    with LLMClient(base, "fake-model", backoff=0.01) as client:
        with pytest.raises(LLMError, match="YANBAO_LLM_BASE_URL"):
            client.chat(MESSAGES)


def test_usage_is_logged_without_the_key(openai_server, caplog):
    openai_server.script([Reply("好", usage={"prompt_tokens": 21, "completion_tokens": 5})])
    with caplog.at_level(logging.DEBUG, logger="yanbao.llm"):
        with make_client(openai_server, api_key=KEY) as client:
            client.chat(MESSAGES)
    records = [r for r in caplog.records if r.name == "yanbao.llm" and hasattr(r, "prompt_tokens")]
    assert len(records) == 1
    record = records[0]
    assert (record.model, record.prompt_tokens, record.completion_tokens, record.attempt) == (
        "fake-model",
        21,
        5,
        1,
    )
    assert record.seconds >= 0
    assert KEY not in caplog.text
    assert all(KEY not in str(vars(r)) for r in caplog.records)


def test_on_usage_hook_counts_successes_and_failures(openai_server):
    seen: list[tuple[Usage, str]] = []
    openai_server.script([Reply("好", usage={"prompt_tokens": 2, "completion_tokens": 1}), Garbage()])
    with make_client(openai_server, on_usage=lambda usage, outcome: seen.append((usage, outcome))) as client:
        client.chat(MESSAGES)
        with pytest.raises(LLMBadResponse):
            client.chat(MESSAGES)
    assert seen == [(Usage(2, 1, 3), "ok"), (Usage(), "bad_response")]


def test_responder_answers_from_the_prompt(openai_server):
    openai_server.responder = lambda request: f"echo: {request['messages'][-1]['content']} [7]"
    with make_client(openai_server) as client:
        assert client.chat(MESSAGES).text == "echo: 豆包11月月活? [7]"
        assert "".join(client.stream(MESSAGES)) == "echo: 豆包11月月活? [7]"


def test_from_settings(openai_server):
    assert LLMClient.from_settings(load_settings(environ={})) is None
    settings = load_settings(environ=openai_server.env(api_key=KEY, timeout=3))
    client = LLMClient.from_settings(settings)
    assert client is not None
    with client:
        assert (client.model, client.timeout) == ("fake-model", 3.0)
        client.chat(MESSAGES)
    assert openai_server.last_request.headers["authorization"] == f"Bearer {KEY}"


def test_custom_transport_is_used():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"model": "m", "choices": [{"message": {"content": "hi"}}]})

    with LLMClient("http://llm.invalid/v1", "m", transport=httpx.MockTransport(handler)) as client:
        assert client.chat(MESSAGES).text == "hi"
