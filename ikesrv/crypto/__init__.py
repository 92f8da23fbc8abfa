"""Cryptography of ikesrv: Diffie-Hellman, PRFs, key schedules, transforms and SK protection.

Owns nothing itself; its modules each have one job:
  dh          Diffie-Hellman groups and ephemeral keys (RFC 3526, 5903, 8031, 6989)
  prf         prf, prf+ and plain hashes (RFC 7296 §2.13, RFC 2104, RFC 4434, RFC 4615)
  keys        IKEv2 key schedules: SKEYSEED and SK_*, IKE SA rekey, CHILD SA KEYMAT
              (RFC 7296 §2.14-2.18)
  ikev1_keys  IKEv1 key schedules, IVs and HASH payloads (RFC 2409 §5, App. B)
  reference/  pure-Python implementations of dh, prf, keys and ikev1_keys, used only as
              the test oracle and the benchmark baseline
and beside them the transform tables, proposal matching, SK payload protection, IKEv1
encryption, AUTH and certificate modules (each describes itself).

Heavy lifting happens in ikesrv._fast (Cython over libcrypto); these modules are the API
the rest of ikesrv imports. Nothing here imports asyncio, sockets, clocks or randomness:
randomness is always passed in as ``rng(n) -> bytes``.
"""
