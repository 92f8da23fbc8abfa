# Augmenting declarations for codec.py (Cython pure-Python mode): the classes become
# extension types with slots, helpers become C functions, and every local of the walk
# loops is a C integer or a typed memoryview over the input, so that no Python object is
# made until a field value is handed back. codec.py itself stays plain Python: loaded
# uncompiled it is the reference implementation (see ikesrv/wire/_reference.py).

cimport cython

ctypedef const unsigned char[::1] _bytes_view

# limits and payload type numbers, initialised in codec.py
cdef Py_ssize_t _MAX_PAYLOADS, _MAX_PROPOSALS, _MAX_TRANSFORMS, _MAX_TRANSFORM_ATTRIBUTES
cdef Py_ssize_t _MAX_TRAFFIC_SELECTORS, _MAX_CFG_ATTRIBUTES, _MAX_DELETE_SPIS
cdef int _V2_SA, _V2_KE, _V2_IDI, _V2_IDR, _V2_CERT, _V2_CERTREQ, _V2_AUTH
cdef int _V2_NONCE, _V2_NOTIFY, _V2_DELETE, _V2_VENDOR_ID, _V2_TSI, _V2_TSR
cdef int _V2_SK, _V2_CP, _V2_EAP, _V2_SKF
cdef int _V1_SA, _V1_PROPOSAL, _V1_TRANSFORM, _V1_KE, _V1_ID, _V1_CERT, _V1_CR
cdef int _V1_HASH, _V1_SIG, _V1_NONCE, _V1_N, _V1_D, _V1_VID, _V1_ATTR
cdef int _V1_NAT_D, _V1_NAT_OA, _V1_NAT_D_DRAFT, _V1_NAT_OA_DRAFT, _V1_FRAGMENT
cdef int _TAIL_STRICT, _TAIL_PAD4, _TAIL_ANY

# ---- payload classes ------------------------------------------------------------------

@cython.auto_pickle(False)
cdef class _Record:
    pass

@cython.final
@cython.auto_pickle(False)
cdef class Transform(_Record):
    cdef public object type, id, key_length, attributes

@cython.final
@cython.auto_pickle(False)
cdef class Proposal(_Record):
    cdef public object number, protocol, spi, transforms, wire

@cython.final
@cython.auto_pickle(False)
cdef class SaPayload(_Record):
    cdef public object proposals

@cython.final
@cython.auto_pickle(False)
cdef class KePayload(_Record):
    cdef public object group, data

@cython.final
@cython.auto_pickle(False)
cdef class IdPayload(_Record):
    cdef public object payload_type, id_type, data
    cdef object _body

@cython.final
@cython.auto_pickle(False)
cdef class CertPayload(_Record):
    cdef public object encoding, data

@cython.final
@cython.auto_pickle(False)
cdef class CertReqPayload(_Record):
    cdef public object encoding, data

@cython.final
@cython.auto_pickle(False)
cdef class AuthPayload(_Record):
    cdef public object method, data

@cython.final
@cython.auto_pickle(False)
cdef class NoncePayload(_Record):
    cdef public object data

@cython.final
@cython.auto_pickle(False)
cdef class NotifyPayload(_Record):
    cdef public object type, data, protocol, spi

@cython.final
@cython.auto_pickle(False)
cdef class DeletePayload(_Record):
    cdef public object protocol, spis, spi_size

@cython.final
@cython.auto_pickle(False)
cdef class VendorIdPayload(_Record):
    cdef public object data

@cython.final
@cython.auto_pickle(False)
cdef class TrafficSelector(_Record):
    cdef public object ts_type, ip_protocol, start_port, end_port, start_addr, end_addr

@cython.final
@cython.auto_pickle(False)
cdef class RawTrafficSelector(_Record):
    cdef public object ts_type, data

@cython.final
@cython.auto_pickle(False)
cdef class TsPayload(_Record):
    cdef public object payload_type, selectors

