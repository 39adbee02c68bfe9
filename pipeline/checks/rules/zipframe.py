"""PyPI's upload rules: the zipframe family (see pipeline.checks.rules)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.archives import Limits
    from pipeline.checks import Findings

RULES: tuple[tuple[str, str, str, str], ...] = ()


def check(path: Path, findings: Findings, limits: Limits) -> None:
    """No rule yet."""
