"""A plug-in whose type takes a built-in's name: hashbank must refuse to start."""

from hashes import SignalSpec

CLASH = SignalSpec(name="pdq", bits=64, perceptual=True, default_threshold=4, max_threshold=8)
