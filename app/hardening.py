"""Keep image bytes out of core dumps: no core file, and a process nobody may dump.

Uploaded images live in this process's memory while they are hashed (and, freed, in the
allocator's reused heap: ``app.allocator``). A crash of a native decoder on a hostile file
would write all of it to a core file, and a dumpable process can be read by anyone able to
attach a debugger as the same user. Each process (``hashbank serve`` before uvicorn starts,
and every worker at startup: spawned workers start dumpable again) therefore sets:

- ``PR_SET_DUMPABLE`` to 0: the kernel dumps no core at all, to a file or to a
  ``core_pattern`` pipe such as systemd-coredump (unless ``fs.suid_dumpable`` is 2: then
  a root-only dump), ``ptrace`` attach and ``/proc/<pid>/mem`` need CAP_SYS_PTRACE, and
  the process's ``/proc/<pid>`` files are owned by root;
- ``RLIMIT_CORE`` to 0 (soft and hard, so nothing in the process raises it again): no
  core file, and systemd-coredump keeps nothing for a process whose limit is 0.

Side effect: debuggers and profilers (gdb, py-spy) attach only as root. Elsewhere than
Linux ``PR_SET_DUMPABLE`` is skipped; the core limit applies wherever ``resource`` exists.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import resource
import sys
from collections.abc import Callable

__all__ = ["core_limit", "dumpable", "harden", "libc_prctl"]

log = logging.getLogger(__name__)

_PR_SET_DUMPABLE = 4  # <linux/prctl.h>
_PR_GET_DUMPABLE = 3


def libc_prctl() -> Callable[..., int] | None:
    """The C library's ``prctl(2)`` (errno kept), or None where there is none (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        prctl = ctypes.CDLL(name, use_errno=True).prctl
    except (OSError, AttributeError, TypeError):
        return None
    prctl.restype = ctypes.c_int
    return prctl


def harden() -> bool:
    """Forbid core dumps of this process; True when both settings took effect."""
    ok = True
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        ok = False
    prctl = libc_prctl()
    if prctl is None or prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        ok = False
    if not ok:
        log.warning("could not forbid core dumps: image bytes could reach a core file")
    return ok


def dumpable() -> bool | None:
    """Whether this process may be dumped (None where it cannot be told)."""
    prctl = libc_prctl()
    if prctl is None:
        return None
    return bool(prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0))


def core_limit() -> tuple[int, int]:
    """This process's (soft, hard) core file size limit in bytes."""
    return resource.getrlimit(resource.RLIMIT_CORE)
