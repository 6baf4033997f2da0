"""hashbank storage."""
