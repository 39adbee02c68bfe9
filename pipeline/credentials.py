"""Index credentials, found once, never shown.

Order: the index's own ``password-env`` variable, then ``TWINE_USERNAME`` /
``TWINE_PASSWORD``, then the password ``~/.pypirc`` gives for the same upload URL,
then trusted publishing (twine mints a short-lived token from
the CI's OIDC identity). Every secret found is registered so that `redact` removes
it from any text wheelship prints, logs or stores, including an index's own error
that echoes it back (pipeline.redaction).

Whatever was found is a `Credential`: a password given by the configuration
(`Credentials`), or trusted publishing (`TrustedCredentials`), which mints its token
only when the password is first read.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pipeline.errors import PublishFailed, UsageError
from pipeline.redaction import redact, register_secret
from pipeline.spec import IndexConfig

log = logging.getLogger(__name__)

#: Where trusted-publishing credentials come from, as `Credential.source` says it.
TRUSTED = "trusted publishing"


class Credential(Protocol):
    """What an upload authenticates with. `password` is read only to send it."""

    @property
    def username(self) -> str: ...

    @property
    def password(self) -> str: ...

    @property
    def source(self) -> str:
        """Where it came from, safe to print."""

    @property
    def trusted(self) -> bool:
        """Whether the index sees a trusted publisher (an index may refuse one)."""

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Credentials:
    """A username and password the configuration gives."""

    username: str
    password: str = field(repr=False)
    source: str  # where it came from, safe to print

    @property
    def trusted(self) -> bool:
        return False

    def describe(self) -> str:
        return f"{self.username} via {self.source}"


def _oidc_available() -> bool:
    return bool(os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL") and os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))


def find(index: IndexConfig) -> Credential | None:
    """The credential for an index, or None if none is configured here. Trusted
    publishing mints no token here: the first read of its password does."""
    token = os.environ.get(index.password_env)
    if token:
        register_secret(token, index.username)
        return Credentials(index.username, token, index.password_env)
    password = os.environ.get("TWINE_PASSWORD")
    if password:
        username = os.environ.get("TWINE_USERNAME") or index.username
        register_secret(password, username)
        return Credentials(username, password, "TWINE_PASSWORD")
    from pipeline import pypirc

    repository = pypirc.repositories().get(index.name)
    if repository and repository.password and pypirc.same_url(repository.index.upload_url, index.upload_url):
        return Credentials(repository.index.username, repository.password, f"{pypirc.path()} [{index.name}]")
    if _oidc_available():
        return TrustedCredentials(index)
    return None


def require(index: IndexConfig) -> Credential:
    """The credential for an index; raises `UsageError` naming the variable to set."""
    found = find(index)
    if found is None:
        from pipeline import pypirc

        raise UsageError(
            f"no credentials for index {index.name!r}: ${index.password_env} is not set",
            hint=f"set {index.password_env} to an API token for {index.upload_url}, or TWINE_PASSWORD, or a "
            f"password under [{index.name}] in {pypirc.path()}, or publish from GitHub Actions with trusted publishing "
            "(id-token: write)",
        )
    return found


def for_upload(index: IndexConfig) -> Credential:
    """`require`, with a trusted-publishing token minted now, so that a refused
    exchange fails before any upload."""
    found = require(index)
    _ = found.password
    return found


class TrustedCredentials:
    """A trusted-publishing token that lasts as long as the job: minted on first use
    and again before it expires (PyPI's live 15 minutes), each one registered for
    redaction and, on GitHub Actions, masked in the log."""

    #: Mint again after this many seconds, well inside the token's 15 minutes.
    REFRESH = 10 * 60

    def __init__(self, index: IndexConfig, *, mint: Callable[[IndexConfig], str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.username, self.source = "__token__", TRUSTED
        self._index, self._mint, self._clock = index, mint or _mint_token, clock
        self._token: str | None = None
        self._minted = 0.0
        self._lock = threading.Lock()

    @property
    def trusted(self) -> bool:
        return True

    @property
    def password(self) -> str:
        with self._lock:
            if self._token is None or self._clock() - self._minted >= self.REFRESH:
                token = self._mint(self._index)
                register_secret(token, "__token__")
                if os.environ.get("GITHUB_ACTIONS") == "true":
                    print(f"::add-mask::{token}", flush=True)  # GitHub hides it from every later line
                if self._token is not None:
                    log.info("trusted publishing: minted a fresh token for %s", self._index.name)
                self._token, self._minted = token, self._clock()
            return self._token

    def describe(self) -> str:
        return f"{self.username} via {self.source}"


def _mint_token(index: IndexConfig) -> str:
    """Exchange the CI's OIDC identity for a short-lived upload token, through twine."""
    try:
        from twine.auth import CredentialInput, Resolver

        config = {"repository": index.upload_url, "username": "__token__", "password": None}
        resolver = Resolver(config, CredentialInput("__token__", None))
        password = resolver.make_trusted_publishing_token()
    except Exception as exc:  # twine raises several kinds here
        raise PublishFailed(f"trusted publishing to {index.name} failed: {redact(str(exc))}",
                            hint="check the index's trusted publisher settings for this workflow") from None
    if not password:
        raise PublishFailed(f"trusted publishing to {index.name} gave no token")
    return str(password)
