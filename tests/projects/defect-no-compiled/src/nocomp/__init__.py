"""Pure Python, yet tagged for a platform."""
