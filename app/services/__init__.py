"""hashbank services."""
