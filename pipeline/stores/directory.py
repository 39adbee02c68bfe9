"""A store in a local folder: the default, for a laptop or a single machine."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from pipeline.errors import ObjectMissing, StoreError
from pipeline.records import sha256_of


class DirectoryStore:
    """Objects are files under `root`; every write goes through a temp file."""

    def __init__(self, root: Path) -> None:
        # resolved once: a root behind a symlink or a short name (macOS /tmp and
        # /var/folders, Windows RUNNER~1) is compared and listed as the real folder
        self.root = root.expanduser().resolve()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise StoreError(f"refusing key {key!r}: it leaves the store folder")
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

    def get_file(self, key: str, dest: Path) -> None:
        try:
            shutil.copyfile(self._path(key), dest)
        except FileNotFoundError:
            raise ObjectMissing(f"{key} is missing from {self.url}") from None

    def put_json(self, key: str, data: bytes) -> None:
        self._write(key, lambda fh: fh.write(data))

    def get_json(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def stored_sha256(self, key: str) -> str | None:
        path = self._path(key)
        return sha256_of(path) if path.is_file() else None

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        return sorted(  # keys are POSIX on every OS, as in S3
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
