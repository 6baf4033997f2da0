"""atheris fuzz harnesses (run for a bounded time; see docs/security.md)."""
