"""atheris harness: every parser of text a caller sends in place of an image.

Hash strings (``hashes.parse_hash``, ``hamming``, ``hex_to_bytes``, ``SignalType``), the
API's JSON body models and ``validate_hashes``, case ids and PINs as typed by a person
(``normalize_case_id``, ``normalize_pin``) and key scopes (``parse_scopes``). Each may
only refuse with its documented error, and what it accepts must be canonical (parsing
it again gives it back). Run it for a bounded time::

    .venv/bin/python tests/fuzz/fuzz_parsers.py -max_total_time=60
"""

from __future__ import annotations

import contextlib
import sys

import _common  # noqa: F401  (puts the repo on sys.path)
import atheris

with atheris.instrument_imports(
    include=[
        "hashes._signals",
        "hashes._hex",
        "hashes._registry",
        "app.services.inputs",
        "app.services.secrets",
        "app.api.schemas",
    ]
):
    import orjson
    from pydantic import ValidationError

    import hashes
    from app.api.schemas import BatchIn, HashesIn
    from app.errors import InvalidInput
    from app.services.clients import parse_scopes
    from app.services.inputs import HashInput, validate_hashes
    from app.services.secrets import normalize_case_id, normalize_pin

TYPES = ["pdq", "phash", "md5", "sha256", "PDQ", "sha1", "", "pdq\x00", "md5 "]
HEX_LEN = {"pdq": 64, "phash": 16, "md5": 32, "sha256": 64}


def _hash_strings(fdp: atheris.FuzzedDataProvider) -> None:
    kind = fdp.PickValueInList(TYPES) if fdp.ConsumeBool() else fdp.ConsumeUnicode(8)
    value = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 80))
    other = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 80))
    try:
        parsed = hashes.parse_hash(kind, value)
    except hashes.InvalidHash:
        parsed = None
    if parsed is not None:
        canonical = hashes.SignalType(kind).value
        assert len(parsed) == HEX_LEN[canonical] and parsed == parsed.lower()
        assert hashes.parse_hash(kind, parsed) == parsed
        assert hashes.hamming(parsed, parsed) == 0
        assert len(hashes.hex_to_bytes(parsed)) * 8 == hashes.bits_of(kind)
        try:
            other_parsed = hashes.parse_hash(kind, other)
        except hashes.InvalidHash:
            other_parsed = None
        if other_parsed is not None:
            d = hashes.hamming(parsed, other_parsed)
            assert d == hashes.hamming(other_parsed, parsed)
            assert 0 <= d <= hashes.bits_of(kind)
    for a, b in ((value, other), (value, value)):
        with contextlib.suppress(hashes.InvalidHash):
            hashes.hamming(a, b)
    with contextlib.suppress(hashes.InvalidHash):
        hashes.hex_to_bytes(value)
    with contextlib.suppress(ValueError):  # an unknown signal type
        hashes.is_perceptual(kind)


def _bodies(fdp: atheris.FuzzedDataProvider) -> None:
    raw = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2048))
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    for model in (HashesIn, BatchIn):
        try:
            parsed = model.model_validate(body)
        except ValidationError:
            continue
        groups = parsed.items if isinstance(parsed, BatchIn) else [parsed]
        for group in groups:
            try:
                items = validate_hashes(HashInput(h.type, h.value, h.quality) for h in group.hashes)
            except InvalidInput:
                continue
            for item in items:
                assert hashes.parse_hash(item.type, item.value) == item.value


def _typed_by_people(fdp: atheris.FuzzedDataProvider) -> None:
    text = fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 64))
    case_id = normalize_case_id(text)
    if case_id.startswith("HB-") and len(case_id) == 22:
        assert normalize_case_id(case_id) == case_id
    pin = normalize_pin(text)
    if len(pin) == 14 and pin.replace("-", "").isdigit():
        assert normalize_pin(pin) == pin
    try:
        scopes = parse_scopes(text)
    except InvalidInput:
        return
    assert scopes and parse_scopes(",".join(scopes)) == scopes


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    pick = fdp.ConsumeIntInRange(0, 2)
    (_hash_strings, _bodies, _typed_by_people)[pick](fdp)


def seeds() -> dict[str, bytes]:
    pdq = "ab" * 32
    return {
        "hashes.json": b"\x01" + orjson.dumps({"hashes": [{"type": "pdq", "value": pdq}]}),
        "batch.json": b"\x01"
        + orjson.dumps({"items": [{"hashes": [{"type": "md5", "value": "0f" * 16}]}]}),
        "quality.json": b"\x01"
        + orjson.dumps({"hashes": [{"type": "pdq", "value": pdq.upper(), "quality": 80}]}),
        "case.txt": b"\x02HB-7KQ2-9XMP-4RT6-A3QW",
        "pin.txt": b"\x024821 0937 5512",
        "scopes.txt": b"\x02check,feed",
        "hex.txt": b"\x00\x01" + pdq.encode(),
    }


def main() -> None:
    from _common import argv_with_seeds

    atheris.Setup(argv_with_seeds(sys.argv, seeds), test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
