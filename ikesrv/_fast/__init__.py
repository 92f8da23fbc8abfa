"""Compiled hot paths (Cython): the message codec, PRF/prf+, Diffie-Hellman, and MD4 and
DES for MS-CHAPv2 (md4, des).

Each module has a ``.pxd`` declaring its C-level interface; the Python-facing API is
re-exported by ikesrv.wire and ikesrv.crypto (md4 and des by ikesrv.auth.eap), which are
what the rest of ikesrv imports.
"""
