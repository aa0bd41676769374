"""TLS for the gRPC server: certificate checks at startup, then grpc.ssl_server_credentials.

The backend refuses to start with unreadable files, a key that does not match the certificate, or
an expired (or not yet valid) certificate, and warns when one expires within 30 days. With a
client CA, every client must present a certificate that CA signed (and that is valid now)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

WARN_DAYS = 30


class TlsError(Exception):
    """The TLS files cannot be used; str(exc) says which file and why."""


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str
    client_ca: str | None = None


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise TlsError(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc


def _certificates(data: bytes, path: str, what: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TlsError(f"the {what} {path} is not a PEM certificate: {exc}") from exc
    if not certs:
        raise TlsError(f"the {what} {path} holds no certificate")
    return certs


def _check_dates(cert: x509.Certificate, path: str, what: str, now: dt.datetime) -> str | None:
    """Raises TlsError when `cert` is not valid at `now`; a warning when it expires soon."""
    end = cert.not_valid_after_utc
    if now >= end:
        raise TlsError(f"the {what} {path} expired on {end:%Y-%m-%d %H:%M} UTC: renew it")
    if now < cert.not_valid_before_utc:
        raise TlsError(
            f"the {what} {path} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    left = end - now
    if left < dt.timedelta(days=WARN_DAYS):
        return f"the {what} {path} expires in {left.days} days ({end:%Y-%m-%d} UTC): renew it soon"
    return None


def server_credentials(
    files: TlsFiles, now: dt.datetime | None = None
) -> tuple[grpc.ServerCredentials, list[str]]:
    """Credentials for `add_secure_port`, and warnings to show. Raises TlsError."""
    now = now or dt.datetime.now(dt.UTC)
    warnings: list[str] = []
    cert_pem = _read(files.cert, "TLS certificate")
    key_pem = _read(files.key, "TLS key")
    leaf = _certificates(cert_pem, files.cert, "TLS certificate")[0]
    if w := _check_dates(leaf, files.cert, "TLS certificate", now):
        warnings.append(w)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise TlsError(f"the TLS key {files.key} is not an unencrypted PEM private key: {exc}") from exc
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if key.public_key().public_bytes(enc, pub) != leaf.public_key().public_bytes(enc, pub):
        raise TlsError(f"the TLS key {files.key} does not match the certificate {files.cert}")
    ca_pem = None
    if files.client_ca:
        ca_pem = _read(files.client_ca, "client CA")
        for ca in _certificates(ca_pem, files.client_ca, "client CA"):
            if w := _check_dates(ca, files.client_ca, "client CA", now):
                warnings.append(w)
    creds = grpc.ssl_server_credentials(
        [(key_pem, cert_pem)], root_certificates=ca_pem, require_client_auth=ca_pem is not None
    )
    return creds, warnings
