"""The traffic simulator: a realistic working day driven through the system's public interfaces."""
