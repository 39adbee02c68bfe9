"""Imports a module that the wheel does not ship, as real releases sometimes do."""

from importerror._generated import VALUE  # the build forgot to generate this

__all__ = ["VALUE"]
