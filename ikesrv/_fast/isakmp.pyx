"""IKEv1 message protection in one pass each way: the HASH check of a decrypted message and
the padding, encryption and header of one to send.

Owns:
  ``hash_matches(alg, key, plaintext, first_type, prefix, with_rest)``: the plaintext of a
    message that must begin with a HASH payload (RFC 2409 §5.5, §5.7): its HASH against
    prf(key, prefix | the payloads after it, as on the wire), compared in constant time.
    ``prefix`` is M-ID for HASH(1) and the informational/Transaction form, 0 | M-ID |
    Ni_b | Nr_b with ``with_rest`` false for HASH(3). The payloads after the HASH are
    delimited by their generic headers (RFC 2408 §3.2): the padding after the last one
    is not hashed, whatever the peer put there.
  ``seal(chain, iv, spi_i, spi_r, first, exchange, message_id, head, body)``: the ISAKMP
    header (RFC 2408 §3.1, Encryption flag) and ``head | body`` padded with zero octets and
    a final octet counting them (RFC 2409 §5; never less than one octet), CBC-encrypted by
    ``chain.encrypt(iv, data)`` (ikesrv._fast.cbc.AesCbc or crypto.sk.CbcChain); the block
    size is the IV's length. The caller moves its IV chain to the last ciphertext block.

Why: the same steps in Python (split, chain walk, PRF call, compare; concatenations for
the HASH payload, the padding and the header) cost ~3 µs per message, most of it
interpreter work; an IKEv1 road warrior exchanges six protected messages.

The step-by-step Python forms stay as references: ``messages.split_hash`` with the prf of
crypto.ikev1_keys for the HASH check (tests/unit/test_ikev1_hash_check.py compares
verdicts and errors on random and mutated plaintexts); ``Ikev1Cipher.encrypt`` and the
header codec for sealing (tests/unit/test_ikev1_cipher.py, against a model of the RFC).
Imports ikesrv.errors: a structure the peer got wrong raises MalformedMessage with the
same words and offsets as ``messages.split_hash``.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy, memset

from ikesrv._fast.openssl cimport CRYPTO_memcmp, OPENSSL_cleanse
from ikesrv._fast.prf cimport (
    Chunk, Keyed, MAX_OUT, as_bytes, check_alg, keyed_clear, keyed_init, keyed_mac, set_chunk,
)

from ikesrv.errors import MalformedMessage

DEF HASH_PAYLOAD = 8  # RFC 2408 §3.1 payload type
DEF HEADER = 28
DEF MAX_CHAIN = 64  # payloads followed, as messages.chain_length


cdef Py_ssize_t _chain_length(const unsigned char *data, Py_ssize_t start, Py_ssize_t end,
                              int ptype) except -1:
    """Octets of the payload chain from ``start`` up to its last payload."""
    cdef Py_ssize_t off = start, plen
    cdef int i
    for i in range(MAX_CHAIN):
        if ptype == 0:
            return off - start
        if end - off < 4:
            raise MalformedMessage("payload chain runs past the decrypted data", HEADER + off)
        plen = (data[off + 2] << 8) | data[off + 3]
        if plen < 4 or plen > end - off:
            raise MalformedMessage(f"payload length {plen} does not fit", HEADER + off)
        ptype = data[off]
        off += plen
    raise MalformedMessage("payload chain longer than 64 payloads", HEADER + off)


def hash_matches(int alg, key, plaintext, int first_type, prefix, bint with_rest):
    """Whether the HASH leading ``plaintext`` is prf(key, prefix [| rest]); see the module
    docstring. MalformedMessage when there is no HASH first or the chain does not fit."""
    check_alg(alg)
    cdef bytes pt = as_bytes(plaintext)
    cdef bytes kb = as_bytes(key)
    cdef bytes pb = as_bytes(prefix)
    cdef const unsigned char *p = <const unsigned char *>PyBytes_AS_STRING(pt)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(pt), hlen, rest_len
    if first_type != HASH_PAYLOAD or n < 4:
        raise MalformedMessage("encrypted message does not begin with a HASH payload", HEADER)
    hlen = (p[2] << 8) | p[3]
    if hlen < 4 or hlen > n:
        raise MalformedMessage(f"HASH payload length {hlen} does not fit", 30)
    rest_len = _chain_length(p, hlen, n, p[0])
    cdef Keyed k
    cdef Chunk ck
    cdef Chunk parts[2]
    cdef unsigned char out[MAX_OUT]
    set_chunk(&ck, kb)
    set_chunk(&parts[0], pb)
    parts[1].ptr = p + hlen
    parts[1].len = <size_t>rest_len
    try:
        keyed_init(&k, alg, &ck, 1)
        keyed_mac(&k, parts, 2 if with_rest else 1, out)
        # a HASH of another length never matches (the comparison still runs on ours)
        return hlen - 4 == k.out_len and CRYPTO_memcmp(p + 4, out, <size_t>k.out_len) == 0
    finally:
        keyed_clear(&k)
        OPENSSL_cleanse(out, MAX_OUT)


def seal(chain, iv, spi_i, spi_r, int first, int exchange, unsigned int message_id, head, body):
    """The encrypted message ``head | body`` as sent; see the module docstring."""
    cdef bytes ivb = as_bytes(iv)
    cdef bytes hb = as_bytes(head), bb = as_bytes(body)
    cdef bytes si = as_bytes(spi_i), sr = as_bytes(spi_r)
    if PyBytes_GET_SIZE(si) != 8 or PyBytes_GET_SIZE(sr) != 8:
        raise ValueError("ISAKMP cookies are 8 octets each")
    cdef Py_ssize_t bs = PyBytes_GET_SIZE(ivb)
    if bs not in (8, 16):
        raise ValueError(f"CBC IV of {bs} octets (8 or 16)")
    cdef Py_ssize_t nh = PyBytes_GET_SIZE(hb), nb = PyBytes_GET_SIZE(bb)
    cdef Py_ssize_t pad = (bs - (nh + nb + 1) % bs) % bs
    cdef Py_ssize_t total = nh + nb + pad + 1
    cdef bytes plain = PyBytes_FromStringAndSize(NULL, total)
    cdef unsigned char *q = <unsigned char *>PyBytes_AS_STRING(plain)
    memcpy(q, PyBytes_AS_STRING(hb), nh)
    memcpy(q + nh, PyBytes_AS_STRING(bb), nb)
    memset(q + nh + nb, 0, pad)
    q[total - 1] = <unsigned char>pad
    cdef bytes cipher = as_bytes(chain.encrypt(ivb, plain))
    if PyBytes_GET_SIZE(cipher) != total:
        raise ValueError("the cipher changed the length of the message")
    cdef Py_ssize_t length = HEADER + total
    cdef bytes out = PyBytes_FromStringAndSize(NULL, length)
    cdef unsigned char *o = <unsigned char *>PyBytes_AS_STRING(out)
    memcpy(o, PyBytes_AS_STRING(si), 8)
    memcpy(o + 8, PyBytes_AS_STRING(sr), 8)
    o[16] = <unsigned char>first
    o[17] = 0x10  # version 1.0
    o[18] = <unsigned char>exchange
    o[19] = 0x01  # Encryption
    o[20] = (message_id >> 24) & 0xFF
    o[21] = (message_id >> 16) & 0xFF
    o[22] = (message_id >> 8) & 0xFF
    o[23] = message_id & 0xFF
    o[24] = (length >> 24) & 0xFF
    o[25] = (length >> 16) & 0xFF
    o[26] = (length >> 8) & 0xFF
    o[27] = length & 0xFF
    memcpy(o + HEADER, PyBytes_AS_STRING(cipher), total)
    return out
