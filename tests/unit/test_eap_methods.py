"""EAP methods (ikesrv.auth.eap): RFC 2759 / RFC 3079 vectors, the framing helpers, and
each method's server state machine talking to its peer, with good and bad credentials
and malformed input."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikesrv.actions import AuthResult
from ikesrv.auth.eap import des_reference, framing, gtc, md4_reference, md5, mschapv2
from ikesrv.auth.eap.framing import Done, EapError, FailureRequest, Lookup, Request
from ikesrv.auth.eap.md4 import nt_hash
from ikesrv.constants import EapCode, EapType

H = bytes.fromhex

# RFC 2759 §9.2 (and RFC 3079 §3.5.3, which repeats them and goes on to the MPPE keys)
USER = b"User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = H("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = H("21402324255E262A28295F2B3A337C7E")
CHALLENGE = H("D02E4386BCE91226")
NT_RESPONSE = H("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
PASSWORD_HASH = H("44EBBA8D5312B8D611474411F56989AE")
PASSWORD_HASH_HASH = H("41C00C584BD2D91C4017A2A12FA59F3F")
AUTHENTICATOR_RESPONSE = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
MASTER_KEY = H("FDECE3717A8C838CB388E527AE3CDD31")  # RFC 3079 §3.5.3
SEND_START_KEY_128 = H("8B7CDC149B993A1BA118CB153F56DCCB")  # RFC 3079 §3.5.3 (Magic3)


# --- RFC 2759 §9.2 -------------------------------------------------------------------

def test_rfc2759_9_2_challenge_hash():
    assert mschapv2.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER) == CHALLENGE


def test_rfc2759_9_2_nt_password_hash_and_its_hash():
    assert nt_hash(PASSWORD) == PASSWORD_HASH
    assert mschapv2.hash_nt_password_hash(PASSWORD_HASH) == PASSWORD_HASH_HASH
    assert mschapv2.hash_nt_password_hash(PASSWORD_HASH, md4=md4_reference.md4) == \
        PASSWORD_HASH_HASH


def test_rfc2759_9_2_challenge_response_and_nt_response():
    assert mschapv2.challenge_response(CHALLENGE, PASSWORD_HASH) == NT_RESPONSE
    assert mschapv2.generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER,
                                         PASSWORD_HASH) == NT_RESPONSE


def test_rfc2759_9_2_authenticator_response():
    assert mschapv2.generate_authenticator_response(
        PASSWORD_HASH, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER) == \
        AUTHENTICATOR_RESPONSE


def test_rfc2759_verify_is_the_whole_server_check():
    ok, auth, msk = mschapv2.verify(PASSWORD_HASH, AUTH_CHALLENGE, PEER_CHALLENGE, USER,
                                    NT_RESPONSE)
    assert ok and auth == AUTHENTICATOR_RESPONSE and len(msk) == 64
    same = mschapv2.verify(PASSWORD_HASH, AUTH_CHALLENGE, PEER_CHALLENGE, USER, NT_RESPONSE,
                           md4=md4_reference.md4, des=des_reference.challenge_response)
    assert same == (ok, auth, msk)
    bad = bytearray(NT_RESPONSE)
    bad[0] ^= 1
    assert mschapv2.verify(PASSWORD_HASH, AUTH_CHALLENGE, PEER_CHALLENGE, USER,
                           bytes(bad)) == (False, "", b"")
    # another user name changes ChallengeHash (§8.2), so the same response fails
    assert not mschapv2.verify(PASSWORD_HASH, AUTH_CHALLENGE, PEER_CHALLENGE, b"user",
                               NT_RESPONSE)[0]


def test_des_key_spreads_56_bits_over_8_octets():
    # RFC 2759 §8.6: 7 key bits per octet, the low bit free
    assert des_reference.des_key(b"\xff" * 7) == b"\xfe" * 8
    assert des_reference.des_key(b"\x00" * 6 + b"\x01") == b"\x00" * 7 + b"\x02"
    assert des_reference.des_key(b"\x80" + b"\x00" * 6) == b"\x80" + b"\x00" * 7


@pytest.mark.parametrize("impl", [mschapv2.challenge_response, des_reference.challenge_response],
                         ids=["compiled", "reference"])
def test_rfc2759_9_2_challenge_response_both_implementations(impl):
    assert impl(CHALLENGE, PASSWORD_HASH) == NT_RESPONSE


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=8), st.binary(min_size=16, max_size=16),
       st.binary(min_size=7, max_size=7))
def test_compiled_des_equals_the_reference(challenge, password_hash, key7):
    assert mschapv2.challenge_response(challenge, password_hash) == \
        des_reference.challenge_response(challenge, password_hash)
    assert mschapv2.des_encrypt(challenge, key7) == des_reference.des_encrypt(challenge, key7)


@pytest.mark.parametrize("args", [(b"1234567", bytes(16)), (bytes(8), bytes(15)),
                                  (bytes(9), bytes(16))])
def test_compiled_des_refuses_wrong_lengths(args):
    with pytest.raises(ValueError):
        mschapv2.challenge_response(*args)


# --- RFC 3079 §3.4 / §3.5.3 and the MSK ---------------------------------------------

def test_rfc3079_master_key_and_start_keys():
    master = mschapv2.master_key(PASSWORD_HASH_HASH, NT_RESPONSE)
    assert master == MASTER_KEY
    # the server's send key and the client's receive key are the same (Magic3)
    assert mschapv2.asymmetric_start_key(master, is_send=True, is_server=True) == \
        SEND_START_KEY_128
    assert mschapv2.asymmetric_start_key(master, is_send=False, is_server=False) == \
        SEND_START_KEY_128
    magic2 = mschapv2.asymmetric_start_key(master, is_send=True, is_server=False)
    assert magic2 == mschapv2.asymmetric_start_key(master, is_send=False, is_server=True)
    assert magic2 == H("D5F0E9521E3EA9589645E86051C82226")


def test_msk_layout_is_strongswans():
    """MasterReceiveKey (Magic2) | MasterSendKey (Magic3) | 32 zero octets, the server's
    names, as strongSwan's eap-mschapv2 GenerateMSK and hostapd build it."""
    key = mschapv2.msk(PASSWORD_HASH_HASH, NT_RESPONSE)
    assert key == H("D5F0E9521E3EA9589645E86051C82226") + SEND_START_KEY_128 + bytes(32)


