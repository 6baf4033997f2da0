"""Webhook URLs, addresses and signatures, as library calls (no database).

The resolver is the one thing faked here: DNS is outside the process, and a name that
answers a public address first and 127.0.0.1 next (DNS rebinding) cannot be set up on a
test machine otherwise. The delivery goes to a real receiver process.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidInput
from app.services.webhook_crypto import SecretBox, new_secret, signature_header
from app.services.webhook_sender import Sender
from app.services.webhook_urls import UrlPolicy
from tests.webhook_receiver import Receiver


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    rec = Receiver(tmp_path / "received.jsonl").start()
    yield rec
    rec.kill()


def test_a_name_rebound_to_loopback_after_the_check_is_refused_at_delivery() -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    policy = UrlPolicy(resolver=lambda host, port: next(answers))
    assert policy.check("https://hooks.example.org/h").address == "93.184.215.14"  # added
    with pytest.raises(InvalidInput, match="loopback"):
        policy.check("https://hooks.example.org/h")  # the delivery's look-up


def test_a_name_with_one_internal_address_among_public_ones_is_refused() -> None:
    policy = UrlPolicy(resolver=lambda host, port: ["93.184.215.14", "10.0.0.7"])
    with pytest.raises(InvalidInput, match="private"):
        policy.check("https://hooks.example.org/h")


def test_allowed_hosts_by_name_or_address() -> None:
    by_name = UrlPolicy(allowed_hosts="hooks.internal", resolver=lambda h, p: ["10.0.0.7"])
    assert by_name.check("https://hooks.internal/h").address == "10.0.0.7"
    with pytest.raises(InvalidInput):
        by_name.check("https://other.internal/h")
    by_address = UrlPolicy(allowed_hosts="10.0.0.7", resolver=lambda h, p: ["10.0.0.7"])
    assert by_address.check("https://any.internal/h").address == "10.0.0.7"


def test_the_delivery_connects_to_the_checked_address(receiver: Receiver) -> None:
    # "hooks.invalid" resolves nowhere for real: the POST reaches the receiver only because
    # it goes to the address the check saw, with the name in the Host header
    policy = UrlPolicy(
        allow_http=True, allowed_hosts="127.0.0.1", resolver=lambda h, p: ["127.0.0.1"]
    )
    target = policy.check(f"http://hooks.invalid:{receiver.port}/ok/pinned?x=1")
    sender = Sender(timeout=2)
    try:
        outcome = sender.post(target, b'{"events": []}', {"X-Test": "1"})
    finally:
        sender.close()
    assert outcome.ok, outcome
    [request] = receiver.requests("/ok/pinned?x=1")
    assert request["headers"]["host"] == f"hooks.invalid:{receiver.port}"


def test_redirects_are_not_followed_and_huge_answers_are_cut(receiver: Receiver) -> None:
    policy = UrlPolicy(allow_http=True, allowed_hosts="127.0.0.1")
    sender = Sender(timeout=2)
    try:
        moved = sender.post(policy.check(receiver.url("/redirect")), b"{}", {})
        huge = sender.post(policy.check(receiver.url("/huge")), b"{}", {})
    finally:
        sender.close()
    assert not moved.ok and moved.status == 302 and "not followed" in moved.error
    assert receiver.requests("/ok-redirected") == []
    assert huge.ok and huge.latency_ms < 2000  # 50 MB offered, 64 KB read


@given(st.binary(max_size=2000), st.integers(min_value=0, max_value=2**40))
def test_every_signature_verifies_with_the_documented_recipe(body: bytes, t: int) -> None:
    first, second = new_secret(), new_secret()
    header = signature_header([first, second], t, body)
    fields = [part.split("=", 1) for part in header.split(",")]
    assert fields[0] == ["t", str(t)]
    for secret, (_, v1) in zip([first, second], fields[1:], strict=True):
        mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        assert v1 == mac


@given(st.text(min_size=16, max_size=100))
def test_sealed_secrets_open_only_under_their_key(secret: str) -> None:
    box = SecretBox(b"k" * 32)
    sealed = box.seal(secret)
    assert secret.encode() not in sealed
    assert box.open(sealed) == secret
    with pytest.raises(ValueError, match="another key"):
        SecretBox(b"other").open(sealed)
