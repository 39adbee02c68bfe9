"""Pure or native: decided by what the build backend produces, never by files in the tree.

A project is native when its wheel carries compiled code, which shows in the wheel's
tag. Where the backend's configuration settles it (flit-core builds only pure
wheels; maturin only native ones; hatchling, poetry-core and pdm-backend build pure
wheels unless a build hook or script is configured), that decides; otherwise the plan
builds the sdist and one wheel from it on this host, and the wheel's tag decides. A C
file under ``tests/`` changes nothing: only what the backend builds counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename


def by_configuration(backend: str, pyproject: dict[str, Any], root: Path) -> tuple[bool, str] | None:
    """(native, why) when the backend's configuration settles it, else None."""
    tool = pyproject.get("tool", {})
    if backend.startswith("flit_core"):
        return False, f"its build backend {backend} builds only pure-Python wheels"
    if backend.startswith("maturin"):
        return True, f"its build backend {backend} builds compiled extensions"
    if backend.startswith("hatchling"):
        wheel = tool.get("hatch", {}).get("build", {})
        hooks = [wheel.get("hooks"), wheel.get("targets", {}).get("wheel", {}).get("hooks")]
        if not any(hooks) and not (root / "hatch_build.py").is_file():
            return False, "hatchling with no build hook builds a pure-Python wheel"
    if backend.startswith("poetry.core"):
        poetry = tool.get("poetry", {})
        if not poetry.get("build") and not poetry.get("build-script"):
            return False, "poetry-core with no build script builds a pure-Python wheel"
    if backend.startswith("pdm.backend") and not (root / "pdm_build.py").is_file():
        if not tool.get("pdm", {}).get("build", {}).get("run-setuptools"):
            return False, "pdm-backend with no build hook builds a pure-Python wheel"
    return None


def of_wheel(wheel: Path) -> tuple[bool, str]:
    """(native, why) from the tag of a wheel the project's backend built on this host."""
    _, _, _, tags = parse_wheel_filename(wheel.name)
    native = any(t.platform != "any" or t.abi != "none" for t in tags)
    return native, f"the wheel its backend builds here is {wheel.name.split('-', 2)[-1]}"


def settled(backend: str, pyproject: dict[str, Any], root: Path, kind: str) -> tuple[bool, str] | None:
    """(native, why) from the buildspec's `kind`, else from the backend's configuration;
    None when only a wheel built here can tell (`of_wheel`)."""
    if kind != "auto":
        return kind == "native", f"the buildspec says kind = {kind!r}"
    return by_configuration(backend, pyproject, root)