# --- framing -------------------------------------------------------------------------

def test_packets():
    assert framing.request(257, EapType.IDENTITY).identifier == 1
    s, f = framing.success(7), framing.failure(7)
    assert (s.code, s.identifier, s.eap_type, s.data) == (EapCode.SUCCESS, 7, None, b"")
    assert (f.code, f.identifier) == (EapCode.FAILURE, 7)


@pytest.mark.parametrize("data,name", [
    (b"alice", "alice"),
    ("jürgen@example.org".encode(), "jürgen@example.org"),
    (b"EXAMPLE\\alice", "EXAMPLE\\alice"),
    (b"*", "*"),  # odd but harmless: backends escape it
])
def test_identities_accepted(data, name):
    assert framing.parse_identity(data) == name


@pytest.mark.parametrize("data,why", [
    (b"", "empty user name"),
    (b"x" * 257, "257 bytes"),
    (b"alice\x00", "control characters"),
    (b"alice\n", "control characters"),
    (b"al\x7fice", "control characters"),
    (b"\xff\xfe", "not UTF-8"),
    (b"\xed\xa0\x80", "not UTF-8"),  # an encoded surrogate
])
def test_identities_refused(data, why):
    with pytest.raises(EapError, match=why):
        framing.parse_identity(data)


def test_nak_types_are_bounded():
    assert framing.nak_types(bytes(range(20))) == list(range(8))
    assert framing.type_name(6) == "GTC" and framing.type_name(200) == "200"


# --- the methods, server against peer ---------------------------------------------------

def run(server, peer, answer, identifier=5):
    """Drive ``server`` and ``peer``; ``answer(Lookup) -> AuthResult``. Returns the final
    Done and the steps seen."""
    steps = []
    data = server.start(identifier)
    while True:
        reply = peer.receive(data, identifier)
        step = server.receive(reply)
        while isinstance(step, Lookup):
            steps.append(step)
            step = server.answer(answer(step))
        steps.append(step)
        if isinstance(step, Done):
            return step, steps
        identifier = (identifier + 1) & 0xFF
        data = step.data


