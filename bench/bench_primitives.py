"""Crypto primitives: each compiled function (ikesrv._fast via ikesrv.crypto) against its
pure-Python reference (ikesrv.crypto.reference), µs per operation and the speed-up.

The compiled modules exist only because they are faster; this table is the evidence.
Rows marked "[native]" time `cryptography` used directly as a server would without
ikesrv's code (its own RNG, no injected randomness): context for the DH rows, whose
reference does the same arithmetic through `cryptography` or Python's pow().

``python -m bench primitives [--quick]`` (--quick: shorter timing, skips MODP > 4096)
"""

from __future__ import annotations

import os
import warnings

from cryptography.hazmat.primitives.asymmetric import dh as crypto_dh
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from bench.timing import header, ns_per_call, row
from ikesrv.constants import PrfId, V1HashAlgorithm
from ikesrv.crypto import dh, ikev1_keys, keys, prf
from ikesrv.crypto.reference import dh as ref_dh
from ikesrv.crypto.reference import ikev1_keys as ref_ikev1
from ikesrv.crypto.reference import keys as ref_keys
from ikesrv.crypto.reference import prf as ref_prf

S256 = PrfId.PRF_HMAC_SHA2_256


def _fixed(secret: bytes):
    return lambda n: secret[:n]


def _pairs():
    """(name, compiled callable, reference callable) for every primitive."""
    k32, d64, d256 = os.urandom(32), os.urandom(64), os.urandom(256)
    ni, nr, spi_i, spi_r = os.urandom(32), os.urandom(32), os.urandom(8), os.urandom(8)
    out = []
    for pid, label in [
        (PrfId.PRF_HMAC_SHA1, "HMAC-SHA1"),
        (S256, "HMAC-SHA2-256"),
        (PrfId.PRF_HMAC_SHA2_384, "HMAC-SHA2-384"),
        (PrfId.PRF_HMAC_SHA2_512, "HMAC-SHA2-512"),
        (PrfId.PRF_AES128_XCBC, "AES-XCBC-PRF-128"),
        (PrfId.PRF_AES128_CMAC, "AES-CMAC-PRF-128"),
    ]:
        out.append(
            (
                f"prf {label} (64 octets)",
                lambda p=pid: prf.prf(p, k32, d64),
                lambda p=pid: ref_prf.prf(p, k32, d64),
            )
        )
    out.append(
        (
            "prf+ HMAC-SHA2-256, 224 octets",
            lambda: prf.prf_plus(S256, k32, d64, 224),
            lambda: ref_prf.prf_plus(S256, k32, d64, 224),
        )
    )
    out.append(
        (
            "hash sha256 (256 octets)",
            lambda: prf.hash("sha256", d256),
            lambda: ref_prf.hash("sha256", d256),
        )
    )
    out.append(
        (
            "hash sha1 (256 octets)",
            lambda: prf.hash(V1HashAlgorithm.SHA, d256),
            lambda: ref_prf.hash(V1HashAlgorithm.SHA, d256),
        )
    )

    # IKEv2 key schedules (RFC 7296 §2.14-2.18): AES-GCM-256 (36-octet keys, no integrity)
    out.append(
        (
            "IKEv2 SKEYSEED + 7 keys (sha256, x25519)",
            lambda: keys.ike_sa_keys(S256, 0, 36, ni, nr, k32, spi_i, spi_r),
            lambda: ref_keys.ike_sa_keys(S256, 0, 36, ni, nr, k32, spi_i, spi_r),
        )
    )
    out.append(
        (
            "IKEv2 SKEYSEED + 7 keys (sha256, cbc+hmac)",
            lambda: keys.ike_sa_keys(S256, 32, 32, ni, nr, d256, spi_i, spi_r),
            lambda: ref_keys.ike_sa_keys(S256, 32, 32, ni, nr, d256, spi_i, spi_r),
        )
    )
    out.append(
        (
            "IKEv2 IKE SA rekey keys (sha256)",
            lambda: keys.rekey_ike_sa_keys(S256, k32, k32, ni, nr, spi_i, spi_r, 0, 36),
            lambda: ref_keys.rekey_ike_sa_keys(S256, k32, k32, ni, nr, spi_i, spi_r, 0, 36),
        )
    )
    out.append(
        (
            "IKEv2 CHILD SA keys (sha256, gcm)",
            lambda: keys.child_sa_keys(S256, k32, ni, nr, 36, 0),
            lambda: ref_keys.child_sa_keys(S256, k32, ni, nr, 36, 0),
        )
    )

    # IKEv1 (RFC 2409 §5)
    sha = V1HashAlgorithm.SHA2_256

    def v1_phase1(m):
        skeyid = m.skeyid_psk(sha, k32, ni, nr)
        return m.skeyid_dae(sha, skeyid, d256, spi_i, spi_r)

    out.append(
        (
            "IKEv1 SKEYID(psk) + SKEYID_d/a/e",
            lambda: v1_phase1(ikev1_keys),
            lambda: v1_phase1(ref_ikev1),
        )
    )
    out.append(
        (
            "IKEv1 HASH_I",
            lambda: ikev1_keys.hash_i(sha, k32, d256, d256, spi_i, spi_r, d64, d64[:12]),
            lambda: ref_ikev1.hash_i(sha, k32, d256, d256, spi_i, spi_r, d64, d64[:12]),
        )
    )
    out.append(
        (
            "IKEv1 expand_key (sha1 -> 32 octets)",
            lambda: ikev1_keys.expand_key("sha1", k32[:20], 32),
            lambda: ref_ikev1.expand_key("sha1", k32[:20], 32),
        )
    )
    out.append(
        (
            "IKEv1 Quick Mode KEYMAT (64 octets)",
            lambda: ikev1_keys.quick_mode_keymat(sha, k32, 3, spi_i[:4], ni, nr, 64),
            lambda: ref_ikev1.quick_mode_keymat(sha, k32, 3, spi_i[:4], ni, nr, 64),
        )
    )
    out.append(
        (
            "IKEv1 phase 1 IV",
            lambda: ikev1_keys.initial_iv(sha, d256, d256, 16),
            lambda: ref_ikev1.initial_iv(sha, d256, d256, 16),
        )
    )
    return out


