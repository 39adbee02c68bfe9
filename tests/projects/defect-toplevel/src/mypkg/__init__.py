"""The real package."""
