"""A snapshot's arrays are written without numpy's own writer (which copies 16 MB at a
time holding the GIL): the files must still be exactly what ``numpy.save`` writes."""

from __future__ import annotations

import io

import numpy as np
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.index.snapshots import _Hashing, _write_npy

DTYPES = st.sampled_from([np.uint8, np.uint32, np.int64, np.uint64])


@settings(max_examples=60, deadline=None)
@given(array=hnp.arrays(DTYPES, hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=40)),
       sliced=st.booleans())  # fmt: skip
def test_written_bytes_are_numpy_save_s(array: np.ndarray, sliced: bool) -> None:
    data = array[:, ::2] if sliced and array.ndim == 2 else array  # not contiguous
    expected = io.BytesIO()
    np.save(expected, np.ascontiguousarray(data), allow_pickle=False)
    out = io.BytesIO()
    digest = xxhash.xxh3_128()
    counted = _Hashing(out, digest)
    _write_npy(counted, data)
    assert out.getvalue() == expected.getvalue()
    assert counted.count == len(expected.getvalue())
    assert digest.hexdigest() == xxhash.xxh3_128(expected.getvalue()).hexdigest()
    assert np.array_equal(np.load(io.BytesIO(out.getvalue())), data)


def test_a_big_array_is_written_in_slices() -> None:
    data = np.arange(3 * 1024 * 1024, dtype=np.uint64)  # 24 MB: three 8 MB slices
    writes: list[int] = []

    class Recording(io.BytesIO):
        def write(self, b: object) -> int:
            writes.append(len(memoryview(b)))  # type: ignore[arg-type]
            return super().write(b)  # type: ignore[arg-type]

    out = Recording()
    _write_npy(_Hashing(out, xxhash.xxh3_128()), data)
    assert max(writes) <= 8 * 1024 * 1024 and len(writes) >= 4
    assert np.array_equal(np.load(io.BytesIO(out.getvalue())), data)
