"""IKE SA keys logged by a test charon, turned into Wireshark's decryption tables.

Owns: reading the keys charon logs at ``ike`` log level 4 (IKEv2: Sk_ei, Sk_er, and
Sk_ai, Sk_ar for non-AEAD ciphers, after "selected proposal: IKE:..."; IKEv1: "encryption
key Ka"), writing them in the format of Wireshark's key tables (the format strongSwan's
save-keys plugin writes), and running tshark with those tables so that it decrypts::

    ikev2_decryption_table: ispi,rspi,sk_ei,sk_er,"encr name",sk_ai,sk_ar,"integ name"
    ikev1_decryption_table: icookie,encryption key

Hex without separators; an AES-GCM key includes its 4-byte salt. Key sets come out of the
log in the order the IKE SAs were keyed; the caller pairs them with the SPIs of those SAs
(from list-sas, or from the capture's IKE_SA_INIT responses). These are keys of
throw-away test SAs; nothing here may ever run against a real peer.

Imports only the standard library.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# strongSwan's algorithm names -> Wireshark's labels in its IKEv2 decryption UAT
WIRESHARK_ENCR = {
    **{f"AES_CBC_{n}": f"AES-CBC-{n} [RFC3602]" for n in (128, 192, 256)},
    **{f"AES_CTR_{n}": f"AES-CTR-{n} [RFC5930]" for n in (128, 192, 256)},
    **{
        f"AES_GCM_{icv}_{n}": f"AES-GCM-{n} with {icv} octet ICV [RFC5282]"
        for icv in (8, 12, 16)
        for n in (128, 192, 256)
    },
    **{
        f"AES_CCM_{icv}_{n}": f"AES-CCM-{n} with {icv} octet ICV [RFC5282]"
        for icv in (8, 12, 16)
        for n in (128, 192, 256)
    },
    "3DES_CBC": "3DES [RFC2451]",
    "NULL": "NULL [RFC2410]",
}
WIRESHARK_INTEG = {
    "NONE": "NONE [RFC4306]",
    "HMAC_MD5_96": "HMAC_MD5_96 [RFC2403]",
    "HMAC_SHA1_96": "HMAC_SHA1_96 [RFC2404]",
    "HMAC_SHA2_256_128": "HMAC_SHA2_256_128 [RFC4868]",
    "HMAC_SHA2_384_192": "HMAC_SHA2_384_192 [RFC4868]",
    "HMAC_SHA2_512_256": "HMAC_SHA2_512_256 [RFC4868]",
}

_HEX_LINE = re.compile(r"\[IKE\] +\d+: ((?:[0-9A-F]{2} ){0,15}[0-9A-F]{2})")


@dataclass
class KeySet:
    """Keys of one IKE SA as charon logged them (hex strings, lower case)."""

    version: int
    encr: str = ""
    integ: str = ""
    sk_ei: str = ""
    sk_er: str = ""
    sk_ai: str = ""
    sk_ar: str = ""
    ka: str = ""  # IKEv1 encryption key

    def __repr__(self) -> str:  # keys stay out of test reports
        return f"<KeySet IKEv{self.version} {self.encr}/{self.integ}>"


def parse_charon_log(text: str) -> list[KeySet]:
    """The key sets in ``text`` (a charon log written with ike log level 4), in order."""
    sets: list[KeySet] = []
    encr = integ = ""
    current: KeySet | None = None
    field: str | None = None
    for line in text.splitlines():
        m = re.search(r"selected proposal: IKE:([^ ]+)", line)
        if m:
            parts = m.group(1).split("/")
            encr = parts[0]
            integ = parts[1] if len(parts) > 1 and not parts[1].startswith("PRF_") else "NONE"
            field = None
            continue
        m = re.search(r"\[IKE\] Sk_(d|ei|er|ai|ar|pi|pr) secret =>", line)
        if m:
            name = m.group(1)
            if name == "d":
                current = KeySet(2, encr, integ)
                sets.append(current)
            field = f"sk_{name}" if name in ("ei", "er", "ai", "ar") else None
            continue
        if "[IKE] encryption key Ka =>" in line:
            current = KeySet(1, encr, integ)
            sets.append(current)
            field = "ka"
            continue
        m = _HEX_LINE.search(line)
        if m and field and current is not None:
            setattr(current, field, getattr(current, field) + m.group(1).replace(" ", "").lower())
            continue
        field = None
    return sets


def ikev2_table_line(ispi: str, rspi: str, keys: KeySet) -> str:
    encr = WIRESHARK_ENCR.get(keys.encr)
    integ = WIRESHARK_INTEG.get(keys.integ)
    if encr is None or integ is None:
        raise ValueError(f"no Wireshark name for {keys.encr}/{keys.integ}")
    return f'{ispi},{rspi},{keys.sk_ei},{keys.sk_er},"{encr}",{keys.sk_ai},{keys.sk_ar},"{integ}"'


def ikev1_table_line(icookie: str, keys: KeySet) -> str:
    return f"{icookie},{keys.ka}"


def write_keys_file(
    path: str | os.PathLike, ikev2: list[str], ikev1: list[str], note: str = ""
) -> None:
    """One file per capture: ``ikev2_decryption_table: <line>`` / ``ikev1_...`` lines."""
    lines = [f"# {line}" for line in note.splitlines()]
    lines += [f"ikev2_decryption_table: {line}" for line in ikev2]
    lines += [f"ikev1_decryption_table: {line}" for line in ikev1]
    Path(path).write_text("\n".join(lines) + "\n")


def read_keys_file(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    ikev2, ikev1 = [], []
    for line in Path(path).read_text().splitlines():
        if line.startswith("ikev2_decryption_table: "):
            ikev2.append(line.split(": ", 1)[1])
        elif line.startswith("ikev1_decryption_table: "):
            ikev1.append(line.split(": ", 1)[1])
    return ikev2, ikev1


def wireshark_config(
    keys_file: str | os.PathLike, config_home: str | os.PathLike
) -> dict[str, str]:
    """Write the tables of ``keys_file`` as Wireshark's personal configuration under
    ``config_home`` and return an environment for tshark (XDG_CONFIG_HOME) using it."""
    ikev2, ikev1 = read_keys_file(keys_file)
    conf = Path(config_home) / "wireshark"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "ikev2_decryption_table").write_text("".join(f"{line}\n" for line in ikev2))
    (conf / "ikev1_decryption_table").write_text("".join(f"{line}\n" for line in ikev1))
    return {**os.environ, "XDG_CONFIG_HOME": str(config_home)}
