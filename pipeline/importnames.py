"""The names a distribution puts on the import path, read from its own files.

Not from the source tree: a folder in the repository that the wheel leaves out is not
an import name, and a package inside a namespace (``jaraco/functools/``, no
``jaraco/__init__.py``) is imported as ``jaraco.functools``, since importing the empty
namespace proves nothing. Declared names win: PEP 794 ``Import-Name`` metadata, else
the buildspec's ``import-names``.

This module is self-contained (standard library only, Python 3.8 and later): wheelship
runs it on a wheel's file list when it test-installs, and the same source runs inside
cibuildwheel's test environment on the installed distribution (`smoke_command`), so a
wheel is imported by the same names wherever it is tested.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Callable, Iterable

#: Top-level folders shipped for tests, whose imports need test requirements: not imported.
SKIPPED = ("tests", "test", "testing")
NAMESPACE_MARKS = ("extend_path", "declare_namespace")


def _module(filename: str) -> str | None:
    """The module a file is, or None (``x.py``, ``x.cpython-312-x86_64-linux-gnu.so``, ``x.pyd``)."""
    for suffix in (".py", ".so", ".pyd"):
        if filename.endswith(suffix):
            name = filename.split(".")[0]
            return name if name.isidentifier() else None
    return None


def import_names(paths: Iterable[str], read: Callable[[str], str] | None = None) -> tuple[str, ...]:
    """Import names from installed paths ('/'-separated, relative to site-packages).
    `read(path)` gives an ``__init__.py``'s text, to tell a pkgutil or pkg_resources
    namespace; without it every ``__init__.py`` makes a package."""
    paths = [p for p in paths if ".." not in p.split("/") and not p.split("/")[0].endswith((".dist-info", ".data"))]
    found: set[str] = set()

    def visit(prefix: str, folder: str) -> None:
        inside = [p[len(folder) + 1:] for p in paths if p.startswith(folder + "/")]
        init = folder + "/__init__.py"
        text = read(init) if read is not None and init in paths else ""
        if init in paths and not any(mark in text for mark in NAMESPACE_MARKS):
            found.add(prefix)
            return
        # A namespace: the packages in it, each folder once. Its loose modules are not
        # imported one by one (googleapis-common-protos ships `google/longrunning/
        # operations_grpc.py`, which needs the optional grpcio).
        for first in sorted({rest.split("/")[0] for rest in inside if "/" in rest}):
            if first.isidentifier() and first != "__pycache__":
                visit(prefix + "." + first, folder + "/" + first)

    for top in sorted({p.split("/")[0] for p in paths}):
        if any(p.startswith(top + "/") for p in paths):
            if top.isidentifier() and top not in SKIPPED and top != "__pycache__":
                before = len(found)
                visit(top, top)
                if len(found) == before:  # a namespace of modules only: importing it proves it is there
                    found.add(top)
        elif (module := _module(top)) is not None and module not in SKIPPED:
            found.add(module)
    return tuple(sorted(found))


def installed(distribution: str) -> tuple[str, ...]:
    """The import names of an installed distribution: its Import-Name metadata, else its files."""
    import importlib.metadata

    dist = importlib.metadata.distribution(distribution)
    declared = [n.split(";")[0].strip() for n in dist.metadata.get_all("Import-Name") or []]
    if declared:
        return tuple(n for n in declared if n)
    paths = [str(f).replace("\\", "/") for f in dist.files or ()]

    def read(path: str) -> str:
        try:
            with open(str(dist.locate_file(path)), encoding="utf-8", errors="replace") as fh:
                return fh.read()
        except OSError:
            return ""

    return import_names(paths, read)


def main(argv: list[str]) -> int:
    """``DIST [NAME...]``: import the names given, else the distribution's own; exit 1 on a failure."""
    import importlib

    names = argv[1:] or installed(argv[0])
    failed = 0
    for name in names:
        try:
            importlib.import_module(name)
            print("import " + name + ": ok")
        except BaseException as exc:  # an import can raise anything, SystemExit included
            failed += 1
            print("import " + name + " failed: " + type(exc).__name__ + ": " + str(exc))
    if not names:
        print("no import name found in " + argv[0] + "'s files")
    return 1 if failed or not names else 0


def smoke_command(distribution: str, declared: tuple[str, ...] = ()) -> str:
    """The test command cibuildwheel runs where the project sets none: this module,
    carried inline (compressed, in base64, so no shell quotes it and Windows' 8191-character
    command line holds it), importing the wheel's names."""
    import zlib

    with open(__file__, "rb") as fh:
        encoded = base64.b64encode(zlib.compress(fh.read(), 9)).decode()
    code = f"import base64,zlib;exec(zlib.decompress(base64.b64decode('{encoded}')))"
    return " ".join([f'python -c "{code}"', distribution, *declared])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
