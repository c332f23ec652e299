"""Slack message text → the question as the person meant it.

Slack sends mrkdwn with its own markup: `<@U123>` mentions (the bot's own among them), `<#C1|name>`
channels, `<!here>`, `<https://…|label>` links, `:emoji:` shortcodes, ```code``` and `inline code`,
and `&amp;`/`&lt;`/`&gt;` for the three characters it reserves. None of it is a word a research note
contains, so it is unwrapped or removed before the question is searched.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL = re.compile(r"<#[CG][A-Z0-9]+(?:\|([^>]*))?>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_SUBTEAM = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]*))?>")
# a shortcode: letters, digits, _ + - ' between colons, not glued to a word or number before it
# ("10:30:45" is a time); a skin tone follows as a second shortcode (":+1::skin-tone-2:")
_EMOJI = re.compile(r"(?<![\w:]):[a-z0-9_+'\-]+:(?::skin-tone-\d:)?(?![\w])")
_FENCE = re.compile(r"```(?:[a-zA-Z0-9_+-]*\n)?(.*?)```", re.S)
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_SPACES = re.compile(r"[ \t\u3000\u00a0]+")

UserName = Callable[[str], "str | None"]


def question_text(text: str, bot_user_id: str | None, user_name: UserName | None = None) -> str:
    """The question in `text`: the bot's own mention removed, other people's mentions replaced by
    their name (`user_name(id)`, e.g. from users.info) or dropped, links by their label, emoji,
    code fences and Slack's entities unwrapped."""

    def user(match: re.Match[str]) -> str:
        user_id, label = match.group(1), match.group(2)
        if user_id == bot_user_id:
            return " "
        name = label or (user_name(user_id) if user_name else None)
        return f" {name} " if name else " "

    text = _USER.sub(user, text or "")
    text = _CHANNEL.sub(lambda m: f" #{m.group(1)} " if m.group(1) else " ", text)
    text = _SPECIAL.sub(" ", text)
    text = _SUBTEAM.sub(lambda m: f" {m.group(1)} " if m.group(1) else " ", text)
    text = _DATE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _FENCE.sub(lambda m: "\n" + m.group(1).strip() + "\n", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _EMOJI.sub(" ", text)
    # entities last: a decoded "&lt;@U1&gt;" is text the person typed, not a mention
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line).strip()