def rng(seed=1):
    return random.Random(seed).randbytes


def nt_backend(password):
    def answer(lookup):
        assert lookup.method == "nt_hash"
        return AuthResult(True, secret=nt_hash(password))
    return answer


def test_mschapv2_success_derives_the_same_msk_on_both_sides():
    server = mschapv2.Server("alice", rng(1))
    peer = mschapv2.Peer("alice", "alice-Secret-1", rng(2))
    done, steps = run(server, peer, nt_backend("alice-Secret-1"))
    assert done.ok and done.msk == peer.msk and len(done.msk) == 64
    assert [type(s) for s in steps] == [Lookup, Request, Done]
    assert steps[0].username == "alice" and steps[0].password == b""


def test_mschapv2_challenge_framing():
    server = mschapv2.Server("alice", rng(3), name=b"gw")
    data = server.start(9)
    # OpCode 1, MS-CHAPv2-ID, MS-Length (= Type-Data length), Value-Size 16, Challenge, Name
    assert data[0] == 1 and data[1] == 9
    assert int.from_bytes(data[2:4], "big") == len(data) == 4 + 1 + 16 + 2
    assert data[4] == 16 and data[5:21] == server.challenge and data[21:] == b"gw"


def test_mschapv2_success_message_format():
    server = mschapv2.Server("alice", rng(1))
    peer = mschapv2.Peer("alice", "alice-Secret-1", rng(2))
    step = server.receive(peer.receive(server.start(1)))
    step = server.answer(nt_backend("alice-Secret-1")(step))
    assert isinstance(step, Request)
    assert step.data[0] == 3 and int.from_bytes(step.data[2:4], "big") == len(step.data)
    text = step.data[4:].decode()
    assert text.startswith("S=") and len(text.split(" ")[0]) == 42 and " M=" in text


@pytest.mark.parametrize("answer,why", [
    (nt_backend("not-the-password"), "wrong password"),
    (lambda lookup: AuthResult(False, "unknown user 'alice'"), "unknown user"),
    (lambda lookup: AuthResult(False, "not a member of cn=vpn"), "not a member"),
    (lambda lookup: AuthResult(True, secret=b"short"), "not 16 bytes"),
])
def test_mschapv2_failures_send_691_without_retry(answer, why):
    server = mschapv2.Server("alice", rng(1))
    peer = mschapv2.Peer("alice", "alice-Secret-1", rng(2))
    done, steps = run(server, peer, answer)
    assert not done.ok and why in done.reason
    failure = steps[1]
    assert isinstance(failure, FailureRequest) and why in failure.reason
    text = failure.data[4:].decode()
    fields = dict(t.split("=", 1) for t in text.split(" ")[:4])
    assert fields["E"] == "691" and fields["R"] == "0" and fields["V"] == "3"
    assert len(fields["C"]) == 32 and fields["C"] != server.challenge.hex().upper()
    assert peer.failed.startswith("E=691 R=0") and peer.msk is None
    # every refusal carries the same message: no hint which one it was
    assert text.endswith(" M=FAILED")


def test_mschapv2_peer_rejecting_our_authenticator_response():
    server = mschapv2.Server("alice", rng(1))
    step = server.receive(mschapv2.Peer("alice", "alice-Secret-1", rng(2)).receive(
        server.start(1)))
    server.answer(nt_backend("alice-Secret-1")(step))
    done = server.receive(bytes([mschapv2.FAILURE]))
    assert not done.ok and "rejected our" in done.reason


def test_mschapv2_peer_checks_the_server():
    """A server that does not know the hash cannot forge the Success message."""
    server = mschapv2.Server("alice", rng(1))
    peer = mschapv2.Peer("alice", "alice-Secret-1", rng(2))
    server.receive(peer.receive(server.start(1)))
    forged = mschapv2._packet(3, 1, b"S=" + b"0" * 40 + b" M=hi")
    assert peer.receive(forged) == bytes([mschapv2.FAILURE])
    assert peer.msk is None and "does not verify" in peer.failed


