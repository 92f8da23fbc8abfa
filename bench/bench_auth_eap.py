"""EAP-MSCHAPv2 costs: the compiled MD4 (ikesrv._fast.md4) and DES ChallengeResponse
(ikesrv._fast.des) against their references (ikesrv.auth.eap.md4_reference in pure Python,
des_reference over ``cryptography``), and one whole server-side verification of an
MS-CHAPv2 Response (RFC 2759 §8: ChallengeHash, three DES blocks, the Authenticator
Response, and the RFC 3079 MSK) with each pair. SHA-1 (hashlib) is common to both.

``python -m bench auth_eap [--quick]``
"""

from __future__ import annotations

import os

from bench.timing import header, ns_per_call, row
from ikesrv._fast.md4 import md4
from ikesrv.auth.eap import des_reference, md4_reference, mschapv2
from ikesrv.auth.eap.md4 import nt_hash


def main(argv: list[str]) -> int:
    min_time = 0.05 if "--quick" in argv else 0.3
    print(header("EAP-MSCHAPv2 (µs per operation, best of 5)"))
    password_hash = nt_hash("alice-Secret-1")
    utf16 = "alice-Secret-1".encode("utf-16-le")
    block = os.urandom(64)
    for name, data in (("MD4, 16 bytes (HashNtPasswordHash)", password_hash),
                       ("MD4, 28 bytes (NtPasswordHash)", utf16),
                       ("MD4, 64 bytes", block)):
        assert md4(data) == md4_reference.md4(data)
        print(row(name, ns_per_call(lambda d=data: md4(d), min_time=min_time),
                  ns_per_call(lambda d=data: md4_reference.md4(d), min_time=min_time)))
    auth_challenge, peer_challenge = os.urandom(16), os.urandom(16)
    user = b"alice"
    nt_response = mschapv2.generate_nt_response(auth_challenge, peer_challenge, user,
                                                password_hash)
    args = (password_hash, auth_challenge, peer_challenge, user, nt_response)
    reference = {"md4": md4_reference.md4, "des": des_reference.challenge_response}
    ours = mschapv2.verify(*args)
    assert ours[0] and ours == mschapv2.verify(*args, **reference)
    challenge = nt_response[:8]
    print(row("DES ChallengeResponse (3 blocks)",
              ns_per_call(lambda: mschapv2.challenge_response(challenge, password_hash),
                          min_time=min_time),
              ns_per_call(lambda: des_reference.challenge_response(challenge, password_hash),
                          min_time=min_time)))
    print(row("MS-CHAPv2 Response check + MSK",
              ns_per_call(lambda: mschapv2.verify(*args), min_time=min_time),
              ns_per_call(lambda: mschapv2.verify(*args, **reference), min_time=min_time)))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
