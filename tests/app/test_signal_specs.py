"""The service takes each built-in signal type's numbers from its spec (one place)."""

from __future__ import annotations

import pytest

import hashes
from app.config import Settings
from app.index.replica import PERCEPTUAL_MAX_RADIUS
from app.services.banks import MAX_RADIUS
from app.services.checks import Thresholds
from app.services.inputs import HashInput, weakness


def test_thresholds_and_radii_come_from_the_specs() -> None:
    pdq, phash = hashes.BUILTINS.get("pdq"), hashes.BUILTINS.get("phash")
    fields = Settings.model_fields
    assert fields["pdq_threshold"].default == pdq.default_threshold == Thresholds().pdq
    assert fields["phash_threshold"].default == phash.default_threshold == Thresholds().phash
    limits = {
        name: [m.le for m in fields[f"{name}_threshold"].metadata if hasattr(m, "le")][0]
        for name in ("pdq", "phash")
    }
    perceptual = {s.name: s.max_threshold for s in hashes.BUILTINS if s.perceptual}
    assert limits == MAX_RADIUS == PERCEPTUAL_MAX_RADIUS == perceptual == {"pdq": 48, "phash": 12}


def test_the_weakness_rule_is_the_specs() -> None:
    for spec in hashes.BUILTINS:
        assert spec.bits is not None
        for value in ("0" * (spec.bits // 4), "f" * (spec.bits // 4), "0f" * (spec.bits // 8)):
            item = HashInput(spec.name, value, 90 if spec.has_quality else None)
            assert weakness(item) == spec.weakness(value)


def test_validation_index_and_search_take_the_types_from_the_specs() -> None:
    from app.index.replica import IndexReplica
    from app.index.signals import TYPES
    from app.services.dashboard import _TYPES_BY_LENGTH

    names = hashes.BUILTINS.names
    assert TYPES[1:] == names == ("pdq", "phash", "md5", "sha256")
    replica = IndexReplica(db=None)  # type: ignore[arg-type]  # never loaded here
    assert {k: i.bits for k, i in replica.perceptual.items()} == {"pdq": 256, "phash": 64}
    assert _TYPES_BY_LENGTH == {64: ("pdq", "sha256"), 16: ("phash",), 32: ("md5",)}
    for spec in hashes.BUILTINS:
        assert hashes.bits_of(spec.name) == spec.bits
        assert hashes.is_perceptual(spec.name) == spec.perceptual
    with pytest.raises(hashes.InvalidHash, match="unknown signal type 'dhash'"):
        hashes.bits_of("dhash")
