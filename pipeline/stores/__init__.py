"""Artifact stores: one contract, a directory store and an S3 store, and a lookup by URL.

A store holds objects by key and knows each object's SHA-256. It does not know
about runs; `pipeline.runs` lays runs out on top of any store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pipeline.errors import UsageError
from pipeline.stores.base import FILE_LIMIT, RECORD_LIMIT, Store

__all__ = ["FILE_LIMIT", "RECORD_LIMIT", "Store", "folder_of", "open_store"]


def folder_of(url: str) -> Path:
    """The folder a ``file:`` URL names: RFC 8089 (``file:///C:/x``, ``file:///home/x``,
    what `Path.as_uri()` makes, percent-escapes decoded) and the plain forms wheelship has
    always taken (``file://relative/path``, ``file://C:/x``)."""
    import re
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    if parts.netloc and parts.netloc not in ("localhost",) and not re.fullmatch(r"[A-Za-z]:", parts.netloc):
        return Path(unquote(parts.netloc + parts.path))  # file://relative/path: a relative folder
    path = unquote(parts.path if not re.fullmatch(r"[A-Za-z]:", parts.netloc) else parts.netloc + parts.path)
    if re.match(r"/[A-Za-z]:[/\\]", path):  # /C:/x is the drive C: on Windows
        path = path[1:]
    return Path(path or ".")


def open_store(url: str, *, endpoint_url: str | None = None, region: str | None = None, attempts: int = 10,
               addressing_style: Literal["auto", "path", "virtual"] = "auto") -> Store:
    """Open the store a URL names: ``file://PATH`` or ``s3://BUCKET/PREFIX``."""
    if url.startswith("file:"):
        from pipeline.stores.directory import DirectoryStore

        return DirectoryStore(folder_of(url))
    if url.startswith("s3://"):
        from pipeline.stores.s3 import S3Store

        return S3Store(url, endpoint_url=endpoint_url, region=region, attempts=attempts,
                       addressing_style=addressing_style)
    raise UsageError(
        f"store URL {url!r} is neither file:// nor s3://",
        hint="use file://PATH for a folder or s3://BUCKET/PREFIX for object storage",
    )
