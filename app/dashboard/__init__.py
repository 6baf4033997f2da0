"""hashbank dashboard."""
