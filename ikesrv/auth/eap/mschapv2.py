"""EAP-MSCHAPv2: the RFC 2759 algorithm in the EAP framing Windows and strongSwan use.

Owns: the MS-CHAPv2 functions of RFC 2759 §8 (ChallengeHash, NtPasswordHash,
HashNtPasswordHash, ChallengeResponse, DesEncrypt, GenerateNTResponse,
GenerateAuthenticatorResponse), the MPPE keys of RFC 3079 §3.4 (GetMasterKey,
GetAsymmetricStartKey) and the 64-byte MSK IKEv2 uses, and both sides of the EAP method
(type 26, draft-kamath-pppext-eap-mschapv2): ``Server`` (the authenticator, a sans-I/O
state machine driven by ikesrv.ikev2.eap) and ``Peer`` (the client side, for the load
generator and the tests).

Framing (Type-Data after the EAP Type octet; MS-Length = the Type-Data's length)::

  Challenge  Request   OpCode 1 | MS-CHAPv2-ID | MS-Length | 16 | Challenge(16) | Name
  Response   Response  OpCode 2 | MS-CHAPv2-ID | MS-Length | 49 | Peer-Challenge(16)
                       | Reserved(8) | NT-Response(24) | Flags(1) | Name
  Success    Request   OpCode 3 | MS-CHAPv2-ID | MS-Length | "S=<40 hex> M=<message>"
             Response  OpCode 3
  Failure    Request   OpCode 4 | MS-CHAPv2-ID | MS-Length | "E=691 R=0 C=<32 hex> V=3 M=..."
             Response  OpCode 4

then EAP Success or Failure. One failure ends the conversation (R=0: no retry). The
same failure answers an unknown user, a wrong password and a user outside the group.

MSK (what both ends feed the final IKE AUTH, RFC 7296 §2.16): MasterReceiveKey |
MasterSendKey | 32 zero octets, the keys as the server names them: GetAsymmetricStartKey
with Magic2 then Magic3 (RFC 3079 §3.4), i.e. the client's send key then its receive key.
This is the layout of strongSwan's eap-mschapv2 plugin (and hostapd/wpa_supplicant).

Imports ikesrv.auth.eap.{framing,md4}, ikesrv._fast.des (DES over libcrypto; its oracle
is des_reference.py), hashlib and hmac. Secrets (NT hashes, responses, keys) are never
logged here.
"""

from __future__ import annotations

import hashlib
import hmac

from ikesrv._fast.des import challenge_response, des_encrypt

from ...actions import AuthResult
from ...constants import EapType
from ..users import NT_HASH, strip_domain
from .framing import Done, EapError, FailureRequest, Lookup, Request, Step
from .md4 import md4, nt_hash

CHALLENGE, RESPONSE, SUCCESS, FAILURE = 1, 2, 3, 4
CHALLENGE_LEN = 16
RESPONSE_VALUE_LEN = 49  # Peer-Challenge 16 + Reserved 8 + NT-Response 24 + Flags 1
MAX_NAME = 256
ERROR_AUTHENTICATION_FAILURE = 691  # RFC 2759 §6

# RFC 2759 §8.7
_MAGIC1 = b"Magic server to client signing constant"
_MAGIC2 = b"Pad to make it do more than one iteration"
# RFC 3079 §3.4
_MASTER_MAGIC = b"This is the MPPE Master Key"
_KEY_MAGIC2 = (b"On the client side, this is the send key; "
               b"on the server side, it is the receive key.")
_KEY_MAGIC3 = (b"On the client side, this is the receive key; "
               b"on the server side, it is the send key.")
_SHS_PAD1 = bytes(40)
_SHS_PAD2 = b"\xf2" * 40


# --- RFC 2759 §8 -------------------------------------------------------------------


def challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes,
                   username: bytes) -> bytes:
    """§8.2: the first 8 octets of SHA1(PeerChallenge | AuthenticatorChallenge | UserName),
    the user name without any domain part."""
    return hashlib.sha1(peer_challenge + authenticator_challenge + username).digest()[:8]


def hash_nt_password_hash(password_hash: bytes, *, md4=md4) -> bytes:
    """§8.4: MD4 of the NT password hash."""
    return md4(password_hash)


# §8.5 ChallengeResponse and §8.6 DesEncrypt are ikesrv._fast.des's (imported above)


def generate_nt_response(authenticator_challenge: bytes, peer_challenge: bytes,
                         username: bytes, password_hash: bytes, *,
                         des=challenge_response) -> bytes:
    """§8.1 GenerateNTResponse, from the NT hash (what a server holds) rather than the
    password: 24 octets."""
    return des(challenge_hash(peer_challenge, authenticator_challenge, username), password_hash)


