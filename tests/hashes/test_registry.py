"""Signal types as specs: construction rules, the built-ins, and plug-ins by entry point."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hashes
from hashes import SignalRegistry, SignalSpec, SignalSpecError
from hashes._registry import MD5, PDQ, PHASH, SHA256

DHASH = {"name": "dhash", "bits": 64, "perceptual": True, "default_threshold": 10}


def _dhash() -> SignalSpec:
    return SignalSpec(**DHASH, max_threshold=16)


def test_five_keyword_arguments_make_a_complete_type() -> None:
    spec = _dhash()
    assert spec.hex_length == 16
    assert spec.parse(" 00FF00ff00ff00FF\n") == "00ff00ff00ff00ff"
    assert spec.distance("00ff00ff00ff00ff", "00ff00ff00ff00fe") == 1
    assert spec.weakness("0" * 16) == "a dhash hash of all zeros"
    assert spec.weakness("f" * 16) == "a dhash hash of all ones"
    assert spec.weakness("0" * 15 + "1") is None  # only all-zero / all-one by default
    assert spec.bits_set is None and not spec.has_quality and dict(spec.exchange_names) == {}
    with pytest.raises(hashes.InvalidHash, match="dhash hash has 16 hex characters"):
        spec.parse("abc")
    with pytest.raises(hashes.InvalidHash, match="hex digits"):
        spec.parse("g" * 16)
    with pytest.raises(hashes.InvalidHash, match="must be a string"):
        spec.parse(12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "DHash"}, "name must be"),
        ({"name": "1hash"}, "name must be"),
        ({"name": "d" * 33}, "name must be"),
        ({"bits": 0}, "bits must be"),
        ({"bits": 60}, "bits must be"),
        ({"bits": None}, "must define parse"),
        ({"default_threshold": 17}, "default_threshold <= max_threshold"),
        ({"default_threshold": -1}, "default_threshold <= max_threshold"),
        ({"max_threshold": 64}, "below bits"),
        ({"perceptual": False}, "exact type"),
        ({"bits_set": (0, 10)}, "bits_set"),
        ({"bits_set": (10, 64)}, "bits_set"),
        ({"default_threshold": 1.5}, "whole numbers"),
    ],
)
def test_an_invalid_spec_is_refused_with_a_clear_message(
    change: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {**DHASH, "max_threshold": 16, **change}
    with pytest.raises(SignalSpecError, match=message):
        SignalSpec(**fields)  # type: ignore[arg-type]


def test_a_type_of_its_own_format_overrides_parse_and_distance() -> None:
    class Frames(SignalSpec):
        def parse(self, value: object) -> str:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise hashes.InvalidHash("a frames value is a list of strings")
            return ",".join(value)

        def distance(self, a: str, b: str) -> int:
            return len(set(a.split(",")) ^ set(b.split(",")))

    spec = Frames(name="frames", bits=None, perceptual=True, default_threshold=1, max_threshold=5)
    assert spec.hex_length is None
    assert spec.parse(["a", "b"]) == "a,b"
    assert spec.distance("a,b", "a,c") == 2
    assert spec.weakness("a,b") is None


def test_builtins_agree_with_the_existing_functions() -> None:
    registry = SignalRegistry.load(plugins=[])
    assert registry.names == ("pdq", "phash", "md5", "sha256", "video_md5", "video_sha256", "vpdq")
    for spec in registry:
        if spec.bits is None:  # vpdq: Meta's serialisation (tests/hashes/test_vpdq_values.py)
            continue
        assert spec.bits == hashes.bits_of(spec.name)
        assert spec.perceptual == hashes.is_perceptual(spec.name)
        value = "Ab" * (spec.bits // 8)  # type: ignore[operator]
        assert spec.parse(value) == hashes.parse_hash(spec.name, value)
    assert (PDQ.default_threshold, PDQ.max_threshold) == (31, 48)
    assert (PHASH.default_threshold, PHASH.max_threshold) == (8, 12)
    assert MD5.max_threshold == SHA256.max_threshold == 0
    assert registry.by_exchange_name("stopncii", "ImagePDQ") is PDQ
    assert registry.by_exchange_name("threatexchange", "pdq") is PDQ
    assert registry.by_exchange_name("stopncii", "VideoMD5") is hashes.VIDEO_MD5
    assert registry.by_exchange_name("threatexchange", "vpdq") is hashes.VPDQ


def test_builtin_weakness_rules() -> None:
    assert PDQ.weakness("0" * 64) == "a pdq hash of all zeros"
    assert PDQ.weakness("0" * 62 + "ff") == "a pdq hash with 8 of 256 bits set (expected 16-240)"
    assert PDQ.weakness("5" * 64) is None
    assert PHASH.weakness("0" * 15 + "7") == "a phash hash with 3 of 64 bits set (expected 4-60)"
    assert SHA256.weakness("f" * 64) == "a sha256 hash of all ones"
    assert MD5.weakness("0" * 31 + "1") is None


@given(st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8))
def test_distance_is_a_metric_on_parsed_values(a: bytes, b: bytes) -> None:
    spec = _dhash()
    x, y = spec.parse(a.hex().upper()), spec.parse(b.hex())
    assert spec.distance(x, x) == 0
    assert spec.distance(x, y) == spec.distance(y, x) == hashes.hamming(x, y)
    assert 0 <= spec.distance(x, y) <= 64


def test_the_registry_refuses_clashes_and_unknown_names() -> None:
    with pytest.raises(SignalSpecError, match="two signal types are named 'pdq'"):
        SignalRegistry([PDQ, SignalSpec(**{**DHASH, "name": "pdq"}, max_threshold=16)])
    with pytest.raises(SignalSpecError, match="not a SignalSpec"):
        SignalRegistry([PDQ, "md5"])  # type: ignore[list-item]
    registry = SignalRegistry([PDQ, MD5])
    with pytest.raises(
        hashes.InvalidHash, match="unknown signal type 'phash'; expected one of pdq, md5"
    ):
        registry.get("phash")
    assert "md5" in registry and "phash" not in registry and len(registry) == 2


def test_enabled_limits_the_types_and_names_unknown_ones() -> None:
    registry = SignalRegistry.load(["md5", "pdq"], plugins=[])
    assert registry.names == ("pdq", "md5")  # the registry's order
    with pytest.raises(SignalSpecError, match="unknown signal type.*sha1.*installed: pdq"):
        SignalRegistry.load(["pdq", "sha1"], plugins=[])


# -- plug-ins: a package installed on sys.path with an entry point of the group ---------


def _install(root: Path, package: str, module_source: str, entry_points: str) -> None:
    """A minimal installed distribution: a module and a .dist-info with entry points."""
    (root / f"{package}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{package}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{hashes.ENTRY_POINT_GROUP}]\n" + textwrap.dedent(entry_points)
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("hb_plugin_")]:
        del sys.modules[name]


def test_an_installed_plugin_adds_its_types(site: Path) -> None:
    _install(
        site,
        "hb_plugin_ok",
        """
        from hashes import SignalSpec
        DHASH = SignalSpec(name="dhash", bits=64, perceptual=True,
                           default_threshold=10, max_threshold=16)
        def more():
            return [SignalSpec(name="ahash", bits=64, perceptual=True,
                               default_threshold=8, max_threshold=12)]
        """,
        "dhash = hb_plugin_ok:DHASH\nmore = hb_plugin_ok:more\n",
    )
    registry = SignalRegistry.load()
    assert registry.names[:7] == hashes.BUILTINS.names
    assert set(registry.names[7:]) == {"dhash", "ahash"}
    assert registry.parse("dhash", "00FF" * 4) == "00ff" * 4
    assert SignalRegistry.load(["pdq", "ahash"]).names == ("pdq", "ahash")


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("raise RuntimeError('boom')", "hb_plugin_bad:X", "failed to load: RuntimeError"),
        ("X = 42", "hb_plugin_bad:X", "neither a SignalSpec nor a callable"),
        ("def X():\n    return ['pdq']", "hb_plugin_bad:X", "something other than a SignalSpec"),
        ("def X():\n    raise KeyError(1)", "hb_plugin_bad:X", "failed: KeyError"),
        (
            "from hashes import SignalSpec\nX = SignalSpec(name='md5', bits=128, "
            "perceptual=False, default_threshold=0, max_threshold=0)",
            "hb_plugin_bad:X",
            "registers a signal type named 'md5', as the built-in type does",
        ),
        (
            "from hashes import SignalSpec\ndef X():\n    return [SignalSpec(name='x', bits=64, "
            "perceptual=True, default_threshold=20, max_threshold=16)]",
            "hb_plugin_bad:X",
            "failed: SignalSpecError",
        ),
    ],
)
def test_a_broken_plugin_stops_loading_with_its_name(
    site: Path, source: str, target: str, message: str
) -> None:
    _install(site, "hb_plugin_bad", source + "\n", f"broken = {target}\n")
    with pytest.raises(SignalSpecError, match=message) as err:
        SignalRegistry.load()
    if "two signal types" not in message:
        assert "'broken'" in str(err.value) and "hb_plugin_bad" in str(err.value)