@cython.final
@cython.auto_pickle(False)
cdef class SkPayload(_Record):
    cdef public object next_payload, data

@cython.final
@cython.auto_pickle(False)
cdef class SkfPayload(_Record):
    cdef public object next_payload, fragment_number, total_fragments, data

@cython.final
@cython.auto_pickle(False)
cdef class CpPayload(_Record):
    cdef public object cfg_type, attributes

@cython.final
@cython.auto_pickle(False)
cdef class EapPayload(_Record):
    cdef public object code, identifier, eap_type, data

@cython.final
@cython.auto_pickle(False)
cdef class UnknownPayload(_Record):
    cdef public object payload_type, critical, data

@cython.final
@cython.auto_pickle(False)
cdef class Message(_Record):
    cdef public object spi_i, spi_r, exchange, flags, message_id, payloads
    cdef public object version, length, sk_offset

@cython.final
@cython.auto_pickle(False)
cdef class V1Attribute(_Record):
    cdef public object type, value

@cython.final
@cython.auto_pickle(False)
cdef class V1Transform(_Record):
    cdef public object number, transform_id, attributes

@cython.final
@cython.auto_pickle(False)
cdef class V1Proposal(_Record):
    cdef public object number, protocol, spi, transforms, wire

@cython.final
@cython.auto_pickle(False)
cdef class V1SaPayload(_Record):
    cdef public object doi, situation, proposals
    cdef object _body

@cython.final
@cython.auto_pickle(False)
cdef class V1KePayload(_Record):
    cdef public object data

@cython.final
@cython.auto_pickle(False)
cdef class V1IdPayload(_Record):
    cdef public object id_type, protocol_id, port, data
    cdef object _body

@cython.final
@cython.auto_pickle(False)
cdef class V1CertPayload(_Record):
    cdef public object encoding, data

@cython.final
@cython.auto_pickle(False)
cdef class V1CrPayload(_Record):
    cdef public object encoding, data

@cython.final
@cython.auto_pickle(False)
cdef class V1HashPayload(_Record):
    cdef public object data

@cython.final
@cython.auto_pickle(False)
cdef class V1SigPayload(_Record):
    cdef public object data

@cython.final
@cython.auto_pickle(False)
cdef class V1NoncePayload(_Record):
    cdef public object data

@cython.final
@cython.auto_pickle(False)
cdef class V1NotifyPayload(_Record):
    cdef public object doi, protocol, spi, type, data

@cython.final
@cython.auto_pickle(False)
cdef class V1DeletePayload(_Record):
    cdef public object doi, protocol, spis, spi_size

@cython.final
@cython.auto_pickle(False)
cdef class V1VendorIdPayload(_Record):
    cdef public object data

@cython.final
@cython.auto_pickle(False)
cdef class V1AttributePayload(_Record):
    cdef public object cfg_type, identifier, attributes

@cython.final
@cython.auto_pickle(False)
cdef class V1NatDPayload(_Record):
    cdef public object data, payload_type

@cython.final
@cython.auto_pickle(False)
cdef class V1NatOaPayload(_Record):
    cdef public object id_type, data, payload_type

@cython.final
@cython.auto_pickle(False)
cdef class V1FragmentPayload(_Record):
    cdef public object fragment_id, fragment_number, last, data

@cython.final
@cython.auto_pickle(False)
cdef class V1UnknownPayload(_Record):
    cdef public object payload_type, data

@cython.final
@cython.auto_pickle(False)
cdef class V1Message(_Record):
    cdef public object spi_i, spi_r, exchange, flags, message_id, payloads
    cdef public object encrypted_body, next_payload, version, length

# ---- reading primitives ---------------------------------------------------------------

cdef bytes _as_bytes(object data)

cdef unsigned int _u16(_bytes_view buf, Py_ssize_t off) noexcept

@cython.locals(a="unsigned int", b="unsigned int", c="unsigned int", d="unsigned int")
cdef unsigned int _u32(_bytes_view buf, Py_ssize_t off) noexcept

