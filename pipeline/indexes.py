"""A package index's configuration, and the public ones wheelship knows without being told.

The buildspec's ``[indexes.NAME]`` tables (pipeline.spec) and ``~/.pypirc``
(pipeline.pypirc) both make these; each of an index's keys is a field below.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.speckeys import is_env_name, is_str, is_url, key, required


@dataclass(frozen=True, kw_only=True)
class IndexConfig:
    """A package index: where files go, where they are listed, who may upload."""

    name: str
    upload_url: str = required("upload-url", is_url, example="https://pypi.example.com/legacy/")
    simple_url: str = required("simple-url", is_url, example="https://pypi.example.com/simple/")
    username: str = key("username", is_str, "__token__", example="release-bot")
    password_env: str = required("password-env", is_env_name, example="CORP_API_TOKEN")

    def urls(self) -> dict[str, str]:
        """The URLs a plan records beside the index's name, for display only."""
        return {"upload": self.upload_url, "simple": self.simple_url}


BUILTIN_INDEXES = {
    "pypi": IndexConfig(
        name="pypi",
        upload_url="https://upload.pypi.org/legacy/",
        simple_url="https://pypi.org/simple/",
        password_env="PYPI_API_TOKEN",
    ),
    "testpypi": IndexConfig(
        name="testpypi",
        upload_url="https://test.pypi.org/legacy/",
        simple_url="https://test.pypi.org/simple/",
        password_env="TESTPYPI_API_TOKEN",
    ),
}
