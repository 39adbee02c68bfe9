"""Repositories from ``~/.pypirc``, read the way twine reads them.

Each repository named in ``[distutils] index-servers`` (``pypi testpypi`` when that
section is absent) becomes an index wheelship can route to or name with
``--index``. A ``.pypirc`` has no simple-API URL: ``pypi`` and ``testpypi`` keep
their public ones, and any other repository is listed at its upload URL plus
``simple/``, where pypiserver, Nexus, Artifactory, GitLab and CodeArtifact serve
it; a buildspec's ``[indexes.NAME] simple-url`` overrides that.

A repository's password is a credential: it is used only for the upload URL it is
written next to, stays in memory, and is registered for redaction when read.
``WHEELSHIP_PYPIRC`` names another file.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.indexes import BUILTIN_INDEXES, IndexConfig
from pipeline.redaction import register_secret


@dataclass(frozen=True)
class Repository:
    index: IndexConfig  # its password-env variable, when set, wins over the file's password
    password: str | None = field(default=None, repr=False)


def path() -> Path:
    return Path(os.environ.get("WHEELSHIP_PYPIRC") or Path.home() / ".pypirc")


def token_variable(name: str) -> str:
    """The variable holding a repository's token: ``PYPI_API_TOKEN``, ``CORP_API_TOKEN``."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_API_TOKEN"


def same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def repositories(file: Path | None = None) -> dict[str, Repository]:
    """The repositories a ``.pypirc`` defines; none when there is no file."""
    file = file or path()
    parser = configparser.RawConfigParser()  # no interpolation: a token may hold '%'
    try:
        with file.open(encoding="utf-8") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        return {}
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        raise UsageError(f"{file} cannot be read: {' '.join(str(exc).split())}",
                         hint="fix the file (https://packaging.python.org/specifications/pypirc/), "
                              "or point WHEELSHIP_PYPIRC at another one") from None
    found: dict[str, Repository] = {}
    for name in parser.get("distutils", "index-servers", fallback="pypi testpypi").split():
        section = {k: v.strip() for k, v in parser.items(name) if v.strip()} if parser.has_section(name) else {}
        public = BUILTIN_INDEXES.get(name)
        url = section.get("repository") or (public.upload_url if public else None)
        if url is None:
            raise UsageError(f"{file}: repository {name!r} is listed in index-servers but has no repository URL",
                             hint=f"add `repository = https://...` under [{name}], or drop it from index-servers")
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"{file}: [{name}] repository = {url!r} is not an http:// or https:// URL",
                             hint="write the index's upload URL there")
        simple = public.simple_url if public and same_url(url, public.upload_url) else url.rstrip("/") + "/simple/"
        username, password = section.get("username", "__token__"), section.get("password")
        if password:
            register_secret(password, username)
        index = IndexConfig(name=name, upload_url=url, simple_url=simple, username=username,
                            password_env=public.password_env if public else token_variable(name))
        found[name] = Repository(index, password)
    return found
