"""The test CA issues a server certificate that strict TLS clients accept for every loopback name."""

from __future__ import annotations

import ipaddress
import stat

from cryptography import x509

from support.tls import TlsBundle


def test_server_certificate_is_signed_by_the_ca_and_names_loopback(test_ca: TlsBundle) -> None:
    ca = x509.load_pem_x509_certificate(test_ca.ca_cert.read_bytes())
    server = x509.load_pem_x509_certificate(test_ca.server_cert.read_bytes())

    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_private_keys_are_owner_only(test_ca: TlsBundle) -> None:
    for key in (test_ca.ca_key, test_ca.server_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(test_ca.ca_cert.stat().st_mode) == 0o644
