"""hashbank portal."""
