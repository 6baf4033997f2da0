"""hashbank storage: the only package that imports SQLAlchemy.

The names other layers need of it are here: :class:`Session`, the type a repository
wraps and a service holds inside ``Database.read()`` / ``Database.write()``; and
:class:`DatabaseError`, what a statement raises when the database fails, with
:func:`is_unavailable` telling an unreachable database (answered 503) from a bug.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError as DatabaseError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

__all__ = ["DatabaseError", "Session", "is_unavailable"]


def is_unavailable(exc: DatabaseError) -> bool:
    """Whether ``exc`` means the database cannot be reached (a dropped connection, a
    server refusing or shutting down), rather than a wrong statement."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError)
