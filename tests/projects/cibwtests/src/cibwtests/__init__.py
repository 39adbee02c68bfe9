"""A package tested by its cibuildwheel configuration."""


def double(x: int) -> int:
    return 2 * x
