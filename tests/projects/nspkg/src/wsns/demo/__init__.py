"""A package inside the namespace wsns."""


def answer() -> int:
    return 42
