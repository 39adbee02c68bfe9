__version__ = "0.9.0"  # forgotten at the last bump
