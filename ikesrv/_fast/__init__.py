"""Compiled hot paths (Cython): the message codec, PRF/prf+ and Diffie-Hellman.

Each module has a ``.pxd`` declaring its C-level interface; the Python-facing API is
re-exported by ikesrv.wire and ikesrv.crypto, which are what the rest of ikesrv imports.
"""
