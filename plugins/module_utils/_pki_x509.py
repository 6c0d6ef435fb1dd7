# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys and X.509 certificates of the cluster PKI: made, read, compared with their plan
(:func:`certificate_problems`), with their times. cryptography and netaddr; module_utils/pki.py
re-exports these names."""

import datetime
import ipaddress
import traceback
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.corral.cluster.plugins.module_utils._pki_plan import (
    CLOCK_SKEW,
    PROFILES,
    RSA_KEY_SIZE,
    CertSpec,
)

try:
    import netaddr
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:
    # The module cluster_pki reports it (missing_required_lib); nothing here works without them.
    IMPORT_ERROR = traceback.format_exc()  # type: Optional[str]
else:
    IMPORT_ERROR = None

PrivateKey = Any  # an rsa.RSAPrivateKey or an ec.EllipticCurvePrivateKey


def certificate_problems(
    cert: "x509.Certificate",
    spec: CertSpec,
    key: PrivateKey,
    issuer: "x509.Certificate",
    renew_before_days: int,
    now: datetime.datetime,
    renew_issued_before: Optional[datetime.datetime] = None,
) -> List[str]:
    """Why ``cert`` may not be kept (an empty list when it may)."""
    problems = []
    if public_pem(key) != public_key_pem(cert.public_key()):
        problems.append("the certificate does not match its key")
    if not is_signed_by(cert, issuer):
        problems.append(
            f"the certificate is not signed by the current {spec.issuer}"
            if spec.issuer
            else "the certificate is not self-signed"
        )
    days_left = (valid_until(cert) - now).total_seconds() / 86400
    if days_left < 0:
        problems.append(f"the certificate expired on {valid_until(cert):%Y-%m-%d}")
    elif days_left < renew_before_days:
        problems.append(
            f"the certificate expires on {valid_until(cert):%Y-%m-%d}, "
            f"within renew_before_days ({renew_before_days})"
        )
    if renew_issued_before is not None and issued_at(cert) < renew_issued_before:
        problems.append(
            f"the certificate was issued on {issued_at(cert):%Y-%m-%d %H:%M:%S}Z, "
            f"before renew_issued_before ({renew_issued_before:%Y-%m-%d %H:%M:%S}Z)"
        )
    problems += _differences(describe(cert), _planned(spec))
    return problems


def describe(cert: "x509.Certificate") -> Dict[str, Any]:
    """The parts of a certificate the plan fixes: subject, SANs and usages."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = sorted(san.get_values_for_type(x509.DNSName))
        ips = sorted(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = [], []
    try:
        usages = frozenset(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        usages = frozenset()
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return {
        "common name": _attributes(cert.subject, NameOID.COMMON_NAME)[:1] or [""],
        "organizations": sorted(_attributes(cert.subject, NameOID.ORGANIZATION_NAME)),
        "DNS SANs": dns,
        "IP SANs": ips,
        "extended key usages": sorted(usage.dotted_string for usage in usages),
        "CA flag": is_ca,
    }


def _planned(spec: CertSpec) -> Dict[str, Any]:
    return {
        "common name": [spec.common_name],
        "organizations": sorted(spec.organizations),
        "DNS SANs": sorted(spec.dns_names),
        "IP SANs": sorted(str(netaddr.IPAddress(ip)) for ip in spec.ip_addresses),
        "extended key usages": sorted(PROFILES[spec.profile]),
        "CA flag": spec.profile == "ca",
    }


def _differences(actual: Mapping[str, Any], planned: Mapping[str, Any]) -> List[str]:
    return [
        f"its {what} changed from {_show(actual[what])} to {_show(planned[what])}"
        for what in planned
        if actual[what] != planned[what]
    ]


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(item) for item in value) + "]"
    return str(value)


# --- Keys and certificates --------------------------------------------------------------------


def generate_key(key_type: str) -> PrivateKey:
    if key_type == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)


def key_matches_type(key: Any, key_type: str) -> bool:
    if key_type == "ecdsa":
        return isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)
    return isinstance(key, rsa.RSAPrivateKey) and key.key_size >= RSA_KEY_SIZE


def load_key(path: Path, key_type: str) -> Tuple[Optional[PrivateKey], Optional[str]]:
    """(key, None) for a usable key; (None, why not) otherwise, (None, None) when simply absent."""
    if not path.exists():
        return None, None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        return None, f"the key {path.name} is unreadable ({error.__class__.__name__}): a new key replaces it"
    if not key_matches_type(key, key_type):
        return None, f"the key {path.name} is not a {_key_description(key_type)} key (key_type): a new key replaces it"
    return key, None


