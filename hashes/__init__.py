"""hashes: image bytes in, perceptual and exact hashes out; exact radius search.

Pure library: no web framework or database imports, so platforms can use it on
their own side (hash locally, match the feed with :class:`HashIndex`).
"""

from hashes._decode import wipe
from hashes._errors import (
    CorruptImage,
    CorruptVideo,
    HashError,
    ImageError,
    ImageTooLarge,
    InvalidHash,
    SignalSpecError,
    UnsupportedImage,
    UnsupportedVideo,
    VideoError,
    VideoTooLarge,
)
from hashes._hashes import DecodeLimits, Hashes, hash_bytes, hash_file, warm_up
from hashes._index import HashIndex
from hashes._registry import (
    BUILTIN_SPECS,
    BUILTINS,
    ENTRY_POINT_GROUP,
    SignalRegistry,
    SignalSpec,
)
from hashes._signals import SignalType, bits_of, hamming, hex_to_bytes, is_perceptual, parse_hash
from hashes._video import FrameVariants, VideoHashes, VideoLimits, hash_video, sniff_video
from hashes._video_match import VARIANT_SHARE, match_with_variants, variant_match_percent
from hashes._vpdq import (
    FRAME_DISTANCE,
    MAX_FRAMES,
    QUALITY_FLOOR,
    QUERY_MATCH_PERCENT,
    VIDEO_MD5,
    VIDEO_SHA256,
    VPDQ,
    VideoMatch,
    VpdqFrame,
    VpdqSpec,
    append_frames,
    format_vpdq,
    match_percentages,
    parse_vpdq,
    prepare_frames,
)

__all__ = [
    "BUILTINS",
    "BUILTIN_SPECS",
    "ENTRY_POINT_GROUP",
    "FRAME_DISTANCE",
    "MAX_FRAMES",
    "QUALITY_FLOOR",
    "QUERY_MATCH_PERCENT",
    "VARIANT_SHARE",
    "VIDEO_MD5",
    "VIDEO_SHA256",
    "VPDQ",
    "CorruptImage",
    "CorruptVideo",
    "DecodeLimits",
    "FrameVariants",
    "HashError",
    "HashIndex",
    "Hashes",
    "ImageError",
    "ImageTooLarge",
    "InvalidHash",
    "SignalRegistry",
    "SignalSpec",
    "SignalSpecError",
    "SignalType",
    "UnsupportedImage",
    "UnsupportedVideo",
    "VideoError",
    "VideoHashes",
    "VideoLimits",
    "VideoMatch",
    "VideoTooLarge",
    "VpdqFrame",
    "VpdqSpec",
    "append_frames",
    "bits_of",
    "format_vpdq",
    "hamming",
    "hash_bytes",
    "hash_file",
    "hash_video",
    "hex_to_bytes",
    "is_perceptual",
    "match_percentages",
    "match_with_variants",
    "parse_hash",
    "parse_vpdq",
    "prepare_frames",
    "sniff_video",
    "variant_match_percent",
    "warm_up",
    "wipe",
]
