"""A throwaway certificate authority and a server certificate for 127.0.0.1/localhost.

Production talks to PostgreSQL and Redis over TLS with full verification, so the tests must too: a self-signed
server certificate would only exercise "verify nothing". The CA lives for the session in a temporary directory;
its private key is kept (0600) so later tests can issue client certificates for mutual-TLS cases.

Certificates carry the extensions strict verifiers insist on (Python 3.13's VERIFY_X509_STRICT, libpq,
OpenSSL 3): basic constraints, key usage, subject/authority key identifiers, and SANs for every name a
test dials (localhost, 127.0.0.1, ::1).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .workdirs import temporary_workdir

#: Long enough for any test session, short enough that a leaked key is worthless soon.
VALIDITY = datetime.timedelta(days=2)
#: Backdating absorbs clock skew between this host and containers or VMs that verify the certificate.
BACKDATE = datetime.timedelta(minutes=5)

SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class TlsBundle:
    """Paths of the test CA and of the server certificate it signed (PEM files)."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path


def create_test_ca(directory: Path, *, common_name: str = "nl2api functional-test CA") -> TlsBundle:
    """Write ca.crt, ca.key, server.crt and server.key into `directory` and return their paths.

    The directory and certificates are world-readable (daemons running as other users, e.g. postgres, must read
    the CA); the keys are 0600 and owned by the caller. Daemons that need the server key under their own uid get
    a private copy from install_server_pair()."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _ca_certificate(ca_key, common_name)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _server_certificate(server_key, ca_key, ca_cert)

    bundle = TlsBundle(
        directory=directory,
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
    )
    _write(bundle.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(bundle.ca_key, _private_pem(ca_key), 0o600)
    _write(bundle.server_cert, server_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(bundle.server_key, _private_pem(server_key), 0o600)
    return bundle


@contextmanager
def temporary_test_ca() -> Iterator[TlsBundle]:
    """A test CA in a fresh temporary directory that is removed, keys included, when the block ends."""
    with temporary_workdir("tls") as directory:
        yield create_test_ca(directory)


def install_server_pair(bundle: TlsBundle, destination: Path, *, uid: int, gid: int) -> tuple[Path, Path]:
    """Copy the server certificate and key into `destination`, owned by uid:gid, key 0600.

    PostgreSQL refuses a key that its own uid does not own (or that group/others can read), so it cannot use
    the shared copy that belongs to the test runner."""
    cert = destination / "server.crt"
    key = destination / "server.key"
    _write(cert, bundle.server_cert.read_bytes(), 0o644)
    _write(key, bundle.server_key.read_bytes(), 0o600)
    for path in (cert, key):
        os.chown(path, uid, gid)
    return cert, key


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """Digital signatures (ECDSA TLS handshakes), and for a CA also certificate and CRL signing; nothing else."""
    return x509.KeyUsage(
        digital_signature=True,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, common_name: str) -> x509.Certificate:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    public_key = key.public_key()
    builder = (
        _base_builder(subject=name, issuer=name, public_key=public_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
    )
    return builder.sign(key, hashes.SHA256())


def _server_certificate(
    key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
) -> x509.Certificate:
    """A TLS server certificate for the loopback names, signed by the test CA."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_DNS_NAMES[0])])
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in SERVER_DNS_NAMES]
    alt_names += [x509.IPAddress(ipaddress.ip_address(address)) for address in SERVER_IP_ADDRESSES]
    builder = (
        _base_builder(subject=subject, issuer=ca_cert.subject, public_key=key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(ca_key, hashes.SHA256())


def _base_builder(
    *, subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    """Subject, issuer, key, a random serial and the validity window shared by every certificate here."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
    )


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """Unencrypted PKCS#8 PEM: daemons read their keys at startup without a passphrase prompt."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from the start, so a key is never readable by others, not even briefly."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # O_CREAT honours the umask and leaves an existing file's mode alone
