"""The Slack Web API calls the bot makes, with refusals reported as values instead of raised: a
listener logs what Slack said and carries on (a plain answer instead of blocks, the chat.update
path instead of streaming), and never dies on a network error."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

log = logging.getLogger("bot.slack")

NETWORK_ERROR = "network_error"


@dataclass
class Outcome:
    """A Web API call's result: the response when Slack said ok, else Slack's error code (or
    NETWORK_ERROR when the request did not get an answer)."""

    response: SlackResponse | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.response is not None

    def get(self, key: str, default: Any = None) -> Any:
        return self.response.get(key, default) if self.response is not None else default


class SlackWeb:
    def __init__(self, client: WebClient) -> None:
        self.client = client

    def call(self, method: str, *, quiet: tuple[str, ...] = (), **kwargs: Any) -> Outcome:
        """Call `method` ("chat_postMessage", …) with the None-valued arguments left out. Errors
        named in `quiet` are expected (logged at INFO), others at WARNING."""
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        name = method.replace("_", ".", 1)
        try:
            return Outcome(getattr(self.client, method)(**kwargs))
        except SlackApiError as exc:
            error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
            level = logging.INFO if error in quiet else logging.WARNING
            log.log(
                level,
                "Slack refused %s: %s",
                name,
                error,
                extra={"channel": kwargs.get("channel") or kwargs.get("channel_id"), "slack_error": error},
            )
            return Outcome(None, error)
        except Exception as exc:  # network trouble after the retries: report, never crash
            log.warning(
                "Slack %s failed: %s",
                name,
                type(exc).__name__,
                extra={"channel": kwargs.get("channel") or kwargs.get("channel_id")},
            )
            return Outcome(None, NETWORK_ERROR)

    def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        quiet: tuple[str, ...] = (),
    ) -> str | None:
        """chat.postMessage; the new message's ts, or None when Slack refused (logged)."""
        outcome = self.call(
            "chat_postMessage",
            quiet=quiet,
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            unfurl_links=False,
            unfurl_media=False,
        )
        return outcome.get("ts")

    def update(self, channel: str, ts: str, text: str, blocks: list[dict]) -> bool:
        return self.call("chat_update", channel=channel, ts=ts, text=text, blocks=blocks).ok

    def ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
    ) -> bool:
        return self.call(
            "chat_postEphemeral", channel=channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
        ).ok
