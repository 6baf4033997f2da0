"""SignalTable: what the replica knows of each indexed signal, in flat arrays.

A check needs, for each hit, the signal's type, bank, case and case status. Holding that
as a Python object per signal costs ~200 bytes each (2 GB at 10 million hashes); here it
is four numpy columns indexed by signal id (14 bytes per id), grown by doubling. A
snapshot holds the columns as they are (:meth:`SignalTable.export`); a process adopts them
memory-mapped copy-on-write (:meth:`SignalTable.adopt`), so only the pages its own changes
touch become private.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import numpy.typing as npt

import hashes

__all__ = ["SignalInfo", "SignalStatus", "SignalTable"]

# What a stored hash answers by: its case's status (``pending``, ``active``; a
# ``rejected`` or ``withdrawn`` case's hashes leave the index, and the change log says
# so), ``bank`` for a hash entered straight into a bank (its bank's policy decides), or
# ``quarantined`` (a hot hash: review, see QuarantinePolicy)
SignalStatus = Literal["pending", "active", "rejected", "withdrawn", "bank", "quarantined"]


@dataclass(frozen=True, slots=True)
class SignalInfo:
    type: str
    bank_id: int
    case_id: int | None
    status: SignalStatus


class SignalTable:
    """Signal id -> (type, bank, case, status); type code 0 means "not held".

    ``types`` are the names of the signal types it may hold (default: the built-in ones);
    each gets a one-byte code in registry order.
    """

    def __init__(self, capacity: int = 1024, types: Iterable[str] | None = None) -> None:
        self.types: tuple[str, ...] = ("", *(hashes.BUILTINS.names if types is None else types))
        if len(self.types) > 256:
            raise ValueError("at most 255 signal types")
        self._type_code = {name: code for code, name in enumerate(self.types)}
        self._type = np.zeros(capacity, dtype=np.uint8)
        self._status = np.zeros(capacity, dtype=np.uint8)
        self._bank = np.zeros(capacity, dtype=np.int32)
        self._case = np.full(capacity, -1, dtype=np.int64)
        self._statuses: list[SignalStatus] = [cast(SignalStatus, "")]  # code 0: none
        self._status_code: dict[str, int] = {"": 0}
        self._counts = np.zeros(len(self.types), dtype=np.int64)

    def _code(self, status: str) -> int:
        code = self._status_code.get(status)
        if code is None:
            code = len(self._statuses)
            if code > 255:
                raise ValueError("too many distinct statuses")
            self._statuses.append(cast(SignalStatus, status))  # the change log's own
            self._status_code[status] = code
        return code

    def _reserve(self, max_id: int) -> None:
        cap = self._type.shape[0]
        if max_id < cap:
            return
        new_cap = max(max_id + 1, 2 * cap)
        for name in ("_type", "_status", "_bank", "_case"):
            old = getattr(self, name)
            grown = np.full(new_cap, -1 if name == "_case" else 0, dtype=old.dtype)
            grown[:cap] = old
            setattr(self, name, grown)

    def held(self, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of ``ids`` the table holds."""
        inside = ids < self._type.shape[0]
        out = np.zeros(ids.shape[0], dtype=bool)
        out[inside] = self._type[ids[inside]] != 0
        return out

    def put(
        self,
        ids: npt.NDArray[np.int64],
        types: Sequence[str],
        banks: Sequence[int],
        cases: Sequence[int | None],
        statuses: Sequence[str],
    ) -> None:
        """Insert or overwrite rows (``ids`` unique; the caller updates the indexes).

        ``cases`` holds None or -1 for a signal with no case."""
        if not ids.shape[0]:
            return
        self._reserve(int(ids.max()))
        self.remove(ids)
        codes = self._codes(types, self._type_code.__getitem__)
        self._type[ids] = codes
        self._bank[ids] = np.asarray(banks, dtype=np.int32)
        case_list = cases if None not in cases else [-1 if c is None else c for c in cases]
        self._case[ids] = np.asarray(case_list, dtype=np.int64)
        self._status[ids] = self._codes(statuses, self._code)
        self._counts += np.bincount(codes, minlength=len(self.types))

    @staticmethod
    def _codes(names: Sequence[str], code_of: Callable[[str], int]) -> npt.NDArray[np.uint8]:
        """Small-integer codes of a column of names (a handful of distinct names)."""
        known = {name: code_of(name) for name in set(names)}
        return np.fromiter(map(known.__getitem__, names), dtype=np.uint8, count=len(names))

    def set_status(self, signal_id: int, status: str) -> None:
        if self.get(signal_id) is not None:
            self._status[signal_id] = self._code(status)

    def remove(self, ids: npt.NDArray[np.int64]) -> dict[str, list[int]]:
        """Forget ``ids``; return the held ones grouped by type."""
        ids = ids[ids < self._type.shape[0]]
        codes = self._type[ids]
        held = codes != 0
        ids, codes = ids[held], codes[held]
        self._type[ids] = 0
        self._counts -= np.bincount(codes, minlength=len(self.types))
        return {self.types[c]: ids[codes == c].tolist() for c in np.unique(codes).tolist()}

    def get(self, signal_id: int) -> SignalInfo | None:
        if not 0 <= signal_id < self._type.shape[0]:
            return None
        code = int(self._type[signal_id])
        if not code:
            return None
        case = int(self._case[signal_id])
        return SignalInfo(
            self.types[code],
            int(self._bank[signal_id]),
            None if case < 0 else case,
            self._statuses[int(self._status[signal_id])],
        )

    def __len__(self) -> int:
        return int(self._counts.sum())

    def counts(self) -> dict[str, int]:
        return {name: int(self._counts[code]) for code, name in enumerate(self.types) if code}

    # -- snapshots -------------------------------------------------------------------------
    COLUMNS = {"type": np.uint8, "status": np.uint8, "bank": np.int32, "case": np.int64}

    def export(self, headroom: int = 0) -> tuple[dict[str, npt.NDArray[np.generic]], list[str]]:
        """Copies of the columns up to the highest id held plus ``headroom`` free rows
        (new ids then fit without growing an adopted table), and the status names by code.
        """
        cap = self._type.shape[0]
        held = self._type[::-1] != 0
        top = cap - int(held.argmax()) if held.any() else 0
        size = top + headroom
        columns: dict[str, npt.NDArray[np.generic]] = {}
        for name, dtype in self.COLUMNS.items():
            column = np.full(size, -1 if name == "case" else 0, dtype=dtype)
            column[:top] = getattr(self, f"_{name}")[:top]
            columns[name] = column
        return columns, list(self._statuses)

    def adopt(
        self, columns: Mapping[str, npt.NDArray[np.generic]], statuses: Sequence[str]
    ) -> None:
        """Take columns from :meth:`export` (of a table of the same types) as they are:
        they are written in place (map them copy-on-write).

        Raises:
            ValueError: the columns or codes do not fit this table.
        """
        sizes = {columns[name].shape for name in self.COLUMNS}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise ValueError("the columns differ in length")
        for name, dtype in self.COLUMNS.items():
            if columns[name].dtype != dtype:
                raise ValueError(f"column {name} is {columns[name].dtype}, expected {dtype}")
        if not statuses or statuses[0] != "" or len(statuses) > 256:
            raise ValueError("bad status names")
        types = np.asarray(columns["type"], dtype=np.uint8)
        status = np.asarray(columns["status"], dtype=np.uint8)
        counts = np.bincount(types, minlength=len(self.types))
        counts[0] = 0  # free rows
        if counts.shape[0] > len(self.types) or (types.size and int(status.max()) >= len(statuses)):
            raise ValueError("a type or status code out of range")
        self._type = types
        self._status = status
        self._bank = np.asarray(columns["bank"], dtype=np.int32)
        self._case = np.asarray(columns["case"], dtype=np.int64)
        self._statuses = [cast(SignalStatus, name) for name in statuses]
        self._status_code = {name: code for code, name in enumerate(statuses)}
        self._counts = counts.astype(np.int64)

    def memory_bytes(self) -> int:
        return int(sum(a.nbytes for a in (self._type, self._status, self._bank, self._case)))
