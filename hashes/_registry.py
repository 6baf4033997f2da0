"""Signal types as specs: one object per type, in one registry open to plug-ins.

A :class:`SignalSpec` holds everything hashbank knows about one kind of hash: its name,
its size, whether it is compared by distance, its default and largest match distance,
how a value is parsed, how two values are compared, which values are too weak to bank,
and its names in other ecosystems. The four built-in types are specs like any other;
installed packages add more through the entry-point group ``hashbank.signal_types``
(python-threatexchange's ``SignalType`` classes and HMA's ``SIGNAL_TYPES`` setting have
the same shape: one object per type, looked up by name, extensible from outside).

An entry point names a :class:`SignalSpec`, or a callable returning an iterable of them::

    [project.entry-points."hashbank.signal_types"]
    dhash = "my_package.signals:DHASH"
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hashes._errors import InvalidHash, SignalSpecError
from hashes._spec import SignalSpec
from hashes._vpdq import VIDEO_MD5, VIDEO_SHA256, VPDQ

__all__ = [
    "BUILTINS",
    "BUILTIN_SPECS",
    "ENTRY_POINT_GROUP",
    "MD5",
    "PDQ",
    "PHASH",
    "SHA256",
    "VIDEO_MD5",
    "VIDEO_SHA256",
    "VPDQ",
    "SignalRegistry",
    "SignalSpec",
]

ENTRY_POINT_GROUP = "hashbank.signal_types"


# A perceptual hash of a real picture has about half its bits set (PDQ and pHash both
# threshold at a median): far fewer or far more means a blank or synthetic input.
PDQ = SignalSpec(
    name="pdq",
    bits=256,
    perceptual=True,
    default_threshold=31,
    max_threshold=48,
    bits_set=(16, 240),
    has_quality=True,
    exchange_names={"threatexchange": "pdq", "stopncii": "ImagePDQ"},
    label="PDQ",
)
PHASH = SignalSpec(
    name="phash",
    bits=64,
    perceptual=True,
    default_threshold=8,
    max_threshold=12,
    bits_set=(4, 60),
    label="pHash",
)
MD5 = SignalSpec(
    name="md5",
    bits=128,
    perceptual=False,
    default_threshold=0,
    max_threshold=0,
    label="MD5",
)
SHA256 = SignalSpec(
    name="sha256",
    bits=256,
    perceptual=False,
    default_threshold=0,
    max_threshold=0,
    label="SHA-256",
)
# the video types (hashes._vpdq): whole-file MD5 and SHA-256, and Meta's vPDQ
BUILTIN_SPECS: tuple[SignalSpec, ...] = (PDQ, PHASH, MD5, SHA256, VIDEO_MD5, VIDEO_SHA256, VPDQ)


class SignalRegistry:
    """The enabled signal types, by name, in a stable order (built-ins first)."""

    def __init__(self, specs: Iterable[SignalSpec]) -> None:
        """Raises:
        SignalSpecError: an object that is not a spec, or two specs of one name.
        """
        self._specs: dict[str, SignalSpec] = {}
        for spec in specs:
            if not isinstance(spec, SignalSpec):
                raise SignalSpecError(f"not a SignalSpec: {spec!r}")
            if spec.name in self._specs:
                raise SignalSpecError(f"two signal types are named {spec.name!r}")
            self._specs[spec.name] = spec

    @classmethod
    def load(
        cls,
        enabled: Collection[str] | None = None,
        *,
        plugins: Iterable[EntryPoint] | None = None,
    ) -> SignalRegistry:
        """The built-in types plus those of installed plug-ins, limited to ``enabled``.

        Args:
            enabled: the names to keep (None or empty: all). Order follows the registry.
            plugins: the entry points to load (default: the installed packages' entry
                points of the group ``hashbank.signal_types``).

        Raises:
            SignalSpecError: a plug-in that fails to load or gives something other than
                specs, a name clash, or an ``enabled`` name that no type has; the message
                names the entry point and its package.
        """
        specs = list(BUILTIN_SPECS)
        origin = {spec.name: "the built-in type" for spec in specs}
        found = entry_points(group=ENTRY_POINT_GROUP) if plugins is None else plugins
        for ep in sorted(found, key=lambda e: e.name):
            for spec in _specs_of(ep):
                if spec.name in origin:
                    raise SignalSpecError(
                        f"{_where(ep)} registers a signal type named {spec.name!r}, "
                        f"as {origin[spec.name]} does: names must be unique"
                    )
                origin[spec.name] = _where(ep)
                specs.append(spec)
        registry = cls(specs)
        if not enabled:
            return registry
        unknown = sorted(set(enabled) - set(registry.names))
        if unknown:
            raise SignalSpecError(
                f"unknown signal type(s) enabled: {', '.join(unknown)}; "
                f"installed: {', '.join(registry.names)}"
            )
        return cls(s for s in registry if s.name in enabled)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._specs)

    def get(self, name: str) -> SignalSpec:
        """The spec named ``name``.

        Raises:
            InvalidHash: no enabled type has that name (the message lists them).
        """
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            raise InvalidHash(
                f"unknown signal type {name!r}; expected one of " + ", ".join(self._specs)
            ) from None

    def parse(self, name: str, value: Any) -> str:
        """``value`` parsed as a hash of the type ``name`` (see :meth:`SignalSpec.parse`)."""
        return self.get(name).parse(value)

    def by_exchange_name(self, system: str, name: str) -> SignalSpec | None:
        """The spec that ``system`` calls ``name`` (``("stopncii", "ImagePDQ")``), if any."""
        for spec in self._specs.values():
            if spec.exchange_names.get(system) == name:
                return spec
        return None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[SignalSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)


def _where(ep: EntryPoint) -> str:
    where = f"entry point {ep.name!r} ({ep.value}"
    if ep.dist is not None:
        where += f", package {ep.dist.name}"
    return where + f") of {ENTRY_POINT_GROUP}"


def _specs_of(ep: EntryPoint) -> list[SignalSpec]:
    where = _where(ep)
    try:
        obj: object = ep.load()
    except Exception as exc:  # a plug-in's own failure: any exception, reported by name
        raise SignalSpecError(f"{where} failed to load: {exc!r}") from exc
    if isinstance(obj, SignalSpec):
        return [obj]
    if not callable(obj):
        raise SignalSpecError(f"{where} is neither a SignalSpec nor a callable returning them")
    factory: Callable[[], object] = obj
    try:
        made = factory()
        specs = list(made) if isinstance(made, Iterable) else [made]
    except Exception as exc:
        raise SignalSpecError(f"{where} failed: {exc!r}") from exc
    out: list[SignalSpec] = []
    for spec in specs:
        if not isinstance(spec, SignalSpec):
            raise SignalSpecError(f"{where} returned something other than a SignalSpec: {spec!r}")
        out.append(spec)
    return out


BUILTINS = SignalRegistry(BUILTIN_SPECS)
"""The built-in types alone (what the service runs on until it reads installed plug-ins)."""
