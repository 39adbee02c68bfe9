"""The store contract and its limits, which every store module imports (the package's
lookup by URL imports the stores, so they cannot import it)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

#: The most a record (plan, build record, verify or publish result) may weigh: real ones
#: are kilobytes; past this a record is refused unread.
RECORD_LIMIT = 64 << 20
#: The most a stored file may weigh when nothing says its size (a record does).
FILE_LIMIT = 16 << 30


class Store(Protocol):
    """What every artifact store does."""

    url: str

    def put_file(self, key: str, path: Path, sha256: str) -> bool:
        """Store a file; False if an object with that SHA-256 is there already."""

    def get_file(self, key: str, dest: Path, limit: int = FILE_LIMIT) -> None:
        """Write the object's bytes to `dest` (the caller checks them); an object over
        `limit` bytes is an `IntegrityError`, refused before a byte is copied."""

    def put_json(self, key: str, data: bytes) -> None:
        """Store a small record."""

    def get_json(self, key: str) -> bytes | None:
        """A small record's bytes (at most RECORD_LIMIT), or None if there is none."""

    def stored_sha256(self, key: str) -> str | None:
        """The SHA-256 the store keeps for an object, or None if it is absent."""

    def list(self, prefix: str) -> list[str]:
        """Every key below `prefix`."""
