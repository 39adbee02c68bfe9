"""`python -m pipeline` is `wheelship`."""

from pipeline.cli import run

run()
