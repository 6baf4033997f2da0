"""The service takes each built-in signal type's numbers from its spec (one place)."""

from __future__ import annotations

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
