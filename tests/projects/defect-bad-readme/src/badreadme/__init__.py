"""Fine code, broken README."""