@cython.locals(off=Py_ssize_t)
cdef bint _zero_tail(_bytes_view buf, Py_ssize_t off, Py_ssize_t end) noexcept

cdef bint _spi_size_ok(long long protocol, Py_ssize_t size) noexcept
cdef bint _v1_spi_size_ok(long long protocol, Py_ssize_t size) noexcept

@cython.locals(raw=bytes, n=Py_ssize_t, buf=_bytes_view)
cpdef tuple peek_header(object data)

# ---- IKEv2 decoding -------------------------------------------------------------------

@cython.locals(raw=bytes, n=Py_ssize_t, buf=_bytes_view, version=int,
               length="unsigned int", msg=Message)
cpdef Message v2_decode_message(object data)

@cython.locals(raw=bytes, base=Py_ssize_t, buf=_bytes_view)
cpdef list v2_decode_payloads(object data, object first_type, object base_offset=*)

@cython.locals(payloads=list, count=Py_ssize_t, nxt=int, plen=Py_ssize_t)
cdef list _v2_walk(bytes data, _bytes_view buf, int ptype, Py_ssize_t off,
                   Py_ssize_t end, Py_ssize_t base, Message msg)

@cython.locals(sk=SkPayload, skf=SkfPayload, number="unsigned int", total="unsigned int")
cdef object _v2_sk(bytes data, _bytes_view buf, int ptype, int nxt,
                   Py_ssize_t start, Py_ssize_t end, Py_ssize_t base)

@cython.locals(n=Py_ssize_t, spi_size=Py_ssize_t, notify=NotifyPayload, ke=KePayload,
               nonce=NoncePayload, vid=VendorIdPayload, ident=IdPayload, auth=AuthPayload,
               cert=CertPayload, certreq=CertReqPayload, unknown=UnknownPayload)
cdef object _v2_payload(bytes data, _bytes_view buf, int ptype, int critical,
                        Py_ssize_t start, Py_ssize_t end, Py_ssize_t base)

@cython.locals(proposals=list, off=Py_ssize_t, total=Py_ssize_t, k=Py_ssize_t,
               plen=Py_ssize_t, pend=Py_ssize_t, last=int,
               protocol=int, spi_size=Py_ssize_t, ntrans=Py_ssize_t,
               t=Py_ssize_t, prop=Proposal, transforms=list, i=Py_ssize_t, tlen=Py_ssize_t,
               tlast=int, tr=Transform, sa=SaPayload)
cdef SaPayload _v2_sa(bytes data, _bytes_view buf, Py_ssize_t start, Py_ssize_t end,
                      Py_ssize_t base)

@cython.locals(count=Py_ssize_t, atype=int, value="unsigned int", alen=Py_ssize_t)
cdef int _v2_transform_attributes(bytes data, _bytes_view buf, Transform tr, Py_ssize_t off,
                                  Py_ssize_t end, Py_ssize_t base, Py_ssize_t k,
                                  Py_ssize_t i) except -1

@cython.locals(count=Py_ssize_t, selectors=list, off=Py_ssize_t, i=Py_ssize_t,
               ts_type=int, slen=Py_ssize_t, alen=Py_ssize_t,
               ts=TrafficSelector, raw_ts=RawTrafficSelector, tsp=TsPayload)
cdef TsPayload _v2_ts(bytes data, _bytes_view buf, int ptype, Py_ssize_t start,
                      Py_ssize_t end, Py_ssize_t base)

@cython.locals(n=Py_ssize_t, protocol=int, spi_size=Py_ssize_t, count=Py_ssize_t,
               spis=list, off=Py_ssize_t, i=Py_ssize_t, delete=DeletePayload)
cdef DeletePayload _v2_delete(bytes data, _bytes_view buf, Py_ssize_t start, Py_ssize_t end,
                              Py_ssize_t base)

@cython.locals(attributes=list, off=Py_ssize_t, count=Py_ssize_t, alen=Py_ssize_t,
               cp=CpPayload)
