# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster PKI: what to issue (the plan) and issuing it idempotently into a directory.

Pure Python (cryptography and netaddr) so that it can be unit-tested without Ansible. The module
``corral.cluster.cluster_pki`` computes the plan with :func:`certificate_plan` and applies it with
:func:`reconcile` on the controller.

A rerun never regenerates what is still good: a key is kept while it parses and is of the
requested type, a certificate while it matches its key, is signed by its current CA, is not
within ``renew_before_days`` of expiry and carries the subject, SANs and usages of the plan.
Anything else is reissued (with the existing key when that key is good) and the reason reported.
"""

import base64
import datetime
import ipaddress
import os
import tempfile
import traceback
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

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

KEY_TYPES = ("rsa", "ecdsa")
RSA_KEY_SIZE = 2048  # what every Kubernetes and etcd release accepts
DEFAULT_CA_DAYS = 3650
DEFAULT_CERT_DAYS = 365
DEFAULT_RENEW_BEFORE_DAYS = 30
# Backdated so that a host whose clock lags the controller a little accepts a fresh certificate.
CLOCK_SKEW = datetime.timedelta(minutes=5)
# The PKI lives on the controller, under cluster_state_dir: nothing there is for other users,
# certificates included. Set explicitly (never left to the umask).
KEY_MODE = 0o600
CERT_MODE = 0o600
DIR_MODE = 0o700
SECRET_BYTES = 32  # AES-256 (aescbc) and secretbox keys

# Extended key usages (their OIDs, as cryptography's ExtendedKeyUsageOID has them).
SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
# Usage profiles: the extended key usages a certificate of each profile carries.
PROFILES = {
    "ca": frozenset(),
    "server": frozenset({SERVER_AUTH}),
    "client": frozenset({CLIENT_AUTH}),
    "peer": frozenset({SERVER_AUTH, CLIENT_AUTH}),
    "keypair": frozenset(),
    "secret": frozenset(),  # a random key, no certificate: the Secrets encryption key
}

CLUSTER_CA = "ca"
ETCD_CA = "etcd/ca"
FRONT_PROXY_CA = "front-proxy-ca"
SERVICE_ACCOUNT_KEY = "sa"
ENCRYPTION_KEY = "secrets-encryption"
# flanneld's client certificates, by flannel store: etcd (etcd CA) or the Kubernetes API (cluster CA).
FLANNEL_STORES = ("etcd", "kubernetes")
FLANNEL_CLIENTS = {"etcd": ("etcd/flannel-client", ETCD_CA), "kubernetes": ("flannel", CLUSTER_CA)}
FLANNEL_USER = "flannel"


# --- The plan -------------------------------------------------------------------------------


class CertSpec(NamedTuple):
    """One certificate (or, for profile ``keypair``, one bare key pair) of the cluster PKI."""

    name: str  # path under the PKI directory without extension, e.g. etcd/server-node1
    profile: str  # ca, server, client, peer or keypair
    common_name: str = ""
    organizations: Tuple[str, ...] = ()
    issuer: Optional[str] = None  # name of the issuing CA; None for a CA (self-signed) and a key pair
    dns_names: Tuple[str, ...] = ()
    ip_addresses: Tuple[str, ...] = ()
    hosts: Tuple[str, ...] = ()  # inventory hosts that receive the certificate (and a leaf's key)

    @property
    def key_file(self) -> str:
        return f"{self.name}.key"

    @property
    def cert_file(self) -> str:
        if self.profile == "secret":
            return self.key_file
        return f"{self.name}.pub" if self.profile == "keypair" else f"{self.name}.crt"

    def as_dict(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "profile": self.profile,
            "cert_file": self.cert_file,
            "key_file": self.key_file,
            "issuer": self.issuer,
            "common_name": self.common_name,
            "organizations": list(self.organizations),
            "dns_names": list(self.dns_names),
            "ip_addresses": list(self.ip_addresses),
            "hosts": list(self.hosts),
        }


def apiserver_sans(
    control_plane_nodes: Iterable[Tuple[str, str]],
    service_cidr: str,
    cluster_domain: str,
    extra_sans: Iterable[str] = (),
) -> Tuple[List[str], List[str]]:
    """(DNS names, IP addresses) kube-apiserver is reached at, sorted and without duplicates.

    ``control_plane_nodes`` holds (node name, node IP) pairs; ``extra_sans`` load-balancer or
    other names and addresses, each sorted into IP or DNS by its form.
    """
    kubernetes_service_ip = netaddr.IPNetwork(service_cidr).network + 1
    dns = {
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
        "localhost",
    }
    ips = {netaddr.IPAddress(kubernetes_service_ip), netaddr.IPAddress("127.0.0.1")}
    for name, address in control_plane_nodes:
        dns.add(name)
        ips.add(netaddr.IPAddress(address))
    for extra in extra_sans:
        text = str(extra).strip()
        if not text:
            continue
        if netaddr.valid_ipv4(text) or netaddr.valid_ipv6(text):
            ips.add(netaddr.IPAddress(text))
        else:
            dns.add(text.lower())
    return sorted(dns), [str(ip) for ip in sorted(ips)]


def certificate_plan(inventory: Mapping[str, Any]) -> List[CertSpec]:
    """Every CA, certificate and key pair of the cluster, CAs first.

    ``inventory`` is a plain dict: ``groups`` (group -> inventory hostnames), ``hosts``
    (hostname -> ``node_name`` and ``node_ip``) and ``settings`` (``cluster_service_cidr``,
    ``cluster_domain``, and optionally ``apiserver_extra_sans`` and ``flannel_store``: with etcd or
    kubernetes, flanneld on every node gets a client certificate for that store).
    """
    groups = inventory.get("groups", {})
    hosts = inventory.get("hosts", {})
    settings = inventory.get("settings", {})
    etcd = _unique(groups.get("etcd", ()))
    control_plane = _unique(groups.get("kube_control_plane", ()))
    k8s_nodes = _unique([*groups.get("k8s_cluster", ()), *control_plane, *groups.get("kube_node", ())])
    node_name = {host: str(hosts[host].get("node_name") or host) for host in _unique([*etcd, *k8s_nodes])}
    node_ip = {host: str(hosts[host]["node_ip"]) for host in node_name}
    cp = tuple(control_plane)
    flannel_store = settings.get("flannel_store") or ""
    if flannel_store and flannel_store not in FLANNEL_STORES:
        raise ValueError(f"flannel_store '{flannel_store}' is not one of {', '.join(FLANNEL_STORES)}")
    # flanneld on the nodes verifies the etcd members with the etcd CA.
    etcd_ca_hosts = [*etcd, *control_plane, *(k8s_nodes if flannel_store == "etcd" else ())]

    plan = [
        # The cluster CA's certificate goes to every node (kubelets verify clients with it); its key
        # to the control plane, where kube-controller-manager signs kubelet CSRs with it.
        CertSpec(CLUSTER_CA, "ca", "kubernetes", hosts=tuple(k8s_nodes)),
        CertSpec(ETCD_CA, "ca", "etcd-ca", hosts=tuple(_unique(etcd_ca_hosts))),
        CertSpec(FRONT_PROXY_CA, "ca", "front-proxy-ca", hosts=cp),
        CertSpec(SERVICE_ACCOUNT_KEY, "keypair", hosts=cp),
        CertSpec(ENCRYPTION_KEY, "secret", hosts=cp),
    ]
    for host in etcd:
        name, address = node_name[host], node_ip[host]
        plan += [
            CertSpec(
                f"etcd/server-{name}",
                "server",
                name,
                issuer=ETCD_CA,
                dns_names=tuple(sorted({name, "localhost"})),
                ip_addresses=tuple(sorted({address, "127.0.0.1"}, key=netaddr.IPAddress)),
                hosts=(host,),
            ),
            CertSpec(
                f"etcd/peer-{name}",
                "peer",
                name,
                issuer=ETCD_CA,
                dns_names=(name,),
                ip_addresses=(address,),
                hosts=(host,),
            ),
        ]
    dns_names, ip_addresses = apiserver_sans(
        [(node_name[host], node_ip[host]) for host in control_plane],
        settings["cluster_service_cidr"],
        settings["cluster_domain"],
        settings.get("apiserver_extra_sans", ()),
    )
    plan += [
        CertSpec(
            "etcd/healthcheck-client", "client", "kube-etcd-healthcheck-client", issuer=ETCD_CA, hosts=tuple(etcd)
        ),
        CertSpec(
            "apiserver",
            "server",
            "kube-apiserver",
            issuer=CLUSTER_CA,
            dns_names=tuple(dns_names),
            ip_addresses=tuple(ip_addresses),
            hosts=cp,
        ),
        # Not in system:masters: RBAC grants it the kubelet API only (system:kubelet-api-admin).
        CertSpec("apiserver-kubelet-client", "client", "kube-apiserver-kubelet-client", issuer=CLUSTER_CA, hosts=cp),
        CertSpec("apiserver-etcd-client", "client", "kube-apiserver-etcd-client", issuer=ETCD_CA, hosts=cp),
        CertSpec("front-proxy-client", "client", "front-proxy-client", issuer=FRONT_PROXY_CA, hosts=cp),
        CertSpec("controller-manager", "client", "system:kube-controller-manager", issuer=CLUSTER_CA, hosts=cp),
        CertSpec("scheduler", "client", "system:kube-scheduler", issuer=CLUSTER_CA, hosts=cp),
        CertSpec(
            "kube-proxy",
            "client",
            "system:kube-proxy",
            ("system:node-proxier",),
            issuer=CLUSTER_CA,
            hosts=tuple(k8s_nodes),
        ),
    ]
    for host in k8s_nodes:
        name, address = node_name[host], node_ip[host]
        plan += [
            CertSpec(f"kubelet-{name}", "client", f"system:node:{name}", ("system:nodes",), CLUSTER_CA, hosts=(host,)),
            CertSpec(
                f"kubelet-server-{name}",
                "server",
                name,
                issuer=CLUSTER_CA,
                dns_names=(name,),
                ip_addresses=(address,),
                hosts=(host,),
            ),
        ]
    if flannel_store:
        # One identity for flanneld on every node, as upstream's manifest has one service account.
        name, issuer = FLANNEL_CLIENTS[flannel_store]
        plan.append(CertSpec(name, "client", FLANNEL_USER, issuer=issuer, hosts=tuple(k8s_nodes)))
    plan.append(CertSpec("admin", "client", "kubernetes-admin", ("system:masters",), CLUSTER_CA, hosts=cp))
    return plan


# --- Reconciling the directory with the plan --------------------------------------------------


class Options(NamedTuple):
    ca_days: int = DEFAULT_CA_DAYS
    cert_days: int = DEFAULT_CERT_DAYS
    renew_before_days: int = DEFAULT_RENEW_BEFORE_DAYS
    key_type: str = "rsa"
    # Renewal on request: every leaf certificate issued before this time (UTC) is reissued.
    renew_issued_before: Optional[datetime.datetime] = None


class Changes:
    """What a reconcile run created or renewed (or would have, in check mode)."""

    def __init__(self, created: Optional[List[str]] = None, renewed: Optional[List[Dict[str, Any]]] = None,
                 permissions_fixed: Optional[List[str]] = None) -> None:
        self.created = list(created or [])  # files
        self.renewed = list(renewed or [])  # {"file": ..., "reasons": [...]}
        self.permissions_fixed = list(permissions_fixed or [])  # key files made 0600

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Changes):
            return NotImplemented
        return (self.created, self.renewed, self.permissions_fixed) == (
            other.created, other.renewed, other.permissions_fixed)

    def __repr__(self) -> str:
        return (f"Changes(created={self.created!r}, renewed={self.renewed!r}, "
                f"permissions_fixed={self.permissions_fixed!r})")

    @property
    def changed(self) -> bool:
        return bool(self.created or self.renewed or self.permissions_fixed)

    def record(self, file: str, existed: bool, reasons: Sequence[str]) -> None:
        if existed:
            self.renewed.append({"file": file, "reasons": list(reasons)})
        else:
            self.created.append(file)


class _Issued(NamedTuple):
    """A CA as known to the run: its key and certificate (None in check mode when not yet written)."""

    key: Optional[PrivateKey]
    cert: Optional["x509.Certificate"]
    rekeyed: bool  # a new key: every certificate it signed must be reissued


def reconcile(
    pki_dir: Union[str, Path],
    plan: Sequence[CertSpec],
    options: Options = Options(),
    write: bool = True,
    now: Optional[datetime.datetime] = None,
) -> Changes:
    """Bring ``pki_dir`` in line with ``plan``; with ``write=False`` only report what would change."""
    if options.key_type not in KEY_TYPES:
        raise ValueError(f"key_type '{options.key_type}' is not supported: use one of {', '.join(KEY_TYPES)}.")
    root = Path(pki_dir)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    changes = Changes()
    cas: Dict[str, _Issued] = {}
    if root.is_dir() and _mode(root) != DIR_MODE:
        changes.permissions_fixed.append("./")
    if write:
        _ensure_dir(root)
    for spec in plan:
        if spec.profile == "ca":
            cas[spec.name] = ensure_ca(root, spec, options, changes, write, now)
        elif spec.profile == "keypair":
            ensure_key_pair(root, spec, options, changes, write)
        elif spec.profile == "secret":
            ensure_secret(root, spec, changes, write)
        else:
            ensure_leaf(root, spec, cas[spec.issuer], options, changes, write, now)
    _fix_modes(root, plan, changes, write)
    return changes


def ensure_ca(
    root: Path, spec: CertSpec, options: Options, changes: Changes, write: bool, now: datetime.datetime
) -> _Issued:
    """Keep or (re)issue a self-signed CA; returns its key and certificate for signing leaves."""
    key, cert, reasons = _inspect(root, spec, options, None, now)
    if not reasons:
        return _Issued(key, cert, rekeyed=False)
    existed = _exists(root, spec)
    rekeyed = key is None
    if write:
        key = key or generate_key(options.key_type)
        cert = build_certificate(spec, key, key, None, options.ca_days, now)
        _save(root, spec, key if rekeyed else None, cert.public_bytes(serialization.Encoding.PEM))
    elif rekeyed:
        cert = None
    # In check mode a CA renewed with its key keeps its subject and key, so what it signed still verifies.
    changes.record(spec.cert_file, existed, reasons)
    return _Issued(key, cert, rekeyed)


def ensure_leaf(
    root: Path,
    spec: CertSpec,
    ca: _Issued,
    options: Options,
    changes: Changes,
    write: bool,
    now: datetime.datetime,
) -> None:
    """Keep or (re)issue a certificate signed by ``ca``."""
    if ca.rekeyed and _exists(root, spec):
        # Nothing the old key signed can verify any more; in check mode there is no new CA to check against.
        key, _unused = load_key(root / spec.key_file, options.key_type)
        reasons = [f"its CA {spec.issuer} has a new key"]
    else:
        key, _unused, reasons = _inspect(root, spec, options, ca.cert, now)
    if not reasons:
        return
    existed = _exists(root, spec)
    new_key = key is None
    if write:
        key = key or generate_key(options.key_type)
        cert = build_certificate(spec, key, ca.key, ca.cert, options.cert_days, now)
        _save(root, spec, key if new_key else None, cert.public_bytes(serialization.Encoding.PEM))
    changes.record(spec.cert_file, existed, reasons)


def _inspect(
    root: Path,
    spec: CertSpec,
    options: Options,
    issuer: Optional["x509.Certificate"],
    now: datetime.datetime,
) -> Tuple[Optional[PrivateKey], Optional["x509.Certificate"], List[str]]:
    """The usable key and certificate found for ``spec``, and why the certificate must be (re)issued.

    ``issuer`` is the certificate of the signing CA; None for a CA, which signs itself.
    """
    key, key_problem = load_key(root / spec.key_file, options.key_type)
    cert, cert_problem = load_certificate(root / spec.cert_file)
    reasons = [key_problem or f"{spec.key_file} is missing"] if key is None else []
    if cert_problem:
        reasons.append(cert_problem)
    elif cert is None:
        reasons.append(f"{spec.cert_file} is missing")
    elif key is not None:
        reasons += certificate_problems(cert, spec, key, issuer or cert, options.renew_before_days, now,
                                        options.renew_issued_before if spec.issuer else None)
    return key, cert, reasons


def _exists(root: Path, spec: CertSpec) -> bool:
    return (root / spec.cert_file).exists() or (root / spec.key_file).exists()


def ensure_key_pair(root: Path, spec: CertSpec, options: Options, changes: Changes, write: bool) -> None:
    """Keep or create a bare key pair (the service-account signing key and its public half)."""
    key, key_problem = load_key(root / spec.key_file, options.key_type)
    public_path = root / spec.cert_file
    reasons = [key_problem] if key_problem else []
    if key is not None:
        if not public_path.exists():
            reasons.append(f"{spec.cert_file} is missing")
        elif public_path.read_bytes() != public_pem(key):
            reasons.append(f"{spec.cert_file} is not the public half of {spec.key_file}")
    elif not key_problem:
        reasons.append(f"{spec.key_file} is missing")
    if not reasons:
        return
    existed = _exists(root, spec)
    new_key = key is None
    if write:
        key = key or generate_key(options.key_type)
        _save(root, spec, key if new_key else None, public_pem(key))
    changes.record(spec.cert_file, existed, reasons)


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
    if public_pem(key) != _public_key_pem(cert.public_key()):
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
    return _public_key_pem(key.public_key())


def _public_key_pem(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


# --- Files ------------------------------------------------------------------------------------


def ensure_secret(root: Path, spec: CertSpec, changes: Changes, write: bool) -> None:
    """Create once, then keep, a random 32-byte key (base64): the key that encrypts Secrets at
    rest. It is never replaced: a new key would make every stored Secret unreadable."""
    path = root / spec.key_file
    if path.exists():
        try:
            valid = len(base64.b64decode(path.read_bytes().strip(), validate=True)) == SECRET_BYTES
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(
                f"{path} is not a base64 {SECRET_BYTES}-byte key. It encrypts the cluster's Secrets at rest and is "
                "never regenerated: restore it from a backup of the cluster state directory."
            )
        return  # its mode is checked with the others (_fix_modes)
    if write:
        _write_atomic(path, base64.b64encode(os.urandom(SECRET_BYTES)) + b"\n", KEY_MODE)
    changes.record(spec.key_file, False, [f"{spec.key_file} is missing"])


def _save(root: Path, spec: CertSpec, new_key: Optional[PrivateKey], public_bytes: bytes) -> None:
    """Write a new key (when given) and the certificate or public key, each atomically."""
    if new_key is not None:
        _write_atomic(root / spec.key_file, _private_pem(new_key), KEY_MODE)
    _write_atomic(root / spec.cert_file, public_bytes, CERT_MODE)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _fix_modes(root: Path, plan: Sequence[CertSpec], changes: Changes, write: bool) -> None:
    """Put every planned file back to 0600 and its directory to 0700, reporting each one changed.

    A key (or anything else of the PKI) readable by others is as good as leaked to them.
    """
    seen = set(changes.permissions_fixed)
    for spec in plan:
        for name in dict.fromkeys((spec.key_file, spec.cert_file)):
            for relative, mode in ((str(Path(name).parent), DIR_MODE), (name, KEY_MODE)):
                path = root / relative
                if relative == "." or relative in seen or not path.exists() or _mode(path) == mode:
                    continue
                seen.add(relative)
                if write:
                    path.chmod(mode)
                changes.permissions_fixed.append(relative + "/" if path.is_dir() else relative)


def _write_atomic(path: Path, content: bytes, mode: int) -> None:
    _ensure_dir(path.parent)
    # mkstemp creates the file 0600, so a key is never readable by others, even for a moment.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _ensure_dir(path: Path) -> None:
    """The directory, 0700; so is every parent it creates (mkdir -p would leave them to the umask)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        directory.chmod(DIR_MODE)
    path.chmod(DIR_MODE)


