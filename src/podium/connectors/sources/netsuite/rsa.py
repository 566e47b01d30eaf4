"""The RSA key of NetSuite's OAuth 2.0 client-credentials flow, read with ``cryptography``.

NetSuite takes a JWT signed with the private key whose certificate was uploaded (the
``kid`` is that certificate's id); Oracle retired RS256 for this flow, so it is PS256
(RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt). PyJWT signs and checks it
(``oauth2.make_assertion``), on ``cryptography``'s constant-time RSA: no hand-written
arithmetic on the key.

Keys are read from PEM: PKCS#8 (``BEGIN PRIVATE KEY``) or PKCS#1 (``BEGIN RSA PRIVATE
KEY``), unencrypted. Errors never quote the key.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

RsaKey = RSAPrivateKey

__all__ = ["RSAPublicKey", "RsaKey", "load_private_key"]


def load_private_key(pem: str) -> RSAPrivateKey:
    """The RSA key in a PEM text; ``ValueError`` (without the key in it) otherwise."""
    if "-----BEGIN" not in pem:
        raise ValueError("expected a PEM private key (-----BEGIN PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        raise ValueError("the private key is encrypted; give it without a passphrase") from None
    except ValueError as exc:
        reason = str(exc).split("\n")[0].split(".")[0] or "not a key"
        raise ValueError(f"the PEM private key could not be read ({reason})") from None
    if not isinstance(key, RSAPrivateKey):
        name = type(key).__name__.removeprefix("_").replace("PrivateKey", "")
        raise ValueError(f"the key is not an RSA key ({name or 'another kind'} is not supported)")
    return key
