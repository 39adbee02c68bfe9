"""Asking git about a checkout: one helper for every question wheelship asks."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(folder: Path, *args: str, timeout: float = 30) -> str | None:
    """git's answer in `folder`, stripped; None when git is missing, fails, or says nothing."""
    try:
        out = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
