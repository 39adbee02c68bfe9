"""wheelship: a release pipeline for Python projects. Import package of the `wheelship` CLI."""

__version__ = "0.1.0"