def load_certificate(path: Path) -> Tuple[Optional["x509.Certificate"], Optional[str]]:
    """(certificate, None) when readable; (None, why not) otherwise, (None, None) when absent."""
    if not path.exists():
        return None, None
    try:
        return x509.load_pem_x509_certificate(path.read_bytes()), None
    except ValueError:
        return None, f"the certificate {path.name} is unreadable"


def issued_at(cert: "x509.Certificate") -> datetime.datetime:
    """When the certificate was issued (UTC, timezone-aware): its start of validity, which
    build_certificate sets CLOCK_SKEW before the time of issue."""
    return _utc(cert, "not_valid_before") + CLOCK_SKEW


# The forms parse_time accepts.
TIME_FORMATS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


def parse_time(text: str) -> datetime.datetime:
    """A UTC time given as 2026-12-03T08:00:00Z, 2026-12-03 08:00:00 or 2026-12-03 (timezone-aware);
    ValueError naming the accepted forms otherwise."""
    for form in TIME_FORMATS:
        try:
            return datetime.datetime.strptime(text.strip(), form).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    raise ValueError(f"'{text}' is not a time in UTC such as 2026-12-03T08:00:00Z, 2026-12-03 08:00:00 or 2026-12-03")


def renewal_time(text: str, now: datetime.datetime) -> Optional[datetime.datetime]:
    """The time of a renewal on request (None for ""); ValueError with the reason for a bad or future one."""
    if not text:
        return None
    value = parse_time(text)
    if value > now:
        raise ValueError(f"'{text}' is in the future: every run until then would reissue every certificate; "
                         "give the time of the request (now, or earlier)")
    return value


def valid_until(cert: "x509.Certificate") -> datetime.datetime:
    """The certificate's end of validity in UTC (timezone-aware)."""
    return _utc(cert, "not_valid_after")


def _utc(cert: "x509.Certificate", field: str) -> datetime.datetime:
    """A validity bound (not_valid_before or not_valid_after), timezone-aware.

    cryptography 42 added the ``*_utc`` attributes; older releases (the last for Python 3.6 is 40)
    only have the naive ones, which are UTC.
    """
    value = getattr(cert, f"{field}_utc", None)
    if value is None:
        value = getattr(cert, field).replace(tzinfo=datetime.timezone.utc)
    return value


def is_signed_by(cert: "x509.Certificate", issuer: "x509.Certificate") -> bool:
    if cert.issuer != issuer.subject:
        return False
    public_key = issuer.public_key()
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(
                cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm
            )
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def build_certificate(
    spec: CertSpec,
    key: PrivateKey,
    ca_key: PrivateKey,
    ca_cert: Optional["x509.Certificate"],
    days: int,
    now: datetime.datetime,
) -> "x509.Certificate":
    """Sign a certificate for ``spec``: self-signed when ``ca_cert`` is None."""
    subject = x509.Name(
        [
            *(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in spec.organizations),
            x509.NameAttribute(NameOID.COMMON_NAME, spec.common_name),
        ]
    )
    not_after = now + datetime.timedelta(days=days)
    if ca_cert is not None:
        # A certificate outliving its CA would fail verification anyway; renewal catches up with the CA.
        not_after = min(not_after, valid_until(ca_cert))
    is_ca = spec.profile == "ca"
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject if ca_cert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(_key_usage(is_ca, isinstance(key, rsa.RSAPrivateKey)), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    if PROFILES[spec.profile]:
        usages = [x509.ObjectIdentifier(dotted) for dotted in sorted(PROFILES[spec.profile])]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    sans = [x509.DNSName(name) for name in spec.dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in spec.ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _key_usage(is_ca: bool, rsa_key: bool) -> "x509.KeyUsage":
    return x509.KeyUsage(
        digital_signature=True,
        # Only RSA keys encrypt a TLS key exchange; ECDSA keys just sign.
        key_encipherment=rsa_key and not is_ca,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=is_ca,
        encipher_only=False,
        decipher_only=False,
    )


def public_pem(key: PrivateKey) -> bytes:
    return public_key_pem(key.public_key())


def public_key_pem(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def certificate_pem(cert: "x509.Certificate") -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def common_name(cert: "x509.Certificate") -> str:
    return (_attributes(cert.subject, NameOID.COMMON_NAME) or [""])[0]


def _attributes(name: "x509.Name", oid: "x509.ObjectIdentifier") -> List[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def _key_description(key_type: str) -> str:
    return "ECDSA P-256" if key_type == "ecdsa" else f"RSA {RSA_KEY_SIZE}-bit or larger"
