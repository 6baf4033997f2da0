"""Files hashbank writes that hold hash values or logs: readable by their owner only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

__all__ = ["PRIVATE_MODE", "create_private", "open_private"]

PRIVATE_MODE = 0o600


def create_private(path: str | os.PathLike[str]) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; make it 0600 if it does.

    Created with the mode from the start (``os.open``), so there is no moment when the
    file is readable by others whatever the umask.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
    finally:
        os.close(fd)


def open_private(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``open(path, mode)`` on a file that is (or is made) mode 0600 first.

    Raises:
        OSError: the file cannot be created or opened.
    """
    create_private(Path(path))
    return open(path, mode, **kwargs)  # the caller closes it
