"""hashbank api."""
