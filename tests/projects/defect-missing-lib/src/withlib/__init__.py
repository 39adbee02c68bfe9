"""Calls into libhelper.so, which the build forgot to ship."""

import ctypes
import os

from withlib._core import ping

__all__ = ["helper", "ping"]


def helper() -> ctypes.CDLL:
    return ctypes.CDLL(os.path.join(os.path.dirname(__file__), "libhelper.so"))
