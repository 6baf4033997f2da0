"""Read the files inside a Qt resource file (``.rcc``), as GCompris ships its photos.

The format (Qt's ``rcc`` tool, versions 1-3): a ``qres`` header with the offsets of a
tree of 14-byte (v1) or 22-byte (v2+) nodes, a names table (UTF-16 names) and a data
table (4-byte length + bytes, zlib after a 4-byte size when the node is compressed).
Nodes compressed with zstd (flag 4) are skipped: GCompris's images are stored plain.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

_DIRECTORY, _ZLIB, _ZSTD = 2, 1, 4


def members(data: bytes) -> Iterator[tuple[str, bytes]]:
    """Yield ``(path, bytes)`` of every file in the resource, depth first."""
    magic, version, tree, table, names = struct.unpack(">4sIIII", data[:20])
    if magic != b"qres":
        raise ValueError("not a Qt resource file")
    node_size = 22 if version >= 2 else 14

    def name(offset: int) -> str:
        (length,) = struct.unpack(">H", data[names + offset : names + offset + 2])
        start = names + offset + 6  # length, then a 4-byte hash, then the name
        return data[start : start + 2 * length].decode("utf-16-be")

    stack: list[tuple[int, str]] = [(0, "")]
    while stack:
        index, prefix = stack.pop()
        at = tree + index * node_size
        name_offset, flags = struct.unpack(">IH", data[at : at + 6])
        path = f"{prefix}{name(name_offset)}" if index else ""
        if flags & _DIRECTORY:
            count, first = struct.unpack(">II", data[at + 6 : at + 14])
            base = f"{path}/" if index else ""
            stack += [(child, base) for child in reversed(range(first, first + count))]
            continue
        (offset,) = struct.unpack(">I", data[at + 10 : at + 14])
        (length,) = struct.unpack(">I", data[table + offset : table + offset + 4])
        blob = data[table + offset + 4 : table + offset + 4 + length]
        if flags & _ZSTD:
            continue
        yield path, zlib.decompress(blob[4:]) if flags & _ZLIB else blob
