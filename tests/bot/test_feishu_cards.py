"""Feishu rendering and parsing on their own: cards within the size limit, event payloads as Feishu
sends them, and the webhook's checks (token, signature, encryption) with the status codes they give."""

from __future__ import annotations

import json

import pytest

from bot.answer import Answer, Citation
from bot.feishu import cards
from bot.feishu.crypto import decrypt, signature
from bot.feishu.events import envelope, parse_card_action, parse_menu, parse_message, post_text
from bot.feishu.webhook import WebhookRejected, verify_request
from index.settings import Settings
from tests.fakes.feishu_api import (
    card_action_event,
    encrypt,
    mention,
    menu_event,
    message_event,
    webhook_request,
)

TOKEN = "vt-feishu-test-token"
KEY = "ek-feishu-test-encrypt-key"


def citation(n: int, text: str = "字節邊緣算力:樂鑫科技泰凌微廣和通中科創達。", **extra) -> Citation:
    fields = dict(
        n=n,
        report_id=f"r{n}",
        title=f"【山證通信】周跟蹤 第{n}篇",
        broker="山西证券",
        date="2024-12-26",
        source="/reports/000.txt",
        paragraph=n,
        text=text,
    )
    fields.update(extra)
    return Citation(**fields)


def answer(text: str = "字节边缘算力建议关注乐鑫科技[1]、泰凌微[2]。", citations=None, **extra) -> Answer:
    return Answer(
        question="字节边缘算力建议关注哪些公司？",
        answer=text,
        mode="extractive",
        found=True,
        citations=citations if citations is not None else [citation(1), citation(2)],
        **extra,
    )


def texts(card: dict) -> str:
    return json.dumps(card, ensure_ascii=False)


def panels(card: dict) -> list[dict]:
    return [e for e in card["body"]["elements"] if e.get("tag") == "collapsible_panel"]


# --- cards ----------------------------------------------------------------------------------------


def test_answer_card_has_answer_citation_panels_footer_and_buttons():
    card = cards.answer_card(answer(), conversation="feishu:oc_1:om_1")
    assert card["schema"] == "2.0" and card["config"]["update_multi"] is True
    first = card["body"]["elements"][0]
    assert first["tag"] == "markdown" and "乐鑫科技[1]" in first["content"]
    (one, two) = panels(card)
    heading = one["header"]["title"]["content"]
    assert heading.startswith("**[1]**") and "【山證通信】周跟蹤 第1篇" in heading
    assert "山西证券" in heading and "2024-12-26" in heading
    assert "樂鑫科技" in one["elements"][0]["content"] and one["elements"][0]["content"].startswith("> ")
    assert "mode: extractive" in texts(card)
    buttons = [c["elements"][0] for c in card["body"]["elements"][-1]["columns"]]
    assert [b["text"]["content"] for b in buttons] == ["👍 有用", "👎 没帮助"]
    value = buttons[0]["behaviors"][0]["value"]
    assert value["action"] == cards.FEEDBACK_ACTION and value["vote"] == "up"
    assert value["c"] == "feishu:oc_1:om_1" and value["r"] == [[1, "r1", 1], [2, "r2", 2]]


def test_llm_footer_names_the_model_and_voted_card_thanks_instead_of_buttons():
    llm_answer = Answer(
        question="q", answer="a[1]", mode="llm", found=True, citations=[citation(1)], model="qwen2.5:7b"
    )
    card = cards.answer_card(llm_answer, voted="down")
    assert "qwen2.5:7b" in texts(card) and "mode: llm" in texts(card)
    assert "已记录你的反馈 👎" in texts(card) and "behaviors" not in texts(card)


def test_not_found_card_shows_the_answer_without_citation_panels():
    text = "已索引的研报中没有找到相关内容。已检索 2 份研报：周报A（—）；周报B（—）。"
    card = cards.answer_card(
        Answer(question="q", answer=text, mode="extractive", found=False, searched=["周报A", "周报B"])
    )
    assert card["body"]["elements"][0]["content"] == text and not panels(card)
    assert json.dumps(card["body"], ensure_ascii=False).count("周报A") == 1


