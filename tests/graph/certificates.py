"""Client certificates of every shape a connection may hold, made on the fly (nothing secret is checked in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

_RSA_KEY = None


def _rsa_key():
    global _RSA_KEY  # generating RSA keys is slow; one per session is enough
    if _RSA_KEY is None:
        _RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _RSA_KEY


def certificate(key, *, expired: bool = False) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "direct-routing-calls test app")])
    now = datetime.now(UTC)
    start, end = (now - timedelta(days=400), now - timedelta(days=35)) if expired else (now, now + timedelta(days=30))
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - timedelta(minutes=5))
        .not_valid_after(end)
        .sign(key, hashes.SHA256())
    )


def pem(
    *,
    password: str | None = None,
    expired: bool = False,
    key_type: str = "rsa",
    with_key: bool = True,
    with_certificate: bool = True,
    other_key: bool = False,
) -> bytes:
    """A PEM file: the private key (encrypted with ``password`` if given) followed by its certificate."""
    key = _rsa_key() if key_type == "rsa" else ec.generate_private_key(ec.SECP256R1())
    cert_key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if other_key else key
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    parts = []
    if with_key:
        parts.append(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    if with_certificate:
        parts.append(certificate(cert_key, expired=expired).public_bytes(serialization.Encoding.PEM))
    return b"".join(parts)


def pfx(*, password: str | None = None) -> bytes:
    """A PKCS12 (PFX) file with the key and its certificate, protected by ``password`` if given."""
    key = _rsa_key()
    encryption = serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(b"app", key, certificate(key), None, encryption)
