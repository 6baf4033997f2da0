"""The service takes each signal type's numbers from its spec in the registry (one place):
the built-in ones, and a type the registry was given beside them."""

from __future__ import annotations

import pytest

import hashes
from app.config import Settings
from app.errors import InvalidInput
from app.index.replica import IndexReplica
from app.services.banks import check_thresholds
from app.services.checks import Thresholds
from app.services.inputs import HashInput, validate_hashes, weakness
from app.services.signal_types import load_signal_types
from app.services.views import types_by_length

DHASH = hashes.SignalSpec(
    name="dhash", bits=64, perceptual=True, default_threshold=10, max_threshold=16
)
WITH_DHASH = hashes.SignalRegistry([*hashes.BUILTIN_SPECS, DHASH])


def test_thresholds_and_radii_come_from_the_specs() -> None:
    pdq, phash = hashes.BUILTINS.get("pdq"), hashes.BUILTINS.get("phash")
    fields = Settings.model_fields
    defaults = Thresholds()
    assert fields["pdq_threshold"].default == pdq.default_threshold == defaults.default("pdq")
    assert fields["phash_threshold"].default == phash.default_threshold
    assert defaults.default("phash") == phash.default_threshold
    assert defaults.default("md5") == defaults.default("sha256") == 0
    limits = {
        name: [m.le for m in fields[f"{name}_threshold"].metadata if hasattr(m, "le")][0]
        for name in ("pdq", "phash")
    }
    replica = IndexReplica(db=None)  # type: ignore[arg-type]  # never loaded here
    perceptual = {s.name: s.max_threshold for s in hashes.BUILTINS if s.perceptual}
    assert limits == {"pdq": 48, "phash": 12}
    # vpdq's threshold is its frame distance (vPDQ's 31, at most PDQ's 48)
    assert replica.max_radius == perceptual == {"pdq": 48, "phash": 12, "vpdq": 48}
    assert defaults.default("vpdq") == 31 and defaults.default("video_md5") == 0
    # settings override the built-in defaults; a plug-in's default is its spec's
    ours = Thresholds(WITH_DHASH, {"pdq": 20})
    assert (ours.default("pdq"), ours.default("phash"), ours.default("dhash")) == (20, 8, 10)


def test_the_weakness_rule_is_the_specs() -> None:
    for spec in WITH_DHASH:
        if spec.bits is None:  # vpdq: its own rule (tests/hashes/test_vpdq_values.py)
            continue
        for value in ("0" * (spec.bits // 4), "f" * (spec.bits // 4), "0f" * (spec.bits // 8)):
            item = HashInput(spec.name, value, 90 if spec.has_quality else None)
            assert weakness(item, types=WITH_DHASH) == spec.weakness(value)


def test_validation_index_and_search_take_the_types_from_the_registry() -> None:
    replica = IndexReplica(db=None)  # type: ignore[arg-type]  # never loaded here
    assert replica.signals.types[1:] == hashes.BUILTINS.names
    assert hashes.BUILTINS.names == (
        "pdq",
        "phash",
        "md5",
        "sha256",
        "video_md5",
        "video_sha256",
        "vpdq",
    )
    # vpdq's frames have an index of their own (replica.videos), not one of these
    assert {k: i.bits for k, i in replica.perceptual.items()} == {"pdq": 256, "phash": 64}
    assert replica.video_types == {"vpdq"}
    assert types_by_length(hashes.BUILTINS) == {
        64: ("pdq", "sha256", "video_sha256"),
        16: ("phash",),
        32: ("md5", "video_md5"),
    }
    for spec in hashes.BUILTINS:
        if spec.bits is None:
            continue
        assert hashes.bits_of(spec.name) == spec.bits
        assert hashes.is_perceptual(spec.name) == spec.perceptual
    with pytest.raises(hashes.InvalidHash, match="unknown signal type 'dhash'"):
        hashes.bits_of("dhash")

    # a registry with one more type: its own index, code, search length and validation
    replica = IndexReplica(db=None, types=WITH_DHASH)  # type: ignore[arg-type]
    assert replica.signals.types[-1] == "dhash"
    assert replica.perceptual["dhash"].bits == 64 and replica.max_radius["dhash"] == 16
    assert types_by_length(WITH_DHASH)[16] == ("phash", "dhash")
    (item,) = validate_hashes([HashInput("dhash", " " + "AB" * 8)], WITH_DHASH)
    assert item == HashInput("dhash", "ab" * 8)
    with pytest.raises(InvalidInput, match="unknown signal type 'dhash'"):
        validate_hashes([HashInput("dhash", "ab" * 8)])  # not enabled: the built-ins alone
    assert check_thresholds(WITH_DHASH, {"dhash": 16}) == {"dhash": 16}
    with pytest.raises(InvalidInput, match="between 0 and 16"):
        check_thresholds(WITH_DHASH, {"dhash": 17})
    with pytest.raises(InvalidInput, match="perceptual"):
        check_thresholds(WITH_DHASH, {"md5": 1})


def test_enabled_types_are_limited_and_unknown_names_stop_start_up() -> None:
    types = load_signal_types(Settings(signal_types=" pdq, md5 "))
    assert types.names == ("pdq", "md5")
    with pytest.raises(hashes.SignalSpecError, match="unknown signal type.*dhash"):
        load_signal_types(Settings(signal_types="pdq,dhash"))
