"""Secrets out of what yanbao prints and logs: the password inside a URL becomes ***.

YANBAO_CHROMA_URL, YANBAO_LLM_BASE_URL and YANBAO_REDIS_URL may carry a password
(`redis://:pw@host:6379/0`, `https://user:pw@chroma.internal`); settings dumps, doctor, logs and
error messages show such URLs only through these functions.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# scheme://user:password@ — the password runs to the last @ before the path
URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^\s/]*@")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ***, safe to log or print."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return mask_url_passwords(url)
    if password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    try:
        if parts.port is not None:
            host = f"{host}:{parts.port}"
    except ValueError:  # a port out of range: keep what was written after the @
        host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def mask_url_passwords(text: str) -> str:
    """`text` (a message, a traceback) with the password of every URL in it masked."""
    return URL_PASSWORD.sub(r"\1" + MASK + "@", text)
