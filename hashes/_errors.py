"""The exceptions of the hashes library.

Every failure the library reports is one of these; foreign exceptions (Pillow,
numpy, zlib, pillow-heif) are translated at the boundary with ``raise ... from``.

    HashError
    ├── InvalidHash          a hash string of the wrong length or not hex
    ├── SignalSpecError      a signal type that is invalid, clashes or fails to load
    └── ImageError           an image that cannot be hashed
        ├── UnsupportedImage     not an allowed format, too small, extreme aspect ratio
        ├── ImageTooLarge        over the byte or pixel limit (decompression bombs too)
        └── CorruptImage         empty, truncated or undecodable data
    └── VideoError           a video that cannot be hashed
        ├── UnsupportedVideo     not an allowed container or codec, no video stream
        ├── VideoTooLarge        over the byte, duration, frame or pixel limit
        └── CorruptVideo         empty, truncated or undecodable data
"""

from __future__ import annotations

__all__ = [
    "CorruptImage",
    "CorruptVideo",
    "HashError",
    "ImageError",
    "ImageTooLarge",
    "InvalidHash",
    "SignalSpecError",
    "UnsupportedImage",
    "UnsupportedVideo",
    "VideoError",
    "VideoTooLarge",
]


class HashError(Exception):
    """Base class of every error raised by :mod:`hashes`."""


class InvalidHash(HashError, ValueError):
    """A hash string is not valid for its signal type (wrong length, not hex)."""


class SignalSpecError(HashError, ValueError):
    """A signal type spec is invalid, clashes with another or its plug-in fails to load."""


class ImageError(HashError):
    """An image could not be hashed."""


class UnsupportedImage(ImageError):
    """The data is not an allowed image format, or its geometry is refused."""


class ImageTooLarge(ImageError):
    """The image exceeds the byte or pixel limit."""


class CorruptImage(ImageError):
    """The data is empty, truncated or otherwise undecodable."""


class VideoError(HashError):
    """A video could not be hashed."""


class UnsupportedVideo(VideoError):
    """Not a container or codec hashbank reads, or no video stream."""


class VideoTooLarge(VideoError):
    """The video exceeds the byte, duration, frame-count or frame-size limit."""


class CorruptVideo(VideoError):
    """The data is empty, truncated or otherwise undecodable."""
