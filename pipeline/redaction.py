"""Secrets wheelship has seen, and `redact`, which hides them in any text.

A leaf module: credentials, .pypirc reading and the CLI edge all register and
redact through it without importing each other.
"""

from __future__ import annotations

import base64
import threading
from urllib.parse import quote

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str, username: str | None = None) -> None:
    """Remember a secret and its common encodings (URL-quoted, base64, and the
    HTTP Basic header it travels in) so `redact` can hide each of them."""
    if len(value) < 4:
        return
    forms = {value, quote(value, safe=""), base64.b64encode(value.encode()).decode()}
    if username is not None:
        forms.add(base64.b64encode(f"{username}:{value}".encode()).decode())
    with _lock:
        _secrets.update(forms)


def is_secret(value: str) -> bool:
    """Whether `value` is (or holds) a secret wheelship has registered."""
    if len(value) < 4:
        return False
    with _lock:
        known = list(_secrets)
    return any(secret in value for secret in known)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by ``***``."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "***")
    return text
