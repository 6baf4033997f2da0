"""The signal types this deployment runs: the registry, read once at start-up."""

from __future__ import annotations

import hashes
from app.config import Settings
from app.services.checks import Thresholds
from app.storage.models import VALUE_LENGTH

__all__ = ["default_thresholds", "load_signal_types"]


def load_signal_types(settings: Settings) -> hashes.SignalRegistry:
    """The built-in types plus installed plug-ins', limited to HASHBANK_SIGNAL_TYPES.

    Raises:
        hashes.SignalSpecError: a plug-in that fails to load or is invalid, a name clash,
            an unknown name enabled, or a type whose values the database cannot hold; the
            message names the type and where it came from. Start-up stops on it.
    """
    types = hashes.SignalRegistry.load(settings.enabled_signal_types)
    for spec in types:
        if spec.bits is None and not isinstance(spec, hashes.VpdqSpec):
            # a value of its own serialisation is stored as its digest and its text
            # (models.stored_value); the replica indexes the frames of a vPDQ-shaped one
            raise hashes.SignalSpecError(
                f"signal type {spec.name!r} has no fixed size (bits=None): this version "
                "matches such values only as vPDQ frame lists (a hashes.VpdqSpec)"
            )
        if spec.bits is not None and spec.bits // 4 > VALUE_LENGTH:
            raise hashes.SignalSpecError(
                f"signal type {spec.name!r} has {spec.bits}-bit values: the database holds "
                f"hashes of at most {VALUE_LENGTH * 4} bits"
            )
    return types


def default_thresholds(settings: Settings, types: hashes.SignalRegistry) -> Thresholds:
    """Each type's default match distance: its spec's, or HASHBANK_PDQ_THRESHOLD and
    HASHBANK_PHASH_THRESHOLD for the built-in perceptual types."""
    return Thresholds(types, {"pdq": settings.pdq_threshold, "phash": settings.phash_threshold})