def test_mschapv2_domain_is_not_hashed():
    # Windows sends DOMAIN\\user: ChallengeHash uses the user part (RFC 2759 §4)
    server = mschapv2.Server("EXAMPLE\\alice", rng(1))
    peer = mschapv2.Peer("EXAMPLE\\alice", "alice-Secret-1", rng(2))
    done, steps = run(server, peer, nt_backend("alice-Secret-1"))
    assert done.ok and steps[0].username == "alice"


@pytest.mark.parametrize("data,why", [
    (b"", "without an OpCode"),
    (bytes([3]), "where a Response was due"),
    (bytes([2, 1, 0, 8, 49]) + bytes(10), "Value-Size"),
    (bytes([2, 1, 0, 8, 48]) + bytes(60), "Value-Size 48"),
    (bytes([2, 1, 0, 8, 49]) + bytes(49) + b"n" * 300, "Name of 300 bytes"),
])
def test_mschapv2_malformed_responses(data, why):
    server = mschapv2.Server("alice", rng(1))
    server.start(1)
    with pytest.raises(EapError, match=why):
        server.receive(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_mschapv2_server_takes_any_bytes(data):
    """Random Type-Data: a Lookup or EapError, nothing else."""
    server = mschapv2.Server("alice", rng(1))
    server.start(1)
    try:
        step = server.receive(data)
    except EapError:
        return
    assert isinstance(step, Lookup)


def test_mschapv2_answer_without_a_question():
    with pytest.raises(EapError):
        mschapv2.Server("alice", rng(1)).answer(AuthResult(True, secret=bytes(16)))


def test_gtc():
    server = gtc.Server("alice")
    assert server.start(1) == gtc.PROMPT
    step = server.receive(b"alice-Secret-1")
    assert step == Lookup("password", "alice", b"alice-Secret-1")
    assert "alice-Secret-1" not in repr(step)
    assert server.answer(AuthResult(True)) == Done(True)
    server = gtc.Server("alice")
    server.start(1)
    server.receive(b"x")
    done = server.answer(AuthResult(False, "wrong password for 'alice'"))
    assert not done.ok and done.msk is None and "wrong password" in done.reason


def test_gtc_empty_password_never_reaches_a_backend():
    server = gtc.Server("alice")
    server.start(1)
    assert server.receive(b"") == Done(False, "empty EAP-GTC password")


def test_gtc_overlong_response():
    server = gtc.Server("alice")
    server.start(1)
    with pytest.raises(EapError, match="2000 bytes"):
        server.receive(b"x" * 2000)


def clear_backend(password):
    def answer(lookup):
        assert lookup.method == "clear_password"
        return AuthResult(True, secret=password.encode())
    return answer


def test_md5_success_and_wrong_password():
    done, steps = run(md5.Server("carol", rng(1)), md5.Peer("carol", "carol-Secret-3"),
                      clear_backend("carol-Secret-3"), identifier=77)
    assert done == Done(True) and steps[0] == Lookup("clear_password", "carol")
    done, _ = run(md5.Server("carol", rng(1)), md5.Peer("carol", "nope"),
                  clear_backend("carol-Secret-3"))
    assert not done.ok and "wrong password" in done.reason


def test_md5_identifier_is_part_of_the_hash():
    # RFC 1994 §4.1: a response computed for another Identifier does not verify
    server = md5.Server("carol", rng(1))
    data = server.start(10)
    step = server.receive(md5.Peer("carol", "carol-Secret-3").receive(data, 11))
    assert not server.answer(clear_backend("carol-Secret-3")(step)).ok


def test_md5_rfc1994_value():
    # MD5(Identifier | secret | challenge), computed independently
    import hashlib
    assert md5.response_value(1, b"s", b"c") == hashlib.md5(b"\x01sc").digest()


@pytest.mark.parametrize("data", [b"", bytes([16]) + bytes(10), bytes([15]) + bytes(16)])
def test_md5_malformed(data):
    server = md5.Server("carol", rng(1))
    server.start(1)
    with pytest.raises(EapError):
        server.receive(data)


def test_md5_without_a_clear_password():
    server = md5.Server("alice", rng(1))
    server.start(1)
    server.receive(bytes([16]) + bytes(16))
    done = server.answer(AuthResult(True, secret=b""))
    assert not done.ok and "no clear-text password" in done.reason