cdef CpPayload _v2_cp(bytes data, _bytes_view buf, Py_ssize_t start, Py_ssize_t end,
                      Py_ssize_t base)

@cython.locals(n=Py_ssize_t, code=int, elen=Py_ssize_t, eap=EapPayload)
cdef EapPayload _v2_eap(bytes data, _bytes_view buf, Py_ssize_t start, Py_ssize_t end,
                        Py_ssize_t base)

# ---- encoding helpers -----------------------------------------------------------------

@cython.locals(x="long long")
cdef int _put8(bytearray out, object v) except -1

@cython.locals(x="long long")
cdef int _put16(bytearray out, object v) except -1

@cython.locals(x="long long")
cdef int _put32(bytearray out, object v) except -1

cdef int _putb(bytearray out, object b) except -1

cdef int _patch16(bytearray out, Py_ssize_t pos, Py_ssize_t v, object what) except -1

cdef int _header(bytearray out, object spi_i, object spi_r, object next_payload,
                 object version, object exchange, object flags, object message_id,
                 object length) except -1

# ---- IKEv2 encoding -------------------------------------------------------------------

@cython.locals(out=bytearray)
cpdef bytes v2_encode_header(object spi_i, object spi_r, object next_payload, object exchange,
                             object flags, object message_id, object length)

@cython.locals(out=bytearray, n=Py_ssize_t)
cpdef bytes v2_encode_message(object msg)

@cython.locals(out=bytearray, first=int)
cpdef tuple v2_encode_payloads(object payloads)

@cython.locals(out=bytearray)
cpdef bytes v2_encode_payload_body(object p)

@cython.locals(first=int, prev=Py_ssize_t, n=Py_ssize_t, i=Py_ssize_t, start=Py_ssize_t,
               ptype=int)
cdef int _v2_chain(bytearray out, object payloads) except -1

@cython.locals(notify=NotifyPayload, ke=KePayload, nonce=NoncePayload, vid=VendorIdPayload,
               ident=IdPayload, auth=AuthPayload, cert=CertPayload, certreq=CertReqPayload,
               delete=DeletePayload, cp=CpPayload, sk=SkPayload, skf=SkfPayload,
               unknown=UnknownPayload, size=Py_ssize_t)
cdef int _v2_body(bytearray out, object p) except -1

@cython.locals(n=Py_ssize_t, k=Py_ssize_t, prop=Proposal, pstart=Py_ssize_t, m=Py_ssize_t,
               i=Py_ssize_t, tr=Transform, tstart=Py_ssize_t)
cdef int _v2_sa_body(bytearray out, SaPayload sa) except -1

@cython.locals(ts=TrafficSelector, raw_ts=RawTrafficSelector, alen=Py_ssize_t)
cdef int _v2_ts_body(bytearray out, TsPayload tsp) except -1

@cython.locals(start=Py_ssize_t)
cdef int _v2_eap_body(bytearray out, EapPayload eap) except -1

# ---- IKEv1 decoding -------------------------------------------------------------------

@cython.locals(raw=bytes, n=Py_ssize_t, buf=_bytes_view, version=int,
               length="unsigned int", flags=int, msg=V1Message)
cpdef V1Message v1_decode_message(object data)

@cython.locals(raw=bytes, base=Py_ssize_t, buf=_bytes_view)
cpdef list v1_decode_payloads(object data, object first_type, object base_offset=*)

@cython.locals(payloads=list, count=Py_ssize_t, nxt=int, plen=Py_ssize_t)
cdef list _v1_walk(bytes data, _bytes_view buf, int ptype, Py_ssize_t off,
                   Py_ssize_t end, Py_ssize_t base, int tail)

