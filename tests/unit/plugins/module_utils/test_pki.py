"""Unit tests of the cluster PKI: SANs, the plan, issuing, idempotence, renewal and expiry."""

from __future__ import annotations

import base64

import datetime
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.corral.cluster.plugins.module_utils import pki
from cluster_settings import default_settings

SETTINGS = default_settings()
ECDSA = pki.Options(key_type="ecdsa")  # fast to generate; RSA is covered by its own test


def inventory(control_plane_ips: dict[str, str] | None = None, extra_sans: list[str] | None = None) -> dict[str, Any]:
    """Three etcd/control-plane members and a worker whose node name differs from its inventory name."""
    control_plane = control_plane_ips or {"cp-1": "192.168.1.11", "cp-2": "192.168.1.12", "cp-3": "192.168.1.13"}
    hosts = {host: {"node_name": host, "node_ip": ip} for host, ip in control_plane.items()}
    hosts["worker"] = {"node_name": "node-1", "node_ip": "192.168.1.21"}
    return {
        "groups": {
            "etcd": list(control_plane),
            "kube_control_plane": list(control_plane),
            "kube_node": ["worker"],
            "k8s_cluster": [*control_plane, "worker"],
        },
        "hosts": hosts,
        "settings": {**SETTINGS, "apiserver_extra_sans": extra_sans or []},
    }


