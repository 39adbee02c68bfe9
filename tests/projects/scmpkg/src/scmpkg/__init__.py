"""A package whose version comes from its git tag."""


def answer() -> int:
    return 42
