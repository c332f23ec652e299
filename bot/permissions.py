"""Who is asking, and what they may do. Re-indexing and adding reports change what every user's
answers cite, so they are for YANBAO_ADMINS (`slack:U…`, `feishu:ou_…`) and for the operator at
the terminal (`yanbao chat`, the CLI), who owns the store already."""

from __future__ import annotations

from dataclasses import dataclass

from index.settings import Settings

CONSOLE = "console"


@dataclass(frozen=True)
class Requester:
    """A person on a surface: ("slack", "U123"), ("feishu", "ou_…"), or the console operator."""

    platform: str  # "slack" | "feishu" | "console"
    user: str

    @property
    def is_operator(self) -> bool:
        return self.platform == CONSOLE

    def __str__(self) -> str:
        return f"{self.platform}:{self.user}"


OPERATOR = Requester(CONSOLE, "operator")


class NotPermitted(PermissionError):
    """`requester` asked for something only admins may do; `action` says what, for the message."""

    def __init__(self, requester: Requester, action: str) -> None:
        super().__init__(f"{requester} may not {action}: only YANBAO_ADMINS may")
        self.requester = requester
        self.action = action


def is_admin(settings: Settings, requester: Requester) -> bool:
    return requester.is_operator or settings.is_admin(requester.platform, requester.user)


def require_admin(settings: Settings, requester: Requester, action: str) -> None:
    if not is_admin(settings, requester):
        raise NotPermitted(requester, action)
