"""What the `yanbao` command says when something breaks: one line naming the setting or path to
check, never a traceback with a password in it.

Errors that already carry a clear message (the store cannot be reached, the state backend cannot be
opened, a lock wait gave up) are printed as they are; an unusable YANBAO_HOME is named as such; any
other error is named by its type and message. Every line goes through the same masking as the logs:
passwords in URLs and the values of secret settings become ***. YANBAO_LOG_LEVEL=DEBUG adds the
(masked) traceback.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

from bot.logs import Redactor, secret_values

# Errors whose message is already written for a person (they name the setting or path).
_CLEAR = ("StoreError", "StateError", "LockTimeout", "SettingsError", "UsageError", "ReadError", "LLMError")


def describe_failure(exc: BaseException, settings: object | None = None) -> str:
    """One line for `exc`, safe to print."""
    home = getattr(settings, "home", None)
    if isinstance(exc, OSError) and home is not None and _under(exc.filename, Path(home)):
        why = exc.strerror or type(exc).__name__
        message = (
            f"YANBAO_HOME={home}: cannot use it as yanbao's folder ({why}: {exc.filename}). "
            "Set YANBAO_HOME to a folder this user can create and write."
        )
    elif type(exc).__name__ in _CLEAR:
        message = str(exc)
    else:
        message = (
            f"unexpected error: {type(exc).__name__}: {exc} "
            "(set YANBAO_LOG_LEVEL=DEBUG to see where it happened)"
        )
    return mask(" ".join(message.split()), settings)


def masked_traceback(exc: BaseException, settings: object | None = None) -> str:
    return mask("".join(traceback.format_exception(exc)), settings)


def mask(text: str, settings: object | None = None) -> str:
    # URL passwords by pattern, secret settings by value: the logs' own masking
    return Redactor(secret_values(settings) if settings is not None else ()).text(text)


def debugging(settings: object | None = None) -> bool:
    level = getattr(settings, "log_level", None) or os.environ.get("YANBAO_LOG_LEVEL", "")
    return str(level).upper() == "DEBUG"


def _under(filename: object, home: Path) -> bool:
    if not filename:
        return False
    try:
        path = Path(os.fsdecode(filename)).expanduser()  # type: ignore[arg-type]
        return path == home or home in path.parents
    except (TypeError, ValueError):
        return False