@cython.locals(n=Py_ssize_t, spi_size=Py_ssize_t, id_type=int,
               vid=V1VendorIdPayload, ke=V1KePayload, nonce=V1NoncePayload,
               ident=V1IdPayload, hsh=V1HashPayload, natd=V1NatDPayload,
               notify=V1NotifyPayload, cert=V1CertPayload, cr=V1CrPayload, sig=V1SigPayload,
               natoa=V1NatOaPayload, frag=V1FragmentPayload, unknown=V1UnknownPayload)
cdef object _v1_payload(bytes data, _bytes_view buf, int ptype, Py_ssize_t start,
                        Py_ssize_t end, Py_ssize_t base)

@cython.locals(doi="unsigned int", situation="unsigned int", proposals=list, off=Py_ssize_t,
               total=Py_ssize_t, k=Py_ssize_t, more=bint, nxt=int,
               plen=Py_ssize_t, pend=Py_ssize_t, protocol=int,
               spi_size=Py_ssize_t, ntrans=Py_ssize_t, t=Py_ssize_t, prop=V1Proposal,
               transforms=list, i=Py_ssize_t, tlen=Py_ssize_t, tnext=int,
               tr=V1Transform, sa=V1SaPayload)
cdef V1SaPayload _v1_sa(bytes data, _bytes_view buf, Py_ssize_t start, Py_ssize_t end,
                        Py_ssize_t base)

@cython.locals(attributes=list, count=Py_ssize_t, atype=int, alen=Py_ssize_t,
               attr=V1Attribute)
cdef list _v1_attributes(bytes data, _bytes_view buf, Py_ssize_t off, Py_ssize_t end,
                         Py_ssize_t base, Py_ssize_t limit, bint pad, Py_ssize_t k,
                         Py_ssize_t i)

@cython.locals(n=Py_ssize_t, spi_size=Py_ssize_t, count=Py_ssize_t, spis=list,
               off=Py_ssize_t, i=Py_ssize_t, delete=V1DeletePayload)
cdef V1DeletePayload _v1_delete(bytes data, _bytes_view buf, Py_ssize_t start,
                                Py_ssize_t end, Py_ssize_t base)

@cython.locals(attr=V1AttributePayload)
cdef V1AttributePayload _v1_attr(bytes data, _bytes_view buf, Py_ssize_t start,
                                 Py_ssize_t end, Py_ssize_t base)

# ---- IKEv1 encoding -------------------------------------------------------------------

@cython.locals(out=bytearray)
cpdef bytes v1_encode_header(object spi_i, object spi_r, object next_payload, object exchange,
                             object flags, object message_id, object length)

@cython.locals(out=bytearray, n=Py_ssize_t, encrypted=bint)
cpdef bytes v1_encode_message(object msg)

@cython.locals(out=bytearray, first=int)
cpdef tuple v1_encode_payloads(object payloads)

@cython.locals(out=bytearray)
cpdef bytes v1_encode_payload_body(object p)

@cython.locals(first=int, prev=Py_ssize_t, start=Py_ssize_t, ptype=int)
cdef int _v1_chain(bytearray out, object payloads) except -1

@cython.locals(vid=V1VendorIdPayload, ke=V1KePayload, nonce=V1NoncePayload,
               ident=V1IdPayload, hsh=V1HashPayload, natd=V1NatDPayload,
               notify=V1NotifyPayload, delete=V1DeletePayload, attr=V1AttributePayload,
               cert=V1CertPayload, cr=V1CrPayload, sig=V1SigPayload, natoa=V1NatOaPayload,
               frag=V1FragmentPayload, unknown=V1UnknownPayload)
cdef int _v1_body(bytearray out, object p) except -1

@cython.locals(n=Py_ssize_t, k=Py_ssize_t, prop=V1Proposal, pstart=Py_ssize_t, m=Py_ssize_t,
               i=Py_ssize_t, tr=V1Transform, tstart=Py_ssize_t)
cdef int _v1_sa_body(bytearray out, V1SaPayload sa) except -1

@cython.locals(attr=V1Attribute)
cdef int _v1_attributes_body(bytearray out, object attributes) except -1