def test_markup_in_reports_is_shown_as_text():
    card = cards.answer_card(
        answer("看 <font color='red'>x</font> [1]", [citation(1, text="<at id=all></at> 注意")])
    )
    assert "<font color='red'>" not in card["body"]["elements"][0]["content"]
    assert "&lt;at id=all&gt;" in texts(card)


def test_huge_answers_are_trimmed_to_the_card_size_limit():
    long_paragraph = "字节跳动资本开支或超过1100亿人民币，乐鑫科技受益于边缘算力。" * 120  # ~3,800 chars
    many = [citation(n, text=long_paragraph, title="很长的研报标题" * 10) for n in range(1, 21)]
    card = cards.answer_card(answer("结论" * 3000 + "[1]", many))
    assert cards.card_bytes(card) <= cards.MAX_CARD_BYTES
    assert panels(card), "citations are kept, with shorter quotes, before they are dropped"
    assert len(json.loads(cards.card_json(card))["body"]["elements"]) >= 3


def test_reports_card_lists_newest_first_and_stays_small():
    from index.records import Report

    reports = [
        Report(id=f"r{i}", title=f"周报{i}", broker="山西证券", date=f"2024-12-{i:02d}", chunks=i)
        for i in range(1, 29)
    ]
    card = cards.reports_card(reports, limit=5)
    text = card["body"]["elements"][0]["content"]
    assert text.splitlines()[0].startswith("1. 周报28") and "另有 23 篇" in text
    assert "28 篇" in card["header"]["title"]["content"]


# --- events ---------------------------------------------------------------------------------------


def test_group_message_mentions_are_stripped_and_ids_kept():
    payload = message_event(
        None,
        "@_user_1 乐鑫科技 的观点？ @_user_2",
        chat_type="group",
        chat_id="oc_g",
        mentions=[mention(), mention("ou_other", "Li", "@_user_2")],
        root_id="om_root",
        thread_id="omt_1",
        message_id="om_2",
    )
    msg = parse_message(envelope(payload))
    assert msg.text == "乐鑫科技 的观点？"
    assert msg.mentioned_open_ids == ["ou_yanbao_bot", "ou_other"]
    assert msg.conversation == "feishu:oc_g:om_root" and msg.in_thread
    assert msg.sender_open_id == "ou_reader" and msg.event_id == payload["header"]["event_id"]


def test_post_messages_become_text():
    content = {
        "title": "请教",
        "content": [
            [
                {"tag": "at", "user_id": "@_user_1"},
                {"tag": "text", "text": " 豆包"},
                {"tag": "a", "text": "MAU", "href": "https://x"},
            ],
            [{"tag": "img", "image_key": "img_1"}],
            [{"tag": "text", "text": "是多少？"}],
        ],
    }
    # the @ run stays a placeholder until the message's mentions say whose it is
    assert post_text(content).replace("@_user_1", "").split() == ["请教", "豆包MAU", "是多少？"]
    assert post_text({"zh_cn": content}) == post_text(content)
    msg = parse_message(envelope(message_event(None, message_type="post", content=content)))
    assert msg.text == "请教\n豆包MAU\n是多少？"


def test_file_menu_and_card_action_payloads():
    msg = parse_message(
        envelope(
            message_event(
                None, message_type="file", content={"file_key": "file_v3_1", "file_name": "周报.pdf"}
            )
        )
    )
    assert (msg.file_key, msg.file_name, msg.text) == ("file_v3_1", "周报.pdf", "")
    click = parse_menu(envelope(menu_event("weekly", "ou_reader")))
    assert (click.event_key, click.open_id) == ("weekly", "ou_reader")
    action = parse_card_action(envelope(card_action_event("om_card", "oc_1", "ou_reader", {"vote": "up"})))
    assert (action.message_id, action.chat_id, action.open_id, action.value) == (
        "om_card",
        "oc_1",
        "ou_reader",
        {"vote": "up"},
    )


