"""How Slack text and slash commands become questions and commands."""

from __future__ import annotations

from bot.slack.app import parse_command, slack_to_plain, trim_question


def test_mentions_and_markup_are_unwrapped():
    text = "<@UBOT> 比较 <@U123|alice> 在 <#C1|research> 提到的 <https://example.com/a?b=1|这篇> &amp; 乐鑫科技 &lt;688018&gt;"
    assert slack_to_plain(text, "UBOT") == "比较 @alice 在 #research 提到的 这篇 & 乐鑫科技 <688018>"
    assert slack_to_plain("<@UBOT>   ", "UBOT") == ""


def test_slash_commands_map_to_verbs():
    assert parse_command("/yanbao", "ask 乐鑫科技？") == ("ask", "乐鑫科技？")
    assert parse_command("/yanbao", "weekly 通信") == ("weekly", "通信")
    assert parse_command("/yanbao", "") == ("help", "")
    assert parse_command("/yanbao", "HELP") == ("help", "")
    assert parse_command("/yanbao", "乐鑫科技怎么样") == ("ask", "乐鑫科技怎么样")
    assert parse_command("/ask", " 豆包MAU ") == ("ask", "豆包MAU")
    assert parse_command("/weekly", "") == ("weekly", "")
    assert parse_command("/reindex", "") == ("reindex", "")
    assert parse_command("/reports", "") == ("reports", "")


def test_long_questions_are_trimmed_with_a_note():
    question, notes = trim_question("字" * 10_000)
    assert len(question) == 2000
    assert notes == ["Your question was 10,000 characters long; I used the first 2,000."]
    assert trim_question("短问题") == ("短问题", [])