def generate_authenticator_response(password_hash: bytes, nt_response: bytes,
                                    peer_challenge: bytes, authenticator_challenge: bytes,
                                    username: bytes, *, md4=md4) -> str:
    """§8.7: ``"S="`` and 40 upper-case hex digits, proving the server knew the hash."""
    hash_hash = hash_nt_password_hash(password_hash, md4=md4)
    digest = hashlib.sha1(hash_hash + nt_response + _MAGIC1).digest()
    challenge = challenge_hash(peer_challenge, authenticator_challenge, username)
    return "S=" + hashlib.sha1(digest + challenge + _MAGIC2).hexdigest().upper()


# --- RFC 3079 §3.4 and the MSK ---------------------------------------------------------


def master_key(password_hash_hash: bytes, nt_response: bytes) -> bytes:
    """GetMasterKey: 16 octets."""
    return hashlib.sha1(password_hash_hash + nt_response + _MASTER_MAGIC).digest()[:16]


def asymmetric_start_key(master: bytes, is_send: bool, is_server: bool,
                         length: int = 16) -> bytes:
    """GetAsymmetricStartKey: Magic2 for the client's send and the server's receive key,
    Magic3 for the other two."""
    magic = _KEY_MAGIC3 if is_send == is_server else _KEY_MAGIC2
    return hashlib.sha1(master + _SHS_PAD1 + magic + _SHS_PAD2).digest()[:length]


def msk(password_hash_hash: bytes, nt_response: bytes) -> bytes:
    """The 64-octet MSK: MasterReceiveKey | MasterSendKey (the server's names) | 32 zeros."""
    master = master_key(password_hash_hash, nt_response)
    return (asymmetric_start_key(master, is_send=False, is_server=True)
            + asymmetric_start_key(master, is_send=True, is_server=True) + bytes(32))


def verify(password_hash: bytes, authenticator_challenge: bytes, peer_challenge: bytes,
           username: bytes, nt_response: bytes, *, md4=md4,
           des=challenge_response) -> tuple[bool, str, bytes]:
    """The server's whole check of one Response: (verified, "S=..." message, MSK).

    ``md4`` and ``des`` are replaceable so that tests and the benchmark can run the
    reference implementations (md4_reference, des_reference).
    """
    expected = generate_nt_response(authenticator_challenge, peer_challenge, username,
                                    password_hash, des=des)
    if not hmac.compare_digest(expected, nt_response):
        return False, "", b""
    hash_hash = md4(password_hash)
    digest = hashlib.sha1(hash_hash + nt_response + _MAGIC1).digest()
    challenge = challenge_hash(peer_challenge, authenticator_challenge, username)
    auth = "S=" + hashlib.sha1(digest + challenge + _MAGIC2).hexdigest().upper()
    return True, auth, msk(hash_hash, nt_response)


# --- the EAP method ---------------------------------------------------------------------


def _packet(opcode: int, ms_id: int, body: bytes) -> bytes:
    """Type-Data with the MS-CHAPv2 header; MS-Length = EAP Length - 5 = this length."""
    return bytes([opcode, ms_id & 0xFF]) + (4 + len(body)).to_bytes(2, "big") + body


def _user_part(name: bytes) -> bytes:
    """RFC 2759 §4: the Name without a ``DOMAIN\\`` prefix, as ChallengeHash wants it."""
    head, sep, tail = name.rpartition(b"\\")
    return tail if sep else name


