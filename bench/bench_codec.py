"""Wire codec: the compiled extension against the same source run uncompiled.

Decode and encode of the messages a responder handles most: IKEv2 IKE_SA_INIT request
(SA 2 proposals x 8/6 transforms, KE, Ni, 5 notifies, 2 Vendor IDs) and response, the
IKE_AUTH payloads inside SK (IDi, IDr, CP, SA, TSi, TSr, notifies), and IKEv1 Main Mode
message 1 (SA with 4 transforms of 7 attributes, 6 Vendor IDs) and a Quick Mode body.
Prints µs per operation for both builds and the speed-up.

    python -m bench codec [--quick]
"""

from __future__ import annotations

from types import ModuleType

from bench.timing import header, ns_per_call, row
from tests.unit import codec_samples as S


def _cases(codec: ModuleType):
    """(name, callable) pairs bound to one build."""
    v2_init = S.ikev2_sa_init_request()
    v2_resp = S.ikev2_sa_init_response()
    auth_first, auth_body = S.ikev2_auth_plaintext()
    v1_mm1 = S.ikev1_main_mode_1()
    qm_first, qm_body = S.ikev1_quick_mode_plaintext()
    init_msg = codec.v2_decode_message(v2_init)
    resp_msg = codec.v2_decode_message(v2_resp)
    auth_payloads = codec.v2_decode_payloads(auth_body, auth_first)
    mm1_msg = codec.v1_decode_message(v1_mm1)
    qm_payloads = codec.v1_decode_payloads(qm_body, qm_first)
    return [
        ("IKEv2 IKE_SA_INIT request decode", lambda: codec.v2_decode_message(v2_init)),
        ("IKEv2 IKE_SA_INIT request encode", lambda: codec.v2_encode_message(init_msg)),
        ("IKEv2 IKE_SA_INIT response decode", lambda: codec.v2_decode_message(v2_resp)),
        ("IKEv2 IKE_SA_INIT response encode", lambda: codec.v2_encode_message(resp_msg)),
        ("IKEv2 IKE_AUTH inner payloads decode",
         lambda: codec.v2_decode_payloads(auth_body, auth_first)),
        ("IKEv2 IKE_AUTH inner payloads encode", lambda: codec.v2_encode_payloads(auth_payloads)),
        ("IKEv1 Main Mode message 1 decode", lambda: codec.v1_decode_message(v1_mm1)),
        ("IKEv1 Main Mode message 1 encode", lambda: codec.v1_encode_message(mm1_msg)),
        ("IKEv1 Quick Mode body decode", lambda: codec.v1_decode_payloads(qm_body, qm_first)),
        ("IKEv1 Quick Mode body encode", lambda: codec.v1_encode_payloads(qm_payloads)),
    ]


def main(argv: list[str]) -> int:
    min_time = 0.05 if "--quick" in argv else 0.3
    compiled, reference = S.compiled_codec(), S.reference_codec()
    if not compiled.__file__.endswith(".so"):
        print("ikesrv._fast.codec is not compiled: run make build")
        return 1
    print(header("wire codec (ikesrv._fast.codec compiled vs the same source uncompiled)"))
    for (name, ours), (_, ref) in zip(_cases(compiled), _cases(reference)):
        print(row(name, ns_per_call(ours, min_time=min_time), ns_per_call(ref, min_time=min_time)))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
