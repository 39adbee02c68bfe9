"""A C extension built for CPython 3.11 and 3.12 only."""

from subset._native import answer

__version__ = "0.2.0"
__all__ = ["answer"]
