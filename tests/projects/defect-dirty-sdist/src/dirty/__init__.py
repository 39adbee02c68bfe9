"""A package whose sdist carries everything lying around."""
