"""How Slack text becomes a question: mentions, channels, links, emoji, code and entities as Slack
sends them (the text shapes of slackapi/bolt-python's scenario payloads and Slack's message
formatting reference)."""

from __future__ import annotations

from bot.slack.markup import question_text


def names(user_id: str) -> str | None:
    return {"U0COLLEAGUE": "Alice Wang"}.get(user_id)


def test_the_bots_own_mention_is_removed_wherever_it_is():
    # bolt-python's app_mention payload: "<@W111> Hi there!" where W111 is the bot
    assert question_text("<@W111> Hi there!", "W111") == "Hi there!"
    assert question_text("光模块怎么看 <@W111>", "W111") == "光模块怎么看"
    assert question_text("<@W111|yanbao>   ", "W111") == ""


def test_other_people_are_named_or_dropped():
    assert (
        question_text("<@UBOT> <@U0COLLEAGUE> 说的乐鑫科技？", "UBOT", names) == "Alice Wang 说的乐鑫科技？"
    )
    assert question_text("<@UBOT> 问 <@U0STRANGER> 的观点", "UBOT", names) == "问 的观点"
    assert question_text("<@UBOT> ask <@U0X|bob> too", "UBOT") == "ask bob too"


def test_links_channels_and_broadcasts_are_unwrapped():
    text = (
        "<!here> <@UBOT> 比较 <#C1|research> 里 <https://example.com/a?b=1|这篇> 和 "
        "<https://example.com/x> &amp; 乐鑫科技 &lt;688018&gt; <!subteam^S1|@analysts>"
    )
    assert question_text(text, "UBOT") == (
        "比较 #research 里 这篇 和 https://example.com/x & 乐鑫科技 <688018> @analysts"
    )


def test_emoji_shortcodes_go_but_times_and_ratios_stay():
    assert (
        question_text(":chart_with_upwards_trend: 光模块 :+1::skin-tone-2: 怎么看？", None)
        == "光模块 怎么看？"
    )
    assert question_text("10:30:45 开盘 PE 15:1", None) == "10:30:45 开盘 PE 15:1"


def test_code_blocks_and_inline_code_keep_their_words():
    text = "<@UBOT> what does ```python\nEPS 2025E\n``` and `688018` say?"
    assert question_text(text, "UBOT") == "what does\nEPS 2025E\nand 688018 say?"


def test_decoded_entities_are_not_markup():
    # "&lt;@U1&gt;" is what a person typed as text: it must not turn into a mention and vanish
    assert question_text("&lt;@U1&gt; 是什么", "UBOT") == "<@U1> 是什么"
