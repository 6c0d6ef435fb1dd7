# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster PKI: what to issue (the plan) and issuing it idempotently into a directory.

Pure Python (cryptography and netaddr) so that it can be unit-tested without Ansible. The module
``corral.cluster.cluster_pki`` computes the plan with :func:`certificate_plan` and applies it with
:func:`reconcile` on the controller. The plan is module_utils/_pki_plan.py, keys and certificates
module_utils/_pki_x509.py; this file reconciles a directory with the plan, writes the files and
reports expiry, and re-exports the names of the other two.

A rerun never regenerates what is still good: a key is kept while it parses and is of the
requested type, a certificate while it matches its key, is signed by its current CA, is not
within ``renew_before_days`` of expiry and carries the subject, SANs and usages of the plan.
Anything else is reissued (with the existing key when that key is good) and the reason reported.
"""

import base64
import datetime
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from ansible_collections.corral.cluster.plugins.module_utils._files import make_directories, write_atomic
from ansible_collections.corral.cluster.plugins.module_utils._pki_plan import (
    apiserver_sans,
    CERT_MODE,
    certificate_plan,
    CertSpec,
    CLIENT_AUTH,
    CLIENTS,
    CLOCK_SKEW,
    CLUSTER_CA,
    DEFAULT_CA_DAYS,
    DEFAULT_CERT_DAYS,
    DEFAULT_RENEW_BEFORE_DAYS,
    DIR_MODE,
    EMBEDDED,
    ENCRYPTION_KEY,
    ETCD_CA,
    FLANNEL_CLIENTS,
    FLANNEL_STORES,
    FLANNEL_USER,
    FRONT_PROXY_CA,
    HOST_FILES,
    host_files,
    host_kubeconfigs,
    KEY_MODE,
    KEY_TYPES,
    kubeconfig_user,
    KUBECONFIGS,
    NODE,
    PROFILES,
    RSA_KEY_SIZE,
    SECRET_BYTES,
    SERVER_AUTH,
    SERVICE_ACCOUNT_KEY,
)
from ansible_collections.corral.cluster.plugins.module_utils._pki_x509 import (
    build_certificate,
    certificate_pem,
    certificate_problems,
    common_name,
    describe,
    generate_key,
    IMPORT_ERROR,
    is_signed_by,
    issued_at,
    key_matches_type,
    load_certificate,
    load_key,
    parse_time,
    private_pem,
    PrivateKey,
    public_key_pem,
    public_pem,
    renewal_time,
    TIME_FORMATS,
    valid_until,
)

if TYPE_CHECKING:  # pragma: no cover
    from cryptography import x509


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
        _save(root, spec, key if rekeyed else None, certificate_pem(cert))
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
        _save(root, spec, key if new_key else None, certificate_pem(cert))
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
        _write_atomic(root / spec.key_file, private_pem(new_key), KEY_MODE)
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
    write_atomic(str(path), io.BytesIO(content), mode)


def _ensure_dir(path: Path) -> None:
    """The directory, 0700; so is every parent it creates (mkdir -p would leave them to the umask)."""
    make_directories(str(path), DIR_MODE)
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
        rows.append(ExpiryRow(relative, common_name(cert), not_after.isoformat(), (not_after - now).days))
    return rows


__all__ = [
    "apiserver_sans",
    "build_certificate",
    "CERT_MODE",
    "certificate_pem",
    "certificate_plan",
    "certificate_problems",
    "CertSpec",
    "Changes",
    "CLIENT_AUTH",
    "CLIENTS",
    "CLOCK_SKEW",
    "CLUSTER_CA",
    "common_name",
    "DEFAULT_CA_DAYS",
    "DEFAULT_CERT_DAYS",
    "DEFAULT_RENEW_BEFORE_DAYS",
    "describe",
    "DIR_MODE",
    "EMBEDDED",
    "ENCRYPTION_KEY",
    "ensure_ca",
    "ensure_key_pair",
    "ensure_leaf",
    "ensure_secret",
    "ETCD_CA",
    "expiry_report",
    "ExpiryRow",
    "FLANNEL_CLIENTS",
    "FLANNEL_STORES",
    "FLANNEL_USER",
    "FRONT_PROXY_CA",
    "generate_key",
    "HOST_FILES",
    "host_files",
    "host_kubeconfigs",
    "IMPORT_ERROR",
    "is_signed_by",
    "issued_at",
    "key_matches_type",
    "KEY_MODE",
    "KEY_TYPES",
    "kubeconfig_user",
    "KUBECONFIGS",
    "load_certificate",
    "load_key",
    "NODE",
    "Options",
    "parse_time",
    "private_pem",
    "PrivateKey",
    "PROFILES",
    "public_key_pem",
    "public_pem",
    "reconcile",
    "renewal_time",
    "RSA_KEY_SIZE",
    "SECRET_BYTES",
    "SERVER_AUTH",
    "SERVICE_ACCOUNT_KEY",
    "TIME_FORMATS",
    "valid_until",
]
