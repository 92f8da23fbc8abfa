"""Pure-Python reference implementations of ikesrv.crypto: the test oracle and bench baseline.

Owns nothing the server runs. Each module mirrors the API of its namesake in
ikesrv.crypto (prf, dh, keys, ikev1_keys) but is written independently and plainly, over
the standard library (hmac, hashlib, pow) and `cryptography`, straight from the RFC text,
so that the tests can compare the compiled code with it on RFC vectors and on random
inputs, and bench/ can show what the compiled code gains. Never imports ikesrv._fast.
"""
