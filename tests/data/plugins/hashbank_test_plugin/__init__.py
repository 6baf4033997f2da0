"""Two signal types from outside hashbank: a perceptual one (a 64-bit difference hash)
and an exact one (SHA-1, registered through a callable)."""

from hashes import SignalSpec

DHASH = SignalSpec(name="dhash", bits=64, perceptual=True, default_threshold=10, max_threshold=16)


def more_specs() -> list[SignalSpec]:
    return [
        SignalSpec(
            name="sha1",
            bits=160,
            perceptual=False,
            default_threshold=0,
            max_threshold=0,
            label="SHA-1",
        )
    ]