# --- Expiry -----------------------------------------------------------------------------------


class ExpiryRow(NamedTuple):
    file: str
    common_name: str
    not_after: Optional[str]  # ISO 8601, UTC; None when unreadable
    days_left: Optional[int]

    def as_dict(self) -> Dict[str, Any]:
        return {
            "file": self.file,
            "common_name": self.common_name,
            "not_after": self.not_after,
            "days_left": self.days_left,
        }


def expiry_report(pki_dir: Union[str, Path], now: Optional[datetime.datetime] = None) -> List[ExpiryRow]:
    """One row per certificate (*.crt) under ``pki_dir``, by file name; days left rounded down."""
    root = Path(pki_dir)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for path in sorted(root.rglob("*.crt")):
        relative = path.relative_to(root).as_posix()
        cert, problem = load_certificate(path)
        if cert is None:
            rows.append(ExpiryRow(relative, f"({problem})", None, None))
            continue
        not_after = valid_until(cert)
        common_name = (_attributes(cert.subject, NameOID.COMMON_NAME) or [""])[0]
        rows.append(ExpiryRow(relative, common_name, not_after.isoformat(), (not_after - now).days))
    return rows


# --- Helpers ----------------------------------------------------------------------------------


def _attributes(name: "x509.Name", oid: "x509.ObjectIdentifier") -> List[str]:
    return [str(attribute.value) for attribute in name.get_attributes_for_oid(oid)]


def _key_description(key_type: str) -> str:
    return "ECDSA P-256" if key_type == "ecdsa" else f"RSA {RSA_KEY_SIZE}-bit or larger"


def _unique(items: Iterable[str]) -> List[str]:
    return list(dict.fromkeys(items))
