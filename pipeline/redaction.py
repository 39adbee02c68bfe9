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


def redact(text: str, *, cut: bool = False) -> str:
    """`text` with every registered secret replaced by ``***``.

    Mask a whole text before cutting it (`shorten` does both): a cut made first can
    leave the start of a secret, which no longer matches. For a text that was cut
    before it came here (an answer read only up to a cap), pass `cut`: a tail that
    begins a secret (4 characters or more) is replaced too."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "***")
    if cut:  # the longest tail that starts a secret: "pypi-" + "AgEIcHlw" ends with a base64 form's start too
        tail = max((n for secret in known for n in range(4, len(secret)) if text.endswith(secret[:n])), default=0)
        text = text[:len(text) - tail] + "***" if tail else text
    return text


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters of `text`, its secrets masked before the cut."""
    return redact(text)[:limit]
