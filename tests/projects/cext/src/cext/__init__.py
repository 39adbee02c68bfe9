"""A tiny C extension: `add(a, b)`."""

from importlib.metadata import version

from cext._speedups import add

__version__ = version("wheelship-demo-cext")
__all__ = ["add"]
