"""Who the bot is on Slack (auth.test), learned in the background so that start-up never blocks on
the network: the HTTP server answers /healthz at once (503 until Slack has answered), events are
acknowledged meanwhile, and the log says what is wrong and which setting to check, then retries.

Bolt checks the token itself at start-up by default (auth.test in App()); behind a firewall that
hangs for a minute and ends in a traceback, and a proxy answering 404 becomes "token is invalid".
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from index.settings import Settings

log = logging.getLogger("bot.slack")

RETRY_SECONDS = (1, 2, 5, 10, 30, 60)
_QUIET = logging.getLogger("bot.slack.identity.sdk")
_QUIET.disabled = True
BAD_TOKEN = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"})


def explain(exc: BaseException, api_url: str) -> str:
    """What an auth.test failure means for the person running the bot, with the setting to check."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if status == 200 and error in BAD_TOKEN:
            return (
                f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-…) from "
                "your app's OAuth & Permissions page, reinstall the app if it was revoked, and restart."
            )
        if status != 200:
            return (
                f"{api_url}auth.test answered HTTP {status}, not Slack's API: check SLACK_API_URL "
                "and any proxy or egress filter between the bot and slack.com (HTTPS_PROXY)."
            )
        return f"Slack's auth.test failed ({error}); check SLACK_BOT_TOKEN and SLACK_API_URL."
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return (
        f"cannot reach Slack at {api_url} ({reason}): check the network, DNS and HTTPS_PROXY, "
        "and SLACK_API_URL if Slack is reached through a gateway."
    )


class SlackIdentity:
    """The bot's user id, bot id and team from auth.test, retried with backoff until Slack answers."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: int = 10,
        retry_seconds: tuple[float, ...] = RETRY_SECONDS,
    ) -> None:
        self.api_url = settings.slack_api_url
        # its own client: short timeout and no retry handlers, so one attempt is one short wait
        self._client = WebClient(
            token=settings.slack_bot_token,
            base_url=settings.slack_api_url,
            timeout=timeout,
            logger=_QUIET,  # each failure is explained once below, not logged by the SDK every try
        )
        self._retry_seconds = retry_seconds
        self.bot_user_id: str | None = None
        self.bot_id: str | None = None
        self.team_id: str | None = None
        self.problem: str | None = "not checked yet"
        self.attempts = 0
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> SlackIdentity:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="yanbao-slack-identity", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """One auth.test; True when Slack answered and the identity is known."""
        self.attempts += 1
        try:
            response = self._client.auth_test()
        except Exception as exc:
            problem = explain(exc, self.api_url)
            if problem != self.problem:
                log.error("Slack is not reachable yet: %s", problem, extra={"attempt": self.attempts})
            else:
                log.info("Slack still not reachable", extra={"attempt": self.attempts})
            self.problem = problem
            return False
        self.bot_user_id = response.get("user_id")
        self.bot_id = response.get("bot_id")
        self.team_id = response.get("team_id")
        self.problem = None
        self.ready.set()
        log.info(
            "connected to Slack",
            extra={"team": response.get("team"), "bot_user_id": self.bot_user_id, "attempt": self.attempts},
        )
        return True

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set() and not self.check():
            wait = self._retry_seconds[min(failures, len(self._retry_seconds) - 1)]
            failures += 1
            self._stop.wait(wait)

    def health(self) -> dict[str, Any]:
        return {"slack_api": True if self.ready.is_set() else False, "slack_problem": self.problem}
