"""A store in a local folder: the default, for a laptop or a single machine."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import IntegrityError, ObjectMissing, StoreError
from pipeline.records import sha256_of
from pipeline.stores.base import FILE_LIMIT, RECORD_LIMIT

PLAIN = "a store holds plain files its records name; someone changed it. Nothing was written or uploaded"


class DirectoryStore:
    """Objects are files under `root`; every write goes through a temp file."""

    def __init__(self, root: Path) -> None:
        # resolved once: a root behind a symlink or a short name (macOS /tmp and
        # /var/folders, Windows RUNNER~1) is compared and listed as the real folder
        self.root = root.expanduser().resolve()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        try:
            path = (self.root / key).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name the OS refuses
            raise IntegrityError(f"{key} in {self.url} cannot be opened: {exc}", hint=PLAIN) from None
        if not path.is_relative_to(self.root):
            raise StoreError(f"refusing key {key!r}: it leaves the store folder")
        return path

    def _regular(self, key: str, limit: int) -> Path | None:
        """The object's file, if it is there: a regular file of at most `limit` bytes, never
        a FIFO (reading one waits forever), a folder or a device; None when absent."""
        path = self._path(key)
        try:
            facts = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IntegrityError(f"{key} in {self.url} cannot be read: {exc.strerror}", hint=PLAIN) from None
        if not stat.S_ISREG(facts.st_mode):
            raise IntegrityError(f"{key} in {self.url} is not a plain file", hint=PLAIN)
        if facts.st_size > limit:
            raise IntegrityError(f"{key} in {self.url} holds {facts.st_size} bytes, more than the {limit} it may",
                                 hint=PLAIN)
        return path

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        except OSError as exc:
            raise StoreError(f"cannot write to store folder {self.root}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fill(fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path, sha256: str) -> bool:
        if self.stored_sha256(key) == sha256:
            return False
        with path.open("rb") as src:
            self._write(key, lambda fh: shutil.copyfileobj(src, fh, 1 << 20))
        return True

    def get_file(self, key: str, dest: Path, limit: int = FILE_LIMIT) -> None:
        path = self._regular(key, limit)
        if path is None:
            raise ObjectMissing(f"{key} is missing from {self.url}")
        try:
            shutil.copyfile(path, dest)
        except FileNotFoundError:
            raise ObjectMissing(f"{key} is missing from {self.url}") from None

    def put_json(self, key: str, data: bytes) -> None:
        self._write(key, lambda fh: fh.write(data))

    def get_json(self, key: str) -> bytes | None:
        path = self._regular(key, RECORD_LIMIT)
        try:
            return None if path is None else path.read_bytes()
        except FileNotFoundError:
            return None

    def stored_sha256(self, key: str) -> str | None:
        path = self._path(key)
        return sha256_of(path) if path.is_file() and stat.S_ISREG(path.stat().st_mode) else None

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(  # keys are POSIX on every OS, as in S3
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
