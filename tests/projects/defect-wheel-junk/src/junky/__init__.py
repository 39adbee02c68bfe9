"""A package with leftovers in its folder."""
