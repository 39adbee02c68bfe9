"""Unpacking an sdist safely on every Python wheelship supports.

``tarfile``'s ``filter="data"`` (no absolute paths, no escaping the folder, no device
files, no links out) arrived in 3.11.4; Debian 12's python3 is 3.11.2. There the same
rules are checked here before anything is written.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from pipeline.errors import IntegrityError


def extract(archive: Path, dest: Path) -> None:
    """Unpack a tar archive into `dest`; raises `IntegrityError` for a member that would
    land outside it, a link that points outside it, or a device file."""
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            try:
                tar.extractall(dest, filter="data")
            except tarfile.FilterError as exc:
                raise IntegrityError(f"{archive.name} holds an unsafe member: {exc}",
                                     hint="an sdist holds plain files and folders inside one top-level folder") from None
            return
        root = os.path.realpath(dest)
        for member in tar.getmembers():
            target = os.path.realpath(os.path.join(root, member.name))
            linked = os.path.realpath(os.path.join(os.path.dirname(target), member.linkname)) \
                if member.issym() or member.islnk() else target
            inside = all(p == root or p.startswith(root + os.sep) for p in (target, linked))
            if not inside or member.isdev() or os.path.isabs(member.name):
                raise IntegrityError(f"{archive.name} holds an unsafe member: {member.name}",
                                     hint="an sdist holds plain files and folders inside one top-level folder")
            # As the data filter does: the files belong to whoever unpacks them (as root, tar would
            # give them the packer's uid, and git then calls the folder "dubious"), no special bits.
            member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
            member.mode = (member.mode & 0o777) | (0o700 if member.isdir() else 0o600)
        tar.extractall(dest)  # every member was checked above
