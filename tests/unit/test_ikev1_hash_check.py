"""The HASH check of protected IKEv1 messages (ikev1.messages.verify_hash1/3 over
ikesrv._fast.isakmp) against the step-by-step reference: ``messages.split_hash``, the
prf of ``crypto.ikev1_keys`` and a constant-time compare (RFC 2409 §5.5, §5.7).

Random and mutated plaintexts: where the reference finds the structure broken, the fast
check raises MalformedMessage with the same words and offset; where it is whole, both
agree on whether the HASH verifies. A peer's padding never takes part in the hash.
"""

from __future__ import annotations

import hmac
import random
from types import SimpleNamespace

import pytest

from ikesrv.constants import V1HashAlgorithm
from ikesrv.crypto import ikev1_keys
from ikesrv.errors import IntegrityCheckFailed, MalformedMessage
from ikesrv.ikev1 import messages

HASHES = [V1HashAlgorithm.SHA2_256, V1HashAlgorithm.SHA2_512, V1HashAlgorithm.SHA]


def payload(next_type: int, body: bytes) -> bytes:
    return bytes((next_type, 0)) + (4 + len(body)).to_bytes(2, "big") + body


def protected(alg, key: bytes, mid: int, rest: list[tuple[int, bytes]], pad: bytes,
              digest: bytes | None = None) -> tuple[bytes, int]:
    """(plaintext, first type): HASH(1) over ``rest`` (type, body) pairs, then padding."""
    chain = b""
    for i, (_, body) in enumerate(rest):
        following = rest[i + 1][0] if i + 1 < len(rest) else 0
        chain += payload(following, body)
    if digest is None:
        digest = ikev1_keys.informational_hash(alg, key, mid, chain)
    first_after_hash = rest[0][0] if rest else 0
    return payload(first_after_hash, digest) + chain + pad, 8


def reference(alg, key, mid, plaintext, first_type):
    """(raised error, or whether it verifies) the way the driver used to decide."""
    try:
        got, rest = messages.split_hash(plaintext, first_type)
    except MalformedMessage as e:
        return ("malformed", str(e), e.offset)
    return hmac.compare_digest(got, ikev1_keys.informational_hash(alg, key, mid, rest))


def fast(alg, key, mid, plaintext, first_type):
    sa = SimpleNamespace(hash_alg=alg, skeyid_a=key)
    try:
        messages.verify_hash1(sa, plaintext, first_type, mid, "test message")
    except MalformedMessage as e:
        return ("malformed", str(e), e.offset)
    except IntegrityCheckFailed:
        return False
    return True


@pytest.mark.parametrize("alg", HASHES, ids=lambda a: a.name)
def test_a_whole_message_verifies_whatever_its_padding(alg):
    rnd = random.Random(1)
    key = rnd.randbytes(32)
    for pad in (b"", b"\x00", bytes(15) + b"\x0f", rnd.randbytes(9)):
        plaintext, first = protected(alg, key, 0xA1B2C3D4, [(1, rnd.randbytes(40)),
                                                           (10, rnd.randbytes(32))], pad)
        assert fast(alg, key, 0xA1B2C3D4, plaintext, first) is True
        assert reference(alg, key, 0xA1B2C3D4, plaintext, first) is True
        # another Message ID, another key: not this message's HASH
        assert fast(alg, key, 0xA1B2C3D5, plaintext, first) is False
        assert fast(alg, key[::-1], 0xA1B2C3D4, plaintext, first) is False


@pytest.mark.parametrize("alg", HASHES, ids=lambda a: a.name)
def test_agrees_with_the_reference_on_mutations(alg):
    rnd = random.Random(2)
    key = rnd.randbytes(20)
    seen = {True: 0, False: 0, "malformed": 0}
    for _ in range(3000):
        mid = rnd.getrandbits(32)
        rest = [(rnd.choice((1, 10, 11, 5, 14)), rnd.randbytes(rnd.randint(0, 40)))
                for _ in range(rnd.randint(0, 4))]
        plaintext, first = protected(alg, key, mid, rest, rnd.randbytes(rnd.randint(0, 16)))
        data = bytearray(plaintext)
        for _ in range(rnd.randint(0, 3)):  # flip octets anywhere: lengths, types, digest
            if data:
                data[rnd.randrange(len(data))] ^= 1 << rnd.randrange(8)
        if rnd.random() < 0.1:
            data = data[:rnd.randrange(len(data) + 1)]
        if rnd.random() < 0.05:
            first = rnd.choice((0, 1, 5))
        want = reference(alg, key, mid, bytes(data), first)
        assert fast(alg, key, mid, bytes(data), first) == want
        seen[want[0] if isinstance(want, tuple) else want] += 1
    assert min(seen.values()) > 100  # every outcome was exercised


def test_a_hash_of_another_length_does_not_verify():
    key = bytes(32)
    plaintext, first = protected(V1HashAlgorithm.SHA2_256, key, 5, [(1, b"abc")], b"",
                                 digest=bytes(20))
    assert fast(V1HashAlgorithm.SHA2_256, key, 5, plaintext, first) is False


def test_hash3_equals_the_rfc_form():
    rnd = random.Random(3)
    key, ni, nr = rnd.randbytes(32), rnd.randbytes(32), rnd.randbytes(32)
    alg = V1HashAlgorithm.SHA2_256
    good = ikev1_keys.quick_mode_hash3(alg, key, 0x0BADCAFE, ni, nr)
    sa = SimpleNamespace(hash_alg=alg, skeyid_a=key)
    messages.verify_hash3(sa, payload(0, good) + bytes(3) + b"\x03", 8, 0x0BADCAFE, ni, nr,
                          "QM3")
    with pytest.raises(IntegrityCheckFailed, match="QM3: HASH does not verify"):
        messages.verify_hash3(sa, payload(0, good), 8, 0x0BADCAFE, nr, ni, "QM3")
    with pytest.raises(MalformedMessage, match="does not begin with a HASH"):
        messages.verify_hash3(sa, payload(0, good), 1, 0x0BADCAFE, ni, nr, "QM3")
