"""HashIndex: exact radius search over binary hashes.

PLACEHOLDER implementation (brute force over numpy arrays); the API is the contract:
``add(ids, hashes)``, ``remove(ids)``, ``len(index)``,
``search(queries, radius) -> list[tuple[ids, distances]]``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["HashIndex"]


class HashIndex:
    """Every stored hash within ``radius`` bits of a query, with its distance."""

    def __init__(self, bits: int = 256) -> None:
        if bits % 8:
            raise ValueError("bits must be a multiple of 8")
        self.bits = bits
        self._ids = np.zeros(0, dtype=np.int64)
        self._data = np.zeros((0, bits // 8), dtype=np.uint8)

    def __len__(self) -> int:
        return int(self._ids.shape[0])

    def add(self, ids: npt.ArrayLike, hashes: npt.ArrayLike) -> None:
        """Add hashes (uint8 array of shape (n, bits/8)) under int64 ``ids``."""
        ids_a = np.asarray(ids, dtype=np.int64).reshape(-1)
        data = np.asarray(hashes, dtype=np.uint8).reshape(-1, self.bits // 8)
        if ids_a.shape[0] != data.shape[0]:
            raise ValueError("ids and hashes differ in length")
        self._ids = np.concatenate([self._ids, ids_a])
        self._data = np.concatenate([self._data, data])

    def remove(self, ids: npt.ArrayLike) -> None:
        """Remove every stored hash whose id is in ``ids`` (unknown ids are ignored)."""
        keep = ~np.isin(self._ids, np.asarray(ids, dtype=np.int64))
        self._ids = self._ids[keep]
        self._data = self._data[keep]

    def search(
        self, queries: npt.ArrayLike, radius: int
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]]:
        """Return, per query row, (ids, distances) of every stored hash within ``radius``."""
        q = np.asarray(queries, dtype=np.uint8).reshape(-1, self.bits // 8)
        out: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]] = []
        for row in q:
            dist = np.bitwise_count(self._data ^ row).sum(axis=1, dtype=np.int32)
            hit = dist <= radius
            out.append((self._ids[hit], dist[hit]))
        return out