# --- webhook checks -------------------------------------------------------------------------------


def settings(**changes) -> Settings:
    return Settings(feishu_app_id="cli_x", feishu_app_secret="s", **changes)


class CaseInsensitive(dict):
    def __init__(self, headers: dict[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in headers.items()})

    def get(self, key, default=None):
        return super().get(key.lower(), default)


def test_encryption_round_trip_matches_the_sdk():
    assert json.loads(decrypt(encrypt('{"a": "研报"}', KEY), KEY)) == {"a": "研报"}
    # Feishu's documented example: key "test key", plaintext "hello world"
    assert decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", "test key") == "hello world"


def test_token_checks_plain_bodies():
    config = settings(feishu_verification_token=TOKEN)
    body, headers = webhook_request(message_event(None, "hi"), token=TOKEN)
    assert verify_request(CaseInsensitive(headers), body, config).payload["header"]["event_type"]
    body, headers = webhook_request(message_event(None, "hi"), token="wrong")
    with pytest.raises(WebhookRejected) as refused:
        verify_request(CaseInsensitive(headers), body, config)
    assert refused.value.status == 401
    with pytest.raises(WebhookRejected) as refused:
        verify_request(CaseInsensitive({}), b"not json", config)
    assert refused.value.status == 400


def test_signature_and_encryption_checks():
    config = settings(feishu_verification_token=TOKEN, feishu_encrypt_key=KEY)
    body, headers = webhook_request(message_event(None, "hi"), token=TOKEN, encrypt_key=KEY, encrypted=True)
    lower = CaseInsensitive({k.lower(): v for k, v in headers.items()})
    assert verify_request(lower, body, config).payload["event"]["message"]["message_type"] == "text"
    tampered = dict(headers, **{"X-Lark-Signature": signature("1", "2", KEY, body)})
    with pytest.raises(WebhookRejected) as refused:
        verify_request(CaseInsensitive(tampered), body, config)
    assert refused.value.status == 401
    unsigned = {k: v for k, v in headers.items() if not k.startswith("X-Lark")}
    with pytest.raises(WebhookRejected) as refused:
        verify_request(CaseInsensitive(unsigned), body, config)
    assert refused.value.status == 401
    wrong_key_body, wrong_key_headers = webhook_request(
        message_event(None, "hi"), token=TOKEN, encrypt_key="another-key", encrypted=True
    )
    wrong_key_headers["X-Lark-Signature"] = signature(
        wrong_key_headers["X-Lark-Request-Timestamp"],
        wrong_key_headers["X-Lark-Request-Nonce"],
        KEY,
        wrong_key_body,
    )
    with pytest.raises(WebhookRejected) as refused:
        verify_request(CaseInsensitive(wrong_key_headers), wrong_key_body, config)
    assert refused.value.status == 400 and "FEISHU_ENCRYPT_KEY" in refused.value.reason


def test_url_verification_plain_and_encrypted():
    challenge = {"type": "url_verification", "challenge": "ch-123"}
    plain = settings(feishu_verification_token=TOKEN)
    body, headers = webhook_request(challenge, token=TOKEN)
    assert verify_request(CaseInsensitive(headers), body, plain).challenge == "ch-123"
    encrypted = settings(feishu_verification_token=TOKEN, feishu_encrypt_key=KEY)
    body = json.dumps({"encrypt": encrypt(json.dumps({**challenge, "token": TOKEN}), KEY)}).encode()
    assert verify_request(CaseInsensitive({}), body, encrypted).challenge == "ch-123"
    body, headers = webhook_request(challenge, token="wrong")
    with pytest.raises(WebhookRejected):
        verify_request(CaseInsensitive(headers), body, plain)
