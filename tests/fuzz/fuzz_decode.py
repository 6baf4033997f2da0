"""atheris harness: the image decoder and hasher (``hashes.hash_bytes``) on any bytes.

Only ``hashes.ImageError`` may escape; a hashed image must give well-formed hashes
that every parser accepts back. Run it for a bounded time::

    .venv/bin/python tests/fuzz/fuzz_decode.py -max_total_time=60

Extra arguments go to libFuzzer (``-runs=N``, ``-jobs=N``, a corpus directory to grow).
Per input it allows 10 s and 3 GB (``-timeout``, ``-rss_limit_mb``): more is a finding.
"""

from __future__ import annotations

import sys

import _common  # noqa: F401  (puts the repo on sys.path)
import atheris

# numba-compiled modules (hashes._index and every ``*_kernels``) are left out: numba
# compiles from bytecode, which instrumentation rewrites ("hashes._pdq" would also
# take in "hashes._pdq_kernels": include names match as prefixes)
with atheris.instrument_imports(
    include=[
        "PIL",
        "hashes._decode",
        "hashes._hashes",
        "hashes._pdq",
        "hashes._trim",
        "hashes._variants",
        "hashes._signals",
        "hashes._hex",
        "hashes._registry",
    ],
    exclude=["hashes._pdq_kernels", "hashes._window_kernels", "hashes._mih_kernels"],
):
    import hashes

# small limits keep each run fast; the geometry checks scale with them
LIMITS = hashes.DecodeLimits(max_bytes=1 << 20, max_pixels=4_000_000)


def test_one_input(data: bytes) -> None:
    try:
        h = hashes.hash_bytes(data, limits=LIMITS)
    except hashes.ImageError:
        return
    assert hashes.parse_hash("pdq", h.pdq) == h.pdq
    assert hashes.parse_hash("phash", h.phash) == h.phash
    assert hashes.parse_hash("md5", h.md5) == h.md5
    assert hashes.parse_hash("sha256", h.sha256) == h.sha256
    assert 0 <= h.pdq_quality <= 100
    assert h.pdq_variants[0] == h.pdq
    assert h.width >= 16 and h.height >= 16


def seeds() -> dict[str, bytes]:
    from tests.hostile import CORPUS, base_image, encode

    img = base_image((64, 48))
    out = {
        f"valid.{fmt.lower()}": encode(
            img, fmt, **({"quality": 70} if fmt in ("JPEG", "WEBP") else {})
        )
        for fmt in ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
    }
    out["valid-grey.png"] = encode(img.convert("L"), "PNG")
    out["valid-rgba.png"] = encode(img.convert("RGBA"), "PNG")
    out["valid-progressive.jpg"] = encode(img, "JPEG", quality=70, progressive=True)
    out.update({h.name: h.data for h in CORPUS if 0 < len(h.data) <= 16_384})
    return out


def main() -> None:
    from _common import argv_with_seeds

    atheris.Setup(argv_with_seeds(sys.argv, seeds), test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