PLAN = pki.certificate_plan(inventory())
BY_NAME = {spec.name: spec for spec in PLAN}


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PKI issued once for the module; tests work on copies of it."""
    root = tmp_path_factory.mktemp("issued") / "pki"
    pki.reconcile(root, PLAN, ECDSA)
    return root


@pytest.fixture
def pki_dir(issued: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "pki"
    shutil.copytree(issued, copy)
    return copy


def load(root: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((root / f"{name}.crt").read_bytes())


def serials(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): load(root, str(path.relative_to(root))[:-4]).serial_number
        for path in root.rglob("*.crt")
    }


def extended_usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def renewed_files(changes: pki.Changes) -> list[str]:
    return [entry["file"] for entry in changes.renewed]


def later(days: int) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


# --- SANs -----------------------------------------------------------------------------------


def test_apiserver_sans_hold_the_kubernetes_service_names_with_the_cluster_domain() -> None:
    dns, _unused = pki.apiserver_sans([], "10.96.0.0/12", "corp.example", [])
    assert dns == [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.corp.example",
        "localhost",
    ]


@pytest.mark.parametrize(("service_cidr", "first"), [("10.96.0.0/12", "10.96.0.1"), ("172.20.0.0/16", "172.20.0.1")])
def test_apiserver_sans_hold_the_first_service_address_and_loopback(service_cidr: str, first: str) -> None:
    _unused, ips = pki.apiserver_sans([], service_cidr, "cluster.local", [])
    assert ips == sorted([first, "127.0.0.1"], key=lambda ip: tuple(map(int, ip.split("."))))


def test_apiserver_sans_hold_every_control_plane_node() -> None:
    dns, ips = pki.apiserver_sans([("cp-2", "192.168.1.12"), ("cp-1", "192.168.1.11")], "10.96.0.0/12", "x.local")
    assert {"cp-1", "cp-2"} <= set(dns)
    assert ips == ["10.96.0.1", "127.0.0.1", "192.168.1.11", "192.168.1.12"]


def test_apiserver_extra_sans_are_split_into_ips_and_names_sorted_and_deduplicated() -> None:
    dns, ips = pki.apiserver_sans(
        [("cp-1", "192.168.1.11")],
        "10.96.0.0/12",
        "cluster.local",
        ["K8s.Example.com", "203.0.113.10", "192.168.1.11", "", "cp-1", "k8s.example.com"],
    )
    assert dns.count("k8s.example.com") == 1 and dns.count("cp-1") == 1
    assert ips == ["10.96.0.1", "127.0.0.1", "192.168.1.11", "203.0.113.10"]
    assert dns == sorted(dns)


# --- The plan -------------------------------------------------------------------------------


def test_plan_lists_every_file() -> None:
    expected = {
        "ca",
        "etcd/ca",
        "front-proxy-ca",
        "sa",
        "etcd/healthcheck-client",
        "apiserver",
        "apiserver-kubelet-client",
        "apiserver-etcd-client",
        "front-proxy-client",
        "controller-manager",
        "scheduler",
        "kube-proxy",
        "admin",
        "secrets-encryption",
        *(f"etcd/{kind}-cp-{n}" for kind in ("server", "peer") for n in (1, 2, 3)),
        *(f"kubelet{kind}-{node}" for kind in ("", "-server") for node in ("cp-1", "cp-2", "cp-3", "node-1")),
    }
    assert set(BY_NAME) == expected
    assert len(PLAN) == len(expected)
    assert BY_NAME["sa"].key_file == "sa.key" and BY_NAME["sa"].cert_file == "sa.pub"
    assert BY_NAME["etcd/server-cp-1"].cert_file == "etcd/server-cp-1.crt"


def test_plan_puts_the_cas_first_and_names_each_issuer() -> None:
    assert [spec.name for spec in PLAN[:3]] == ["ca", "etcd/ca", "front-proxy-ca"]
    issuers = {spec.name: spec.issuer for spec in PLAN}
    assert issuers["apiserver-etcd-client"] == issuers["etcd/healthcheck-client"] == "etcd/ca"
    assert issuers["front-proxy-client"] == "front-proxy-ca"
    assert issuers["apiserver"] == issuers["kubelet-node-1"] == issuers["admin"] == "ca"


@pytest.mark.parametrize(
    ("name", "common_name", "organizations", "profile"),
    [
        ("kubelet-node-1", "system:node:node-1", ("system:nodes",), "client"),
        ("admin", "kubernetes-admin", ("system:masters",), "client"),
        ("kube-proxy", "system:kube-proxy", ("system:node-proxier",), "client"),
        ("apiserver-kubelet-client", "kube-apiserver-kubelet-client", (), "client"),
        ("controller-manager", "system:kube-controller-manager", (), "client"),
        ("scheduler", "system:kube-scheduler", (), "client"),
        ("front-proxy-client", "front-proxy-client", (), "client"),
        ("kubelet-server-node-1", "node-1", (), "server"),
        ("etcd/peer-cp-2", "cp-2", (), "peer"),
    ],
)
def test_plan_subjects(name: str, common_name: str, organizations: tuple[str, ...], profile: str) -> None:
    spec = BY_NAME[name]
    assert (spec.common_name, spec.organizations, spec.profile) == (common_name, organizations, profile)


def test_plan_gives_each_etcd_member_its_own_server_and_peer_certificate() -> None:
    server = BY_NAME["etcd/server-cp-2"]
    assert server.dns_names == ("cp-2", "localhost")
    assert server.ip_addresses == ("127.0.0.1", "192.168.1.12")
    assert server.hosts == ("cp-2",)
    assert BY_NAME["etcd/peer-cp-2"].ip_addresses == ("192.168.1.12",)


def test_plan_names_node_certificates_by_node_name_and_sends_them_to_the_inventory_host() -> None:
    kubelet_server = BY_NAME["kubelet-server-node-1"]
    assert (kubelet_server.dns_names, kubelet_server.ip_addresses) == (("node-1",), ("192.168.1.21",))
    assert kubelet_server.hosts == BY_NAME["kubelet-node-1"].hosts == ("worker",)
    assert BY_NAME["ca"].hosts == ("cp-1", "cp-2", "cp-3", "worker")
    assert BY_NAME["apiserver"].hosts == ("cp-1", "cp-2", "cp-3")


def test_plan_apiserver_sans_include_the_load_balancer() -> None:
    spec = pki.certificate_plan(inventory(extra_sans=["lb.example.com", "192.168.1.100"]))
    apiserver = next(item for item in spec if item.name == "apiserver")
    assert "lb.example.com" in apiserver.dns_names and "192.168.1.100" in apiserver.ip_addresses
    assert "10.96.0.1" in apiserver.ip_addresses and "kubernetes.default.svc.cluster.local" in apiserver.dns_names


# --- Issuing ----------------------------------------------------------------------------------


def test_first_run_creates_every_file_with_private_modes(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    changes = pki.reconcile(root, PLAN, ECDSA)
    assert sorted(changes.created) == sorted(spec.cert_file for spec in PLAN)
    assert changes.changed and not changes.renewed
    for spec in PLAN:
        assert stat.S_IMODE((root / spec.key_file).stat().st_mode) == 0o600, spec.key_file
        if spec.profile != "secret":
            assert stat.S_IMODE((root / spec.cert_file).stat().st_mode) == 0o600, spec.cert_file
    assert stat.S_IMODE(root.stat().st_mode) == stat.S_IMODE((root / "etcd").stat().st_mode) == 0o700


def modes_under(top: Path) -> dict[str, int]:
    return {path.relative_to(top).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in [top, *top.rglob("*")]}


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000], ids=["umask-022", "umask-002", "umask-000"])
def test_the_state_directory_and_everything_in_it_are_private_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    # pki_dir in a cluster_state_dir that does not exist yet: both are created by the run.
    state = tmp_path / "corral" / "lab"
    previous = os.umask(umask)
    try:
        pki.reconcile(state / "pki", PLAN, ECDSA)
    finally:
        os.umask(previous)
    modes = modes_under(tmp_path / "corral")
    assert {mode for path, mode in modes.items() if (tmp_path / "corral" / path).is_dir()} == {0o700}
    assert {mode for path, mode in modes.items() if (tmp_path / "corral" / path).is_file()} == {0o600}
    assert "lab/pki/etcd/ca.key" in modes and len(modes) > 2 * len(PLAN)


def test_modes_left_by_an_older_release_are_made_private_and_reported(pki_dir: Path) -> None:
    # Certificates were 0644 and directories 0755 before; a rerun puts them right, once.
    pki_dir.chmod(0o755)
    (pki_dir / "etcd").chmod(0o755)
    for cert in pki_dir.rglob("*.crt"):
        cert.chmod(0o644)
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert changes.changed and not changes.created and not changes.renewed
    assert "./" in changes.permissions_fixed and "etcd/" in changes.permissions_fixed
    assert "etcd/ca.crt" in changes.permissions_fixed and "apiserver.crt" in changes.permissions_fixed
    assert set(modes_under(pki_dir).values()) == {0o600, 0o700}
    assert not pki.reconcile(pki_dir, PLAN, ECDSA).changed


def test_every_certificate_verifies_against_its_ca(issued: Path) -> None:
    for spec in PLAN:
        if spec.profile in ("keypair", "secret"):
            continue
        cert = load(issued, spec.name)
        ca = load(issued, spec.issuer or spec.name)
        assert cert.issuer == ca.subject, spec.name
        cert.verify_directly_issued_by(ca)  # raises on a bad signature


def test_usages_follow_the_profile(issued: Path) -> None:
    assert extended_usages(load(issued, "apiserver")) == {ExtendedKeyUsageOID.SERVER_AUTH}
    assert extended_usages(load(issued, "admin")) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert extended_usages(load(issued, "etcd/peer-cp-1")) == {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    }
    ca = load(issued, "ca")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert not load(issued, "admin").extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_subjects_and_sans_are_written_as_planned(issued: Path) -> None:
    kubelet = load(issued, "kubelet-node-1")
    assert kubelet.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:node-1"
    assert kubelet.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:nodes"
    san = load(issued, "apiserver").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == list(BY_NAME["apiserver"].dns_names)
    assert sorted(str(ip) for ip in san.get_values_for_type(x509.IPAddress)) == sorted(
        BY_NAME["apiserver"].ip_addresses
    )


def test_service_account_public_key_is_the_half_of_its_key(issued: Path) -> None:
    key, problem = pki.load_key(issued / "sa.key", "ecdsa")
    assert problem is None
    assert (issued / "sa.pub").read_bytes() == pki.public_pem(key)


def test_validity_follows_the_options(tmp_path: Path) -> None:
    plan = [BY_NAME["ca"], BY_NAME["admin"]]
    pki.reconcile(tmp_path, plan, pki.Options(ca_days=100, cert_days=10, renew_before_days=5, key_type="ecdsa"))
    assert 99 <= (load(tmp_path, "ca").not_valid_after_utc - later(0)).days <= 100
    assert 9 <= (load(tmp_path, "admin").not_valid_after_utc - later(0)).days <= 10


def test_leaf_never_outlives_its_ca(tmp_path: Path) -> None:
    plan = [BY_NAME["ca"], BY_NAME["admin"]]
    pki.reconcile(tmp_path, plan, pki.Options(ca_days=50, cert_days=365, renew_before_days=5, key_type="ecdsa"))
    assert load(tmp_path, "admin").not_valid_after_utc == load(tmp_path, "ca").not_valid_after_utc


def test_default_keys_are_rsa_2048(tmp_path: Path) -> None:
    pki.reconcile(tmp_path, [BY_NAME["ca"], BY_NAME["admin"], BY_NAME["sa"]])
    for name in ("ca", "admin", "sa"):
        key, _unused = pki.load_key(tmp_path / f"{name}.key", "rsa")
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    load(tmp_path, "admin").verify_directly_issued_by(load(tmp_path, "ca"))


def test_unknown_key_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="key_type 'dsa'"):
        pki.reconcile(tmp_path, PLAN, pki.Options(key_type="dsa"))


# --- Reruns -----------------------------------------------------------------------------------


def test_second_run_changes_nothing_and_keeps_serials(pki_dir: Path) -> None:
    before = {path: path.read_bytes() for path in pki_dir.rglob("*") if path.is_file()}
    kept_serials = serials(pki_dir)
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert not changes.changed
    assert serials(pki_dir) == kept_serials
    assert {path: path.read_bytes() for path in pki_dir.rglob("*") if path.is_file()} == before


def test_certificates_near_expiry_are_renewed_with_their_keys_and_the_cas_kept(pki_dir: Path) -> None:
    ca_before = (pki_dir / "ca.crt").read_bytes()
    admin_key = (pki_dir / "admin.key").read_bytes()
    changes = pki.reconcile(pki_dir, PLAN, ECDSA, now=later(340))
    leaves = [spec.cert_file for spec in PLAN if spec.profile not in ("ca", "keypair", "secret")]
    assert sorted(renewed_files(changes)) == sorted(leaves)
    assert all("within renew_before_days (30)" in entry["reasons"][0] for entry in changes.renewed)
    assert (pki_dir / "ca.crt").read_bytes() == ca_before
    assert (pki_dir / "admin.key").read_bytes() == admin_key
    assert load(pki_dir, "admin").not_valid_after_utc > later(700)


def test_renewal_on_request_reissues_every_leaf_once_with_its_key_and_keeps_the_cas(pki_dir: Path) -> None:
    cas = {name: (pki_dir / name).read_bytes() for name in ("ca.crt", "etcd/ca.crt", "front-proxy-ca.crt")}
    admin_key = (pki_dir / "admin.key").read_bytes()
    before = serials(pki_dir)
    request = ECDSA._replace(renew_issued_before=later(1))
    changes = pki.reconcile(pki_dir, PLAN, request, now=later(2))
    leaves = [spec.cert_file for spec in PLAN if spec.profile not in ("ca", "keypair", "secret")]
    assert sorted(renewed_files(changes)) == sorted(leaves)
    assert all("before renew_issued_before" in entry["reasons"][0] for entry in changes.renewed)
    assert all(serials(pki_dir)[leaf] != before[leaf] for leaf in leaves)
    assert {name: (pki_dir / name).read_bytes() for name in cas} == cas
    assert (pki_dir / "admin.key").read_bytes() == admin_key
    # The same request again: what it issued was issued after the requested time.
    assert not pki.reconcile(pki_dir, PLAN, request, now=later(3)).changed


def test_renewal_on_request_before_the_certificates_were_issued_changes_nothing(pki_dir: Path) -> None:
    request = ECDSA._replace(renew_issued_before=later(-1))
    assert not pki.reconcile(pki_dir, PLAN, request).changed


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-03T08:00:00Z", datetime.datetime(2026, 12, 3, 8, 0, tzinfo=datetime.timezone.utc)),
    ("2026-12-03 08:00:00", datetime.datetime(2026, 12, 3, 8, 0, tzinfo=datetime.timezone.utc)),
    (" 2026-12-03 ", datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)),
])
def test_parse_time_reads_utc_times(text: str, expected: datetime.datetime) -> None:
    assert pki.parse_time(text) == expected


def test_parse_time_names_the_forms_it_accepts() -> None:
    with pytest.raises(ValueError, match="not a time in UTC such as 2026-12-03T08:00:00Z"):
        pki.parse_time("yesterday")


def test_expired_ca_is_renewed_with_its_key_and_its_certificates_stay_valid(pki_dir: Path) -> None:
    ca_key = (pki_dir / "ca.key").read_bytes()
    options = pki.Options(renew_before_days=30, key_type="ecdsa")
    changes = pki.reconcile(pki_dir, [BY_NAME["ca"], BY_NAME["admin"]], options, now=later(3700))
    assert "the certificate expired on" in changes.renewed[0]["reasons"][0]
    assert (pki_dir / "ca.key").read_bytes() == ca_key
    load(pki_dir, "admin").verify_directly_issued_by(load(pki_dir, "ca"))


def test_a_new_control_plane_ip_reissues_only_the_certificates_that_name_it(pki_dir: Path) -> None:
    moved = pki.certificate_plan(inventory({"cp-1": "192.168.1.31", "cp-2": "192.168.1.12", "cp-3": "192.168.1.13"}))
    ca_serial = load(pki_dir, "ca").serial_number
    changes = pki.reconcile(pki_dir, moved, ECDSA)
    assert sorted(renewed_files(changes)) == [
        "apiserver.crt",
        "etcd/peer-cp-1.crt",
        "etcd/server-cp-1.crt",
        "kubelet-server-cp-1.crt",
    ]
    reasons = {entry["file"]: entry["reasons"] for entry in changes.renewed}
    assert reasons["apiserver.crt"] == [
        "its IP SANs changed from [10.96.0.1, 127.0.0.1, 192.168.1.11, 192.168.1.12, 192.168.1.13] "
        "to [10.96.0.1, 127.0.0.1, 192.168.1.12, 192.168.1.13, 192.168.1.31]"
    ]
    assert load(pki_dir, "ca").serial_number == ca_serial
    assert "192.168.1.31" in {
        str(ip)
        for ip in load(pki_dir, "apiserver")
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value.get_values_for_type(x509.IPAddress)
    }
    assert not pki.reconcile(pki_dir, moved, ECDSA).changed


def test_a_corrupt_key_is_replaced_and_its_certificate_reissued(pki_dir: Path) -> None:
    (pki_dir / "scheduler.key").write_text("not a key")
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert renewed_files(changes) == ["scheduler.crt"]
    assert "the key scheduler.key is unreadable" in changes.renewed[0]["reasons"][0]
    key, problem = pki.load_key(pki_dir / "scheduler.key", "ecdsa")
    assert problem is None and pki.public_pem(key) == pki.public_key_pem(load(pki_dir, "scheduler").public_key())


def test_a_certificate_not_signed_by_the_ca_is_reissued(pki_dir: Path, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    pki.reconcile(stranger, [BY_NAME["ca"], BY_NAME["admin"]], ECDSA)
    shutil.copy(stranger / "admin.crt", pki_dir / "admin.crt")
    shutil.copy(stranger / "admin.key", pki_dir / "admin.key")
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert changes.renewed == [{"file": "admin.crt", "reasons": ["the certificate is not signed by the current ca"]}]
    load(pki_dir, "admin").verify_directly_issued_by(load(pki_dir, "ca"))
    assert (pki_dir / "admin.key").read_bytes() == (stranger / "admin.key").read_bytes()


def test_a_certificate_not_matching_its_key_is_reissued(pki_dir: Path) -> None:
    shutil.copy(pki_dir / "scheduler.crt", pki_dir / "controller-manager.crt")
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert renewed_files(changes) == ["controller-manager.crt"]
    assert "the certificate does not match its key" in changes.renewed[0]["reasons"]


def test_a_new_ca_key_reissues_everything_that_ca_signed_and_nothing_else(pki_dir: Path) -> None:
    (pki_dir / "front-proxy-ca.key").unlink()
    kept = serials(pki_dir)
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert renewed_files(changes) == ["front-proxy-ca.crt", "front-proxy-client.crt"]
    assert changes.renewed[1]["reasons"] == ["its CA front-proxy-ca has a new key"]
    load(pki_dir, "front-proxy-client").verify_directly_issued_by(load(pki_dir, "front-proxy-ca"))
    assert serials(pki_dir)["ca.crt"] == kept["ca.crt"]


def test_a_missing_certificate_is_issued_with_the_existing_key(pki_dir: Path) -> None:
    key = (pki_dir / "kube-proxy.key").read_bytes()
    (pki_dir / "kube-proxy.crt").unlink()
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert changes.renewed == [{"file": "kube-proxy.crt", "reasons": ["kube-proxy.crt is missing"]}]
    assert (pki_dir / "kube-proxy.key").read_bytes() == key


def test_a_changed_key_type_replaces_the_keys(pki_dir: Path) -> None:
    plan = [BY_NAME["etcd/ca"], BY_NAME["apiserver-etcd-client"]]
    changes = pki.reconcile(pki_dir, plan, pki.Options(key_type="rsa"))
    assert renewed_files(changes) == ["etcd/ca.crt", "apiserver-etcd-client.crt"]
    assert "is not a RSA 2048-bit or larger key (key_type)" in changes.renewed[0]["reasons"][0]
    assert isinstance(pki.load_key(pki_dir / "etcd/ca.key", "rsa")[0], rsa.RSAPrivateKey)


def test_a_key_readable_by_others_is_made_private_again(pki_dir: Path) -> None:
    (pki_dir / "admin.key").chmod(0o644)
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert changes.permissions_fixed == ["admin.key"] and changes.changed and not changes.renewed
    assert stat.S_IMODE((pki_dir / "admin.key").stat().st_mode) == 0o600


# --- Check mode -------------------------------------------------------------------------------


def test_check_mode_on_an_empty_directory_reports_everything_and_writes_nothing(tmp_path: Path) -> None:
    changes = pki.reconcile(tmp_path / "pki", PLAN, ECDSA, write=False)
    assert len(changes.created) == len(PLAN)
    assert not (tmp_path / "pki").exists()


def test_check_mode_reports_renewals_and_writes_nothing(pki_dir: Path) -> None:
    (pki_dir / "etcd/ca.key").unlink()
    (pki_dir / "admin.key").chmod(0o640)
    before = {path: path.read_bytes() for path in pki_dir.rglob("*") if path.is_file()}
    changes = pki.reconcile(pki_dir, PLAN, ECDSA, write=False, now=later(340))
    renewed = renewed_files(changes)
    assert "etcd/ca.crt" in renewed and "admin.crt" in renewed and "ca.crt" not in renewed
    assert changes.permissions_fixed == ["admin.key"]
    assert {path: path.read_bytes() for path in pki_dir.rglob("*") if path.is_file()} == before
    assert stat.S_IMODE((pki_dir / "admin.key").stat().st_mode) == 0o640


# --- Expiry report ----------------------------------------------------------------------------


def test_expiry_report_lists_every_certificate_with_days_left(pki_dir: Path) -> None:
    (pki_dir / "broken.crt").write_text("garbage")
    rows = {row.file: row for row in pki.expiry_report(pki_dir, now=later(100))}
    assert set(rows) == {spec.cert_file for spec in PLAN if spec.profile not in ("keypair", "secret")} | {"broken.crt"}
    assert rows["admin.crt"].common_name == "kubernetes-admin"
    assert 263 <= rows["admin.crt"].days_left <= 265
    assert 3548 <= rows["etcd/ca.crt"].days_left <= 3550
    assert rows["broken.crt"].days_left is None and "unreadable" in rows["broken.crt"].common_name
    assert rows["admin.crt"].as_dict()["not_after"] == load(pki_dir, "admin").not_valid_after_utc.isoformat()


def test_expiry_report_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert pki.expiry_report(tmp_path / "absent") == []


def test_ecdsa_keys_are_p256(issued: Path) -> None:
    key, _unused = pki.load_key(issued / "apiserver.key", "ecdsa")
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"


# --- The Secrets encryption key ---------------------------------------------------------------


def test_encryption_key_is_32_random_bytes_kept_across_runs_and_forced_back_to_0600(pki_dir: Path) -> None:
    path = pki_dir / "secrets-encryption.key"
    key = path.read_bytes()
    assert len(base64.b64decode(key.strip())) == 32
    path.chmod(0o644)
    changes = pki.reconcile(pki_dir, PLAN, ECDSA)
    assert changes.permissions_fixed == ["secrets-encryption.key"] and not changes.created
    assert path.read_bytes() == key and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_damaged_encryption_key_is_refused_never_replaced(pki_dir: Path) -> None:
    path = pki_dir / "secrets-encryption.key"
    path.write_text("not a key")
    with pytest.raises(ValueError, match="never regenerated: restore it from a backup"):
        pki.reconcile(pki_dir, PLAN, ECDSA)
    assert path.read_text() == "not a key"


@pytest.mark.parametrize(("store", "name", "issuer"), [("etcd", "etcd/flannel-client", pki.ETCD_CA),
                                                       ("kubernetes", "flannel", pki.CLUSTER_CA)])
def test_flannel_gets_a_client_certificate_of_its_store_on_every_node(store: str, name: str, issuer: str) -> None:
    data = inventory()
    data["settings"]["flannel_store"] = store
    plan = {spec.name: spec for spec in pki.certificate_plan(data)}
    spec = plan[name]
    assert (spec.profile, spec.common_name, spec.organizations, spec.issuer) == ("client", "flannel", (), issuer)
    assert spec.hosts == ("cp-1", "cp-2", "cp-3", "worker")
    # Nothing else is added, and the other store's certificate is not issued.
    assert set(plan) - set(BY_NAME) == {name}
    # flanneld verifies the etcd members with the etcd CA.
    assert ("worker" in plan[pki.ETCD_CA].hosts) == (store == "etcd")


def test_without_flannel_there_is_no_flannel_certificate() -> None:
    assert not [spec.name for spec in PLAN if "flannel" in spec.name]
    assert "worker" not in BY_NAME[pki.ETCD_CA].hosts


def test_an_unknown_flannel_store_is_refused() -> None:
    data = inventory()
    data["settings"]["flannel_store"] = "consul"
    with pytest.raises(ValueError, match="flannel_store 'consul'"):
        pki.certificate_plan(data)
