"""Secrets: case ids, PINs, API keys and passwords (CSPRNG + argon2 / SHA-256)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "DUMMY_PASSWORD_HASH",
    "hash_key",
    "hash_password",
    "hash_pin",
    "new_api_key",
    "new_case_id",
    "new_pin",
    "normalize_case_id",
    "normalize_pin",
    "verify_password",
    "verify_pin",
]

# Crockford's base32: no I, L, O, U, so ids read out over the phone are unambiguous.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})

# PINs are checked online only after a lockout-limited number of tries; passwords are
# typed by staff. OWASP's argon2id minimum (19 MiB, t=2) keeps a check near 20 ms.
_PIN_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_PASSWORD_HASHER = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=1)
_DUMMY_PIN_HASH = _PIN_HASHER.hash("0000-0000-0000")
# What an unknown username's password is checked against, so that it costs exactly one
# argon2 run like a known one (hashing a fresh dummy each time cost a second run: usernames
# were told apart by time, 557 ms against 307 ms). A constant with _PASSWORD_HASHER's
# parameters (tests/app/test_dashboard_login.py checks they stay equal): computing it at
# import would cost every CLI command a run.
DUMMY_PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=1$jGE0PSs9VlF1aTPvQJrbbg$DW138RCKqPiXvYjDnCWBkwxAG6tqu7JbHMye+87r2pM"  # noqa: E501, S105 - the hash of a throwaway text


def new_case_id() -> str:
    """A case id like ``HB-7KQ2-9XMP-4RT6-A3QW``: 16 base32 characters, 80 random bits."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "HB-" + "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def normalize_case_id(text: str) -> str:
    """Upper-case a typed case id, map confusable letters, and restore its dashes."""
    raw = "".join(ch for ch in text.upper() if ch.isalnum())
    raw = raw.removeprefix("HB").translate(_CONFUSABLE)
    if len(raw) != 16:
        return text.strip().upper()
    return "HB-" + "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def new_pin() -> str:
    """A 12-digit PIN like ``4821-0937-5512`` (about 40 bits, checked with a lockout)."""
    digits = "".join(secrets.choice("0123456789") for _ in range(12))
    return "-".join(digits[i : i + 4] for i in range(0, 12, 4))


def normalize_pin(text: str) -> str:
    """Keep only the digits of a typed PIN and restore its dashes."""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) != 12:
        return text.strip()
    return "-".join(digits[i : i + 4] for i in range(0, 12, 4))


def hash_pin(pin: str) -> str:
    return _PIN_HASHER.hash(normalize_pin(pin))


def verify_pin(pin_hash: str | None, pin: str) -> bool:
    """Check a PIN against its argon2 hash; with no hash, spend the same time and fail."""
    try:
        if pin_hash is None:
            _PIN_HASHER.verify(_DUMMY_PIN_HASH, "not-the-pin")
            return False
        return _PIN_HASHER.verify(pin_hash, normalize_pin(pin))
    except (VerificationError, InvalidHashError):
        return False


def new_api_key() -> str:
    """A platform API key: ``hbk_`` and 256 random bits, URL-safe."""
    return "hbk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """SHA-256 of an API key: right for high-entropy random keys, and fast on every check."""
    return hashlib.sha256(key.encode()).hexdigest()


def keys_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def hash_password(password: str) -> str:
    return _PASSWORD_HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password against its argon2 hash: one argon2 run, also with no hash (an
    unknown user), which then fails."""
    try:
        if password_hash is None:
            _PASSWORD_HASHER.verify(DUMMY_PASSWORD_HASH, password)
            return False
        return _PASSWORD_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
