"""hashbank index."""
