"""Webhooks' signing secrets: made, encrypted at rest, and used to sign a delivery.

A receiver checks ``X-Hashbank-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`` with
``v1 = hex(HMAC-SHA256(secret, f"{t}.{raw body}"))`` (docs/integrations.md, "Webhooks").
During a rotation both the new and the previous secret sign, so a receiver holding
either accepts the delivery.

The secrets are stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256, from
``cryptography``): hashbank needs them back to sign, so a one-way hash will not do. The
key is ``HASHBANK_WEBHOOK_SECRET_KEY`` when set (kept outside the database: a leaked
database or backup alone then forges nothing), else the deployment secret
``webhook_key`` (made by migration 0011; it keeps secrets out of plain sight in the
tables, but travels with the database).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken

__all__ = ["SecretBox", "new_secret", "sign", "signature_header"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and 256 random bits (base64url)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, t: int, body: bytes) -> str:
    """``hex(HMAC-SHA256(secret, f"{t}." + body))``: the ``v1`` of one secret."""
    return hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()


def signature_header(secrets_: Sequence[str], t: int, body: bytes) -> str:
    """The ``X-Hashbank-Signature`` value: ``t=<t>`` then one ``v1=`` per secret."""
    return ",".join([f"t={t}", *(f"v1={sign(s, t, body)}" for s in secrets_)])


class SecretBox:
    """Encrypts and decrypts signing secrets under one key (any bytes; hashed to 32)."""

    def __init__(self, key: bytes) -> None:
        derived = hashlib.sha256(b"hashbank-webhook-secrets:" + key).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        """The secret in ``sealed``.

        Raises:
            ValueError: it was sealed under another key (HASHBANK_WEBHOOK_SECRET_KEY changed).
        """
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as exc:
            raise ValueError("webhook secret sealed under another key") from exc
