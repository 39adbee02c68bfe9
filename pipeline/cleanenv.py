"""The environment project code runs in: this process's own, less every credential.

Build backends, test requirements, test commands and the wheels a test-install imports
are code someone else wrote. Wherever wheelship runs such code (a check asked to build,
a test-install, a test command, a rehearsed workflow's jobs) it passes this
environment: no index token, no ``TWINE_*``, no AWS keys or session, no GitHub token or
OIDC request variables, and no variable whose value is a secret wheelship has seen.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from pipeline.redaction import is_secret

#: Whole families of variables that carry credentials or the means to mint them.
CREDENTIAL_PREFIXES = ("TWINE_", "AWS_", "ACTIONS_", "WHEELSHIP_SANDBOX_", "SIGSTORE_", "PYPI_", "TESTPYPI_")
#: Single names that carry a credential without saying so in their name.
CREDENTIAL_NAMES = frozenset({"GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "WHEELSHIP_PYPIRC", "NETRC",
                              "UV_PUBLISH_TOKEN", "UV_PUBLISH_PASSWORD"})
#: Index URLs installers read: kept (builds need their mirror) unless they carry a password.
INDEX_URLS = re.compile(r"(PIP|UV)_(EXTRA_)?INDEX_URL|UV_DEFAULT_INDEX|UV_INDEX|PIP_FIND_LINKS")
#: Words in a variable's name that mark it as a credential, whatever its prefix.
CREDENTIAL_WORDS = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE.?KEY|API.?KEY|ACCESS.?KEY",
                              re.IGNORECASE)


def is_credential(name: str, value: str) -> bool:
    """Whether a variable carries a credential: by its name, or because its value is one."""
    upper = name.upper()
    if INDEX_URLS.fullmatch(upper):
        return is_secret(value) or any(urlsplit(url).password for url in value.split())
    return (upper.startswith(CREDENTIAL_PREFIXES) or upper in CREDENTIAL_NAMES
            or bool(CREDENTIAL_WORDS.search(upper)) or is_secret(value))


def without_credentials(env: Mapping[str, str] | None = None, *, also: Iterable[str] = ()) -> dict[str, str]:
    """`env` (default: this process's) less every credential, and less the names in
    `also` (the configured indexes' token variables, whatever they are called)."""
    source = os.environ if env is None else env
    dropped = {name.upper() for name in also}
    return {name: value for name, value in source.items()
            if name.upper() not in dropped and not is_credential(name, value)}


def for_builds() -> dict[str, str]:
    """The environment a build tool runs in: no credentials, and Python's UTF-8 mode on,
    so what the backend, maturin or a compiler driver prints reaches the log as UTF-8
    on every runner (a Windows runner's code page, cp1252, cannot hold it)."""
    return {**without_credentials(), "PYTHONUTF8": "1"}