class Server:
    """The authenticator's side: Challenge, check the Response against the user's NT
    hash from the backend, Success (or Failure), then EAP Success (or Failure)."""

    eap_type = EapType.MSCHAPV2
    label = "eap-mschapv2"

    def __init__(self, username: str, rng, name: bytes = b"ikesrv"):
        self.username = strip_domain(username)
        self.rng = rng
        self.name = name
        self.state = "new"
        self.ms_id = 0
        self.challenge = b""
        # Peer-Challenge, NT-Response, Name of the Response being checked
        self._response: tuple[bytes, bytes, bytes] | None = None
        self._msk: bytes | None = None
        self._reason = ""

    def start(self, identifier: int) -> bytes:
        self.ms_id = identifier  # Windows and strongSwan echo it; any value would do
        self.challenge = self.rng(CHALLENGE_LEN)
        self.state = "challenge"
        return _packet(CHALLENGE, self.ms_id, bytes([CHALLENGE_LEN]) + self.challenge + self.name)

    def receive(self, data: bytes) -> Step:
        if not data:
            raise EapError("EAP-MSCHAPv2 response without an OpCode")
        opcode = data[0]
        if self.state == "challenge":
            if opcode != RESPONSE:
                raise EapError(f"EAP-MSCHAPv2 OpCode {opcode} where a Response was due")
            if len(data) < 5 + RESPONSE_VALUE_LEN or data[4] != RESPONSE_VALUE_LEN:
                raise EapError(f"EAP-MSCHAPv2 Response of {len(data)} bytes "
                               f"(Value-Size {data[4] if len(data) > 4 else '-'}, 49 expected)")
            name = data[5 + RESPONSE_VALUE_LEN:]
            if len(name) > MAX_NAME:
                raise EapError(f"EAP-MSCHAPv2 Name of {len(name)} bytes")
            self._response = (bytes(data[5:21]), bytes(data[29:53]), _user_part(bytes(name)))
            self.state = "lookup"
            return Lookup(NT_HASH, self.username)
        if self.state == "success_sent":
            if opcode == SUCCESS:
                self.state = "done"
                return Done(True, msk=self._msk)
            # the peer did not accept our Authenticator Response: it doubts who we are
            self.state = "done"
            return Done(False, f"the client rejected our EAP-MSCHAPv2 authenticator "
                               f"response (OpCode {opcode})")
        if self.state == "failure_sent":
            self.state = "done"  # the Failure Response (OpCode 4), or anything: it is over
            return Done(False, self._reason)
        raise EapError(f"EAP-MSCHAPv2 message in state {self.state}")

    def answer(self, result: AuthResult) -> Step:
        if self.state != "lookup" or self._response is None:
            raise EapError("EAP-MSCHAPv2: a backend answer nobody asked for")
        peer_challenge, nt_response, name = self._response
        self._response = None
        reason = result.reason
        ok = result.ok and len(result.secret) == 16
        if result.ok and not ok:
            reason = "the users backend returned an NT hash that is not 16 bytes"
        if ok:
            ok, auth, self._msk = verify(result.secret, self.challenge, peer_challenge, name,
                                         nt_response)
            if not ok:
                reason = "wrong password (EAP-MSCHAPv2 NT-Response does not verify)"
        if ok:
            self.state = "success_sent"
            return Request(_packet(SUCCESS, self.ms_id,
                                   f"{auth} M=OK".encode()))
        self.state = "failure_sent"
        self._reason = reason
        retry_challenge = self.rng(CHALLENGE_LEN).hex().upper()
        message = (f"E={ERROR_AUTHENTICATION_FAILURE} R=0 C={retry_challenge} V=3 "
                   "M=FAILED")  # one word: some peers split the message at spaces
        return FailureRequest(_packet(FAILURE, self.ms_id, message.encode()), reason)


class Peer:
    """The client's side: answers the Challenge from the password, checks the server's
    Authenticator Response, derives the MSK."""

    eap_type = EapType.MSCHAPV2

    def __init__(self, identity: str, password: str, rng):
        self.identity = identity.encode("utf-8")
        self.password_hash = nt_hash(password)
        self.rng = rng
        self.msk: bytes | None = None
        self.failed: str | None = None
        self._expect = ""
        self._nt_response = b""

    def receive(self, data: bytes, identifier: int = 0) -> bytes:
        """Type-Data answering one Request; EapError when it cannot be answered."""
        if len(data) < 4:
            raise EapError("short EAP-MSCHAPv2 request")
        opcode, ms_id = data[0], data[1]
        if opcode == CHALLENGE:
            if len(data) < 5 + CHALLENGE_LEN or data[4] != CHALLENGE_LEN:
                raise EapError("malformed EAP-MSCHAPv2 Challenge")
            auth_challenge = bytes(data[5:5 + CHALLENGE_LEN])
            peer_challenge = self.rng(CHALLENGE_LEN)
            user = _user_part(self.identity)
            self._nt_response = generate_nt_response(auth_challenge, peer_challenge, user,
                                                     self.password_hash)
            self._expect = generate_authenticator_response(
                self.password_hash, self._nt_response, peer_challenge, auth_challenge, user)
            value = peer_challenge + bytes(8) + self._nt_response + b"\x00"
            return _packet(RESPONSE, ms_id, bytes([RESPONSE_VALUE_LEN]) + value + self.identity)
        if opcode == SUCCESS:
            message = bytes(data[4:]).decode("ascii", "replace")
            token = next((t for t in message.split(" ") if t.startswith("S=")), "")
            if not self._expect or not hmac.compare_digest(token.upper(), self._expect):
                self.failed = "the server's Authenticator Response does not verify"
                return bytes([FAILURE])
            self.msk = msk(md4(self.password_hash), self._nt_response)
            return bytes([SUCCESS])
        if opcode == FAILURE:
            self.failed = bytes(data[4:]).decode("ascii", "replace")
            return bytes([FAILURE])
        raise EapError(f"EAP-MSCHAPv2 OpCode {opcode}")


__all__ = ["Server", "Peer", "challenge_hash", "hash_nt_password_hash", "des_encrypt",
           "challenge_response", "generate_nt_response", "generate_authenticator_response",
           "master_key", "asymmetric_start_key", "msk", "verify", "nt_hash"]
