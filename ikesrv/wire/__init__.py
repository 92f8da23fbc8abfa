"""Message and payload types of IKEv2 and IKEv1, and their wire encoding.

Owns the Python face of the codec: ``ikev2`` and ``ikev1`` (payload classes, decode and
encode), ``natt`` (UDP 4500 framing), ``describe`` (JSON-ready dicts for
``ikesrv decode``). The work is done by the compiled ``ikesrv._fast.codec``; ``_reference``
loads the same source uncompiled for the tests and benchmarks.

Imports only ikesrv._fast, ikesrv.constants and ikesrv.errors: never the core, crypto
or I/O. RFC 7296 §3, RFC 7383, RFC 2408 §3, RFC 2409, RFC 3947, RFC 3948 §2.
"""
