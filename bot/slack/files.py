"""Fetch a file a user shared with the bot: files.info, then the private download with the bot token."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.chat import safe_file_name

# hosts the bot token may be sent to; the Web API host (SLACK_API_URL) is added at run time
SLACK_FILE_HOSTS = ("files.slack.com", "slack-files.com")


class UploadError(Exception):
    """A shared file that cannot be indexed; the message is what the user is told."""


@dataclass
class SharedFile:
    id: str
    name: str
    size: int | None
    url: str | None
    external: bool

    @property
    def extension(self) -> str:
        return Path(self.name).suffix.lower()


def file_info(client: WebClient, file_id: str) -> SharedFile:
    try:
        info: dict[str, Any] = client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        hint = (
            " (the app needs the files:read scope)"
            if error in ("missing_scope", "not_allowed_token_type")
            else ""
        )
        raise UploadError(f"Slack would not show me file {file_id}: `{error}`{hint}.") from None
    return SharedFile(
        id=str(info.get("id") or file_id),
        name=str(info.get("name") or info.get("title") or file_id),
        size=info.get("size"),
        url=info.get("url_private_download") or info.get("url_private"),
        external=bool(info.get("is_external")) or info.get("mode") == "external",
    )


def check_shareable(shared: SharedFile) -> None:
    """Refuse what Slack cannot hand over (a link to another service, no download URL) before
    downloading; the type and size rules are the command layer's (Dispatcher.upload_refusal)."""
    if shared.external:
        raise UploadError(
            f"“{shared.name}” is a link to an outside service (Google Drive, Dropbox…); "
            "upload the file itself to Slack and share it with me."
        )
    if not shared.url:
        raise UploadError(f"Slack gave no download link for “{shared.name}”.")


def token_allowed_for(url: str, api_url: str) -> bool:
    """The bot token goes only to Slack's file hosts (or the configured API host, for proxies and tests)."""
    host = (urlsplit(url).hostname or "").lower()
    api_host = (urlsplit(api_url).hostname or "").lower()
    return host == api_host or any(host == h or host.endswith("." + h) for h in SLACK_FILE_HOSTS)


def download(
    shared: SharedFile,
    *,
    token: str,
    api_url: str,
    folder: Path,
    max_upload_mb: float,
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> Path:
    """Stream the file to `folder`, stopping at the size limit; returns the saved path."""
    assert shared.url
    if not token_allowed_for(shared.url, api_url):
        raise UploadError(
            f"“{shared.name}” is hosted outside Slack ({urlsplit(shared.url).hostname}); I won't fetch it."
        )
    limit = int(max_upload_mb * 1_000_000)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{shared.id}-{safe_file_name(shared.name)}"
    partial = target.with_name(target.name + ".part")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, transport=transport) as http:
            with http.stream("GET", shared.url, headers=headers) as response:
                if response.status_code != 200:
                    raise UploadError(
                        f"Slack answered HTTP {response.status_code} when I downloaded “{shared.name}”."
                    )
                content_type = response.headers.get("content-type", "")
                if content_type.startswith("text/html") and shared.extension not in (".html", ".htm"):
                    raise UploadError(
                        f"Slack sent a sign-in page instead of “{shared.name}”: the app's token needs the "
                        "files:read scope (reinstall the app after adding it)."
                    )
                received = 0
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes():
                        received += len(chunk)
                        if received > limit:
                            raise UploadError(
                                f"“{shared.name}” is larger than the upload limit of {max_upload_mb:g} MB "
                                "(YANBAO_MAX_UPLOAD_MB)."
                            )
                        out.write(chunk)
        if received == 0:
            raise UploadError(f"“{shared.name}” is empty.")
        partial.replace(target)
        return target
    except httpx.HTTPError as exc:
        raise UploadError(f"I couldn't download “{shared.name}” from Slack: {type(exc).__name__}.") from None
    finally:
        partial.unlink(missing_ok=True)
