"""Pure or native: decided by what the build backend produces, never by files in the tree.

A project is native when its wheel carries compiled code, which shows in the wheel's
tag. Where the backend's configuration settles it (flit-core builds only pure
wheels; maturin only native ones; hatchling, poetry-core and pdm-backend build pure
wheels unless a build hook or script is configured), that decides; otherwise one
wheel is built on this host and its tag read. A C file under ``tests/`` changes
nothing: only what the backend builds counts.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from packaging.utils import parse_wheel_filename

from pipeline.buildlog import tail
from pipeline.cleanenv import for_builds
from pipeline.errors import BuildFailed

log = logging.getLogger(__name__)


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


def by_building(root: Path, log_file: Path) -> tuple[bool, str]:
    """Build one wheel here and read its tag; the build's output goes to `log_file`, and
    the backend gets no credential. Raises `BuildFailed` with the log's end."""
    with tempfile.TemporaryDirectory(prefix="wheelship-kind-") as out:
        with log_file.open("a", encoding="utf-8") as fh:
            fh.write(f"$ python -m build --wheel {root}\n")
            fh.flush()
            result = subprocess.run([sys.executable, "-m", "build", "--wheel", "--installer", "uv", "--outdir", out,
                                     str(root)], stdout=fh, stderr=subprocess.STDOUT, env=for_builds())
        wheels = sorted(Path(out).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise BuildFailed(
                f"building one wheel of {root.name} to learn whether it is pure or native failed "
                f"(exit {result.returncode}); the end of {log_file}:\n{tail(log_file)}",
                hint="fix the build error shown (the whole output is in the log named), or set kind = \"pure\" "
                     "or \"native\" in the buildspec",
            )
        _, _, _, tags = parse_wheel_filename(wheels[0].name)
    native = any(t.platform != "any" or t.abi != "none" for t in tags)
    return native, f"the wheel its backend builds here is {wheels[0].name.split('-', 2)[-1]}"


def decide(root: Path, backend: str, pyproject: dict[str, Any], kind: str, log_file: Path) -> tuple[bool, str]:
    """(native, why) for a project: the buildspec's `kind`, else its backend's
    configuration, else one host build."""
    if kind != "auto":
        return kind == "native", f"the buildspec says kind = {kind!r}"
    settled = by_configuration(backend, pyproject, root)
    if settled is not None:
        return settled
    log.info("building one wheel of %s to see whether its backend makes a pure or a native wheel", root.name)
    return by_building(root, log_file)
