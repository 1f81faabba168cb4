"""A test grid PKI and token issuer: a CA, host and user certificates, RFC 3820 proxies, JWTs.

Everything is made with ``cryptography`` (and the CA directory hashed by
``openssl rehash``, the X509_CERT_DIR layout); tokens are signed with PyJWT.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from gridfs.service.x509 import PROXY_CERT_INFO

ISSUER = "https://issuer.test.example"
AUDIENCE = "https://catalog.test.example"
KID = "test-key-1"
# ProxyCertInfo ::= SEQUENCE { SEQUENCE { id-ppl-inheritAll } }, DER
_INHERIT_ALL = bytes.fromhex("300c300a06082b06010505071501")


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(*cns: str) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "org"),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, "gridtest"),
    ]
    return x509.Name(attrs + [x509.NameAttribute(NameOID.COMMON_NAME, cn) for cn in cns])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@dataclass
class Party:
    """A certificate and its key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    @property
    def dn(self) -> str:
        return "/" + "/".join(
            f"{a.rfc4514_attribute_name}={a.value}" for rdn in self.cert.subject.rdns for a in rdn
        )


def _sign(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: Party | None,
    *,
    ca: bool = False,
    proxy: bool = False,
    san: bool = False,
    days: float = 1.0,
    start: float = -1.0,
) -> Party:
    now = dt.datetime.now(dt.UTC)
    signer = issuer or Party(None, key)  # type: ignore[arg-type]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + dt.timedelta(hours=start))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=not ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if proxy:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(PROXY_CERT_INFO, _INHERIT_ALL), critical=True
        )
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return Party(builder.sign(signer.key, hashes.SHA256()), key)


class GridPKI:
    """A CA with its hashed directory, a host certificate, users, proxies and a token issuer."""

    def __init__(self, root: Path, ca_name: str = "Test CA") -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.ca = _sign(_name(ca_name), _key(), None, ca=True, days=30)
        self.ca_dir = root / "certificates"
        self.ca_dir.mkdir(exist_ok=True)
        (self.ca_dir / "test-ca.pem").write_bytes(_pem(self.ca.cert))
        subprocess.run(["openssl", "rehash", str(self.ca_dir)], check=True)
        host = _sign(_name("localhost"), _key(), self.ca, san=True)
        self.host_cert, self.host_key = root / "hostcert.pem", root / "hostkey.pem"
        self.host_cert.write_bytes(_pem(host.cert))
        self.host_key.write_bytes(_key_pem(host.key))
        self.token_key = _key()
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.token_key.public_key()))
        self.jwks = root / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [{**jwk, "kid": KID, "alg": "RS256"}]}))

    def user(self, name: str) -> Party:
        """An end-entity certificate for ``name``."""
        return _sign(_name(name), _key(), self.ca)

    def proxy(self, user: Party, *, hours: float = 12, start: float = -0.1) -> Path:
        """An RFC 3820 proxy of ``user`` in one file (cert, key, user cert), as voms-proxy-init."""
        subject = x509.Name([*user.cert.subject, x509.NameAttribute(NameOID.COMMON_NAME, "1234")])
        proxy = _sign(subject, _key(), user, proxy=True, days=hours / 24, start=start)
        path = self.root / f"x509up_{user.cert.serial_number}_{int(hours * 100)}"
        path.write_bytes(_pem(proxy.cert) + _key_pem(proxy.key) + _pem(user.cert))
        path.chmod(0o600)
        return path

    def revoke(self, *revoked: Party, days: float = 1.0) -> Path:
        """A CRL of the CA listing ``revoked``, in the CA directory as fetch-crl keeps it."""
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.cert.subject)
            .last_update(now - dt.timedelta(hours=1))
            .next_update(now + dt.timedelta(days=days))
        )
        for party in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(party.cert.serial_number)
                .revocation_date(now - dt.timedelta(minutes=5))
                .build()
            )
        crl = builder.sign(self.ca.key, hashes.SHA256())
        for old in self.ca_dir.glob("*.r[0-9]"):
            old.unlink()
        path = self.ca_dir / "test-ca.crl.pem"
        path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        subprocess.run(["openssl", "rehash", str(self.ca_dir)], check=True)
        return path

    def cert_files(self, user: Party) -> tuple[Path, Path]:
        """``user``'s certificate and key as two files (X509_USER_CERT, X509_USER_KEY)."""
        cert = self.root / f"usercert_{user.cert.serial_number}.pem"
        key = self.root / f"userkey_{user.cert.serial_number}.pem"
        cert.write_bytes(_pem(user.cert))
        key.write_bytes(_key_pem(user.key))
        key.chmod(0o600)
        return cert, key

    def claims(self, sub: str, **extra: Any) -> dict[str, Any]:
        """A WLCG-profile token's claims, valid for an hour."""
        now = int(time.time())
        return {
            "wlcg.ver": "1.0",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "iat": now,
            "nbf": now - 5,
            "exp": now + 3600,
            "jti": f"{sub}-{now}",
            **extra,
        }

    def token(self, sub: str, **extra: Any) -> str:
        """A signed token for ``sub``; ``extra`` claims override (``scope``, ``exp``...)."""
        return jwt.encode(
            self.claims(sub, **extra), self.token_key, algorithm="RS256", headers={"kid": KID}
        )

    def public_pem(self) -> bytes:
        return self.token_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any]) -> str:
    """``alg: none``: no signature at all."""
    head = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{head}.{b64(json.dumps(claims).encode())}."


def hs256_token(claims: dict[str, Any], secret: bytes) -> str:
    """HS256 with ``secret`` (the issuer's public key: the classic confusion attack)."""
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    body = b64(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def tampered(token: str, **changes: Any) -> str:
    """``token`` with claims changed and its signature kept."""
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return f"{head}.{b64(json.dumps({**claims, **changes}).encode())}.{signature}"
