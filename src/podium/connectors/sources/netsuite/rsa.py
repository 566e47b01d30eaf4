"""RSA-PSS (PS256) signatures with the standard library alone, for OAuth 2.0 JWTs.

NetSuite's client-credentials flow takes a JWT signed with the private key whose
certificate was uploaded (the ``kid`` is that certificate's id). Oracle retired the RSA
PKCS#1 v1.5 scheme (RS256) for this flow, so PS256 is used: RSASSA-PSS with SHA-256,
MGF1-SHA-256 and a 32-byte salt (RFC 8017 §8.1, §9.1). The project ships no crypto package,
and these are a few lines of integer arithmetic over ``pow``; ``openssl`` verifies them in
``tests/unit/test_netsuite_auth.py``.

Keys are read from PEM: PKCS#8 (``BEGIN PRIVATE KEY``) or PKCS#1 (``BEGIN RSA PRIVATE
KEY``). Signing is not constant-time: fine for a key used once an hour from a trusted host.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.DOTALL)
_RSA_OID = bytes.fromhex("2a864886f70d010101")
_H = 32  # SHA-256 length, also the salt length


@dataclass(frozen=True)
class RsaKey:
    n: int
    e: int
    d: int = 0  # 0 for a public key

    @property
    def size(self) -> int:
        return (self.n.bit_length() + 7) // 8


def _tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, content, next position) of the DER element at ``at``."""
    tag, length = data[at], data[at + 1]
    at += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    return tag, data[at : at + length], at + length


def _sequence(data: bytes) -> list[tuple[int, bytes]]:
    tag, content, _ = _tlv(data, 0)
    if tag != 0x30:
        raise ValueError("not a DER SEQUENCE")
    items, at = [], 0
    while at < len(content):
        tag, value, at = _tlv(content, at)
        items.append((tag, value))
    return items


def _rsa_private(der: bytes) -> RsaKey:
    ints = [int.from_bytes(v, "big") for t, v in _sequence(der) if t == 0x02]
    return RsaKey(n=ints[1], e=ints[2], d=ints[3])


def load_private_key(pem: str) -> RsaKey:
    """The RSA key in a PEM text; ``ValueError`` (without the key in it) otherwise."""
    match = _PEM.search(pem)
    if match is None:
        raise ValueError("expected a PEM private key (-----BEGIN PRIVATE KEY-----)")
    label, der = match.group(1), base64.b64decode("".join(match.group(2).split()))
    try:
        if label == "RSA PRIVATE KEY":
            return _rsa_private(der)
        if label == "PRIVATE KEY":
            items = _sequence(der)
            if _RSA_OID not in items[1][1]:
                raise ValueError("the PKCS#8 key is not an RSA key (EC keys are not supported)")
            return _rsa_private(items[2][1])
    except (IndexError, ValueError) as exc:
        raise ValueError(f"the {label} could not be read: {exc}") from None
    raise ValueError(f"expected an RSA private key, got a PEM {label}")


def _mgf1(seed: bytes, length: int) -> bytes:
    out = b"".join(
        hashlib.sha256(seed + i.to_bytes(4, "big")).digest() for i in range((length + _H - 1) // _H)
    )
    return out[:length]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def sign_ps256(key: RsaKey, message: bytes, salt: Callable[[int], bytes] = os.urandom) -> bytes:
    """RSASSA-PSS-SIGN with SHA-256 and a 32-byte salt."""
    bits = key.n.bit_length() - 1
    length = (bits + 7) // 8
    salt_bytes = salt(_H)
    digest = hashlib.sha256(b"\0" * 8 + hashlib.sha256(message).digest() + salt_bytes).digest()
    block = b"\0" * (length - 2 * _H - 2) + b"\x01" + salt_bytes
    masked = bytearray(_xor(block, _mgf1(digest, length - _H - 1)))
    masked[0] &= 0xFF >> (8 * length - bits)
    encoded = int.from_bytes(bytes(masked) + digest + b"\xbc", "big")
    return pow(encoded, key.d, key.n).to_bytes(key.size, "big")


def verify_ps256(key: RsaKey, message: bytes, signature: bytes) -> bool:
    """RSASSA-PSS-VERIFY with SHA-256 and a 32-byte salt."""
    if len(signature) != key.size:
        return False
    bits = key.n.bit_length() - 1
    length = (bits + 7) // 8
    encoded = pow(int.from_bytes(signature, "big"), key.e, key.n).to_bytes(length, "big")
    if encoded[-1] != 0xBC:
        return False
    masked, digest = encoded[: length - _H - 1], encoded[length - _H - 1 : -1]
    block = bytearray(_xor(masked, _mgf1(digest, length - _H - 1)))
    block[0] &= 0xFF >> (8 * length - bits)
    pad = length - 2 * _H - 2
    if any(block[:pad]) or block[pad] != 1:
        return False
    salt_bytes = bytes(block[-_H:])
    expected = hashlib.sha256(b"\0" * 8 + hashlib.sha256(message).digest() + salt_bytes).digest()
    return expected == digest
