"""Feishu's webhook security: AES-256-CBC bodies and the X-Lark-Signature header.

Feishu encrypts a pushed body as {"encrypt": base64(iv + AES-256-CBC(json))} with the key
sha256(FEISHU_ENCRYPT_KEY) and signs the raw body as sha256(timestamp + nonce + encrypt_key + body).
"""

from __future__ import annotations

import hashlib
import hmac

from lark_oapi.core.utils import AESCipher


class DecryptError(ValueError):
    """An {"encrypt": …} body that the configured FEISHU_ENCRYPT_KEY cannot open."""


def decrypt(encrypted: str, encrypt_key: str) -> str:
    """The JSON text inside an {"encrypt": …} body."""
    try:
        return AESCipher(encrypt_key).decrypt_str(encrypted)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecryptError(f"cannot decrypt the event body ({exc}): check FEISHU_ENCRYPT_KEY") from None


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


def signature_matches(timestamp: str, nonce: str, encrypt_key: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(timestamp, nonce, encrypt_key, body), given.strip().lower())
