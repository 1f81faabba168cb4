"""X.509 on the server: the TLS context, the verified client chain, and the caller's DN.

The context verifies client certificates against a CA directory in the
``X509_CERT_DIR`` layout (hashed names, looked up as needed), accepts RFC 3820
proxy certificates (:data:`ssl.VERIFY_ALLOW_PROXY_CERTS`), and makes a
certificate optional so that token clients need none. OpenSSL has checked the
chain (signatures, validity, proxy rules) by the time a request arrives; the DN
of a proxy's caller is that of the first certificate of the chain that is not a
proxy: the end-entity certificate.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

__all__ = ["PROXY_CERT_INFO", "end_entity_dn", "grid_dn", "server_context", "verified_chain"]

_DER = 2  # _ssl.ENCODING_DER: how Python 3.11's private chain call names DER
PROXY_CERT_INFO = ObjectIdentifier("1.3.6.1.5.5.7.1.14")  # RFC 3820
_SHORT_NAMES = {NameOID.EMAIL_ADDRESS: "emailAddress"}


def server_context(cert: Path, key: Path, ca_dir: Path | None) -> ssl.SSLContext:
    """The TLS context of the service: its own certificate, optional verified client ones."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=cert, keyfile=key)
    if ca_dir is not None:
        context.load_verify_locations(capath=str(ca_dir))
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= ssl.VERIFY_ALLOW_PROXY_CERTS
    return context


def verified_chain(sock: ssl.SSLSocket | ssl.SSLObject) -> list[bytes]:
    """The client's chain as OpenSSL verified it (DER, leaf first); empty without one."""
    if sock.getpeercert(binary_form=True) is None:
        return []
    public = getattr(sock, "get_verified_chain", None)  # Python 3.13
    if public is not None:
        return [bytes(cert) for cert in public()]
    # Python 3.10 to 3.12 have the same call on the socket's OpenSSL object, not yet public.
    ssl_object = getattr(sock, "_sslobj")  # noqa: B009 - no public name before 3.13
    return [cert.public_bytes(_DER) for cert in ssl_object.get_verified_chain()]


def _is_proxy(cert: x509.Certificate) -> bool:
    try:
        cert.extensions.get_extension_for_oid(PROXY_CERT_INFO)
    except x509.ExtensionNotFound:
        return False
    return True


def grid_dn(name: x509.Name) -> str:
    """A name in the grid's (OpenSSL's one-line) form: ``/DC=org/DC=example/CN=Alice``."""
    parts = []
    for rdn in name.rdns:
        for attribute in rdn:
            short = _SHORT_NAMES.get(attribute.oid, attribute.rfc4514_attribute_name)
            parts.append(f"{short}={attribute.value!s}")
    return "/" + "/".join(parts)


def end_entity_dn(chain: Sequence[bytes]) -> str:
    """The DN the caller acts as: the end-entity certificate's, below any proxies."""
    for der in chain:
        cert = x509.load_der_x509_certificate(der)
        if not _is_proxy(cert):
            return grid_dn(cert.subject)
    raise ValueError("a certificate chain of proxies only")