def _dh_rows(quick: bool):
    """(name, compiled callable, reference callable) for keygen and derive per group."""
    out = []
    for gid in sorted(dh.SUPPORTED):
        g = dh.group(gid)
        if g.weak or (quick and gid in (17, 18)):
            continue
        r = ref_dh.group(gid)
        secret = os.urandom(g.private_len)
        peer = g.generate(os.urandom).public
        mine, theirs = g.generate(_fixed(secret)), r.generate(_fixed(secret))
        out.append(
            (
                f"DH {g.name} keygen",
                lambda g=g, s=secret: g.generate(_fixed(s)),
                lambda r=r, s=secret: r.generate(_fixed(s)),
            )
        )
        out.append(
            (
                f"DH {g.name} shared secret",
                lambda k=mine, p=peer: k.shared_secret(p),
                lambda k=theirs, p=peer: k.shared_secret(p),
            )
        )
    return out


def _native_rows():
    """`cryptography` on its own, for context: (name, callable)."""
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # `cryptography` deprecates finite-field DH
        params = crypto_dh.DHParameterNumbers(ref_dh.group(14).p, 2).parameters()
    a, b = params.generate_private_key(), params.generate_private_key().public_key()
    rows.append(
        (
            "[native] modp2048 keygen",
            lambda: params.generate_private_key().public_key().public_numbers(),
        )
    )
    rows.append(("[native] modp2048 exchange", lambda: a.exchange(b)))
    for name, curve in [
        ("ecp256", ec.SECP256R1()),
        ("ecp384", ec.SECP384R1()),
        ("ecp521", ec.SECP521R1()),
    ]:
        k = ec.generate_private_key(curve)
        pk = ec.generate_private_key(curve).public_key()
        rows.append(
            (
                f"[native] {name} keygen",
                lambda c=curve: ec.generate_private_key(c).public_key().public_numbers(),
            )
        )
        rows.append((f"[native] {name} exchange", lambda k=k, pk=pk: k.exchange(ec.ECDH(), pk)))
    for name, mod in [("curve25519", x25519), ("curve448", x448)]:
        priv_cls = mod.X25519PrivateKey if mod is x25519 else mod.X448PrivateKey
        k = priv_cls.generate()
        pk = priv_cls.generate().public_key()
        rows.append(
            (
                f"[native] {name} keygen",
                lambda c=priv_cls: c.generate().public_key().public_bytes_raw(),
            )
        )
        rows.append((f"[native] {name} exchange", lambda k=k, pk=pk: k.exchange(pk)))
    return rows


def _interleaved(ours, ref, min_time: float, rounds: int = 3) -> tuple[float, float]:
    """Best ns per call of each, measured in alternation so that load from other processes
    on this 2-core machine weighs on both sides alike."""
    best_ours = best_ref = float("inf")
    for _ in range(rounds):
        best_ours = min(best_ours, ns_per_call(ours, min_time=min_time / rounds, repeats=2))
        best_ref = min(best_ref, ns_per_call(ref, min_time=min_time / rounds, repeats=2))
    return best_ours, best_ref


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    min_time = 0.05 if quick else 0.3
    print(header("crypto primitives: ikesrv._fast (compiled) vs ikesrv.crypto.reference"))
    slower = []
    for name, ours, ref in _pairs() + _dh_rows(quick):
        ours_ns, ref_ns = _interleaved(ours, ref, min_time)
        print(row(name, ours_ns, ref_ns), flush=True)
        if ours_ns >= ref_ns:
            slower.append(name)
    print(f"\n{'[native] cryptography alone (context)':<40} {'µs/op':>13}")
    for name, fn in _native_rows():
        print(f"{name:<40} {ns_per_call(fn, min_time=min_time) / 1000:>10.2f} µs", flush=True)
    if slower:
        print("\nnot faster than the reference: " + ", ".join(slower))
    return 0
