"""Reads data.json at run time."""
