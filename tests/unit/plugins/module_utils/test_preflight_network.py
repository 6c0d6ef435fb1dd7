"""Unit tests of the preflight checks of the pod network (flannel) and the cluster DNS (CoreDNS):
the roles' defaults pass, each bad setting gives one problem naming the variable and the fix, and a
change of what flannel runs on the hosts is refused unless the operator allows it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.corral.cluster.plugins.module_utils.preflight import check_coredns, check_flannel

ROLES = Path(__file__).resolve().parents[4] / "roles"
FLANNEL_DEFAULTS = yaml.safe_load((ROLES / "flannel" / "defaults" / "main.yml").read_text())
COREDNS_VERSIONS = yaml.safe_load((ROLES / "coredns" / "vars" / "main.yml").read_text())["__coredns_versions"]


def flannel(**changes: Any) -> dict[str, Any]:
    """The flannel settings as the role passes them: its defaults, the pod prefix, the controller's allocation."""
    settings = {name: value for name, value in FLANNEL_DEFAULTS.items() if not name.endswith("_bin_dir")}
    return {**settings, "cluster_pod_node_prefix": 24, "control_plane_allocate_node_cidrs": True, **changes}


def coredns(**changes: Any) -> dict[str, Any]:
    """The CoreDNS settings with the role's defaults resolved for Kubernetes 1.36."""
    return {
        "coredns_version": COREDNS_VERSIONS["1.36"],
        "coredns_image": f"mirror.example.internal:5000/k8s/coredns/coredns:v{COREDNS_VERSIONS['1.36']}",
        "coredns_replicas": 2,
        "coredns_upstream_nameservers": [],
        "coredns_cache_ttl": 30,
        "coredns_cpu_request": "100m",
        "coredns_memory_request": "70Mi",
        "coredns_memory_limit": "170Mi",
        "cluster_kubernetes_version": "1.36.4",
        "cluster_dns_ip": "10.96.0.10",
        **changes,
    }


RUNNING = {"node1": {"store": "etcd", "backend": "vxlan"}, "node2": {"store": "etcd", "backend": "vxlan"}}


@pytest.mark.parametrize("changes", [
    {},
    {"flannel_store": "kubernetes", "flannel_backend": "host-gw"},
    {"flannel_vxlan_vni": "4096", "flannel_vxlan_port": "4789", "flannel_mtu": "1400"},  # extra vars are strings
    {"flannel_vxlan_direct_routing": "true", "flannel_ip_masq": False, "flannel_iface": "eth1"},
    {"flannel_iface": "192.168.1.11", "flannel_etcd_prefix": "/corral/network"},
    {"flannel_store": "etcd", "control_plane_allocate_node_cidrs": False},  # the etcd store needs no podCIDRs
], ids=str)
def test_good_flannel_settings_pass(changes: dict[str, Any]) -> None:
    assert check_flannel(flannel(**changes)) == []


@pytest.mark.parametrize(("changes", "words"), [
    ({"flannel_store": "consul"}, ["flannel_store 'consul'", "etcd, kubernetes"]),
    ({"flannel_backend": "udp"}, ["flannel_backend 'udp'", "vxlan, host-gw"]),
    ({"flannel_vxlan_vni": 0}, ["flannel_vxlan_vni '0'", "1 to 16777215"]),
    ({"flannel_vxlan_vni": 2**24}, ["flannel_vxlan_vni"]),
    ({"flannel_vxlan_port": 70000}, ["flannel_vxlan_port '70000'", "8472"]),
    ({"flannel_vxlan_port": "vxlan"}, ["flannel_vxlan_port"]),
    ({"flannel_vxlan_direct_routing": "maybe"}, ["flannel_vxlan_direct_routing 'maybe'", "true or false"]),
    ({"flannel_mtu": 100}, ["flannel_mtu '100'", "576 to 9000"]),
    ({"flannel_mtu": True}, ["flannel_mtu"]),
    ({"flannel_ip_masq": "sometimes"}, ["flannel_ip_masq"]),
    ({"flannel_iface": "eth 1"}, ["flannel_iface 'eth 1'", "node IP"]),
    ({"flannel_etcd_prefix": "coreos.com/network"}, ["flannel_etcd_prefix", "/coreos.com/network"]),
    ({"flannel_etcd_prefix": "/coreos.com/network/"}, ["flannel_etcd_prefix", "trailing slash"]),
    ({"flannel_allow_reconfigure": "perhaps"}, ["flannel_allow_reconfigure"]),
    ({"flannel_store": "kubernetes", "control_plane_allocate_node_cidrs": False},
     ["control_plane_allocate_node_cidrs", "flannel_store: etcd"]),
], ids=lambda value: str(value) if isinstance(value, dict) else "")
def test_bad_flannel_settings_give_one_problem_each(changes: dict[str, Any], words: list[str]) -> None:
    problems = check_flannel(flannel(**changes))
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0]


def test_the_running_flannel_unchanged_passes() -> None:
    assert check_flannel(flannel(), RUNNING) == []


@pytest.mark.parametrize(("changes", "words"), [
    ({"flannel_backend": "host-gw"}, ["flannel_backend to host-gw", "vxlan backend"]),
    ({"flannel_store": "kubernetes"}, ["flannel_store to kubernetes", "etcd store"]),
    ({"flannel_store": "kubernetes", "flannel_backend": "host-gw"}, ["flannel_backend to host-gw and flannel_store"]),
], ids=["backend", "store", "both"])
def test_a_change_of_the_running_flannel_is_refused_with_its_cost(changes: dict[str, Any], words: list[str]) -> None:
    problems = check_flannel(flannel(**changes), RUNNING)
    assert len(problems) == 1, problems
    for word in [*words, "Hosts 'node1', 'node2' run", "pods restart", "flannel_allow_reconfigure: true"]:
        assert word in problems[0]


def test_the_operator_may_allow_the_change() -> None:
    assert check_flannel(flannel(flannel_backend="host-gw", flannel_allow_reconfigure=True), RUNNING) == []


def test_hosts_running_different_flannels_are_named_per_state() -> None:
    running = {**RUNNING, "node3": {"store": "kubernetes", "backend": "vxlan"}}
    problems = check_flannel(flannel(flannel_store="kubernetes"), running)
    assert len(problems) == 1 and "Hosts 'node1', 'node2' run" in problems[0] and "node3" not in problems[0]


def test_new_hosts_without_flannel_are_no_change() -> None:
    assert check_flannel(flannel(flannel_backend="host-gw"), {}) == []


@pytest.mark.parametrize("changes", [
    {},
    {"coredns_version": COREDNS_VERSIONS["1.20"], "cluster_kubernetes_version": "1.20.2",
     "coredns_image": "corral.test/coredns/coredns:v1.7.0"},
    {"coredns_version": "1.10.1", "cluster_kubernetes_version": "1.20.2"},
    {"coredns_upstream_nameservers": ["192.0.2.53", "2001:db8::53"], "coredns_replicas": "3"},
    {"coredns_image": "mirror.example.com:5000/k8s/coredns/coredns:v1.13.2@sha256:" + "a" * 64},
    {"coredns_memory_limit": "1Gi", "coredns_cpu_request": "0.5"},
], ids=str)
def test_good_coredns_settings_pass(changes: dict[str, Any]) -> None:
    assert check_coredns(coredns(**changes)) == []


@pytest.mark.parametrize(("changes", "words"), [
    ({"coredns_version": "v1.13.2"}, ["coredns_version 'v1.13.2'", "no leading 'v'"]),
    ({"coredns_version": "1.11.1", "cluster_kubernetes_version": "1.20.2"},
     ["coredns_version 1.11.1", "Kubernetes 1.21", "1.10 or older"]),
    ({"coredns_image": "https://mirror.example.internal:5000/k8s/coredns/coredns:v1.13.2"}, ["coredns_image", "without a scheme"]),
    ({"coredns_image": "coredns"}, ["coredns_image 'coredns'"]),
    ({"coredns_replicas": 0}, ["coredns_replicas '0'", "1 to 100"]),
    ({"coredns_cache_ttl": -1}, ["coredns_cache_ttl"]),
    ({"coredns_memory_limit": "170MB"}, ["coredns_memory_limit '170MB'", "170Mi"]),
    ({"coredns_cpu_request": ""}, ["coredns_cpu_request"]),
    ({"coredns_upstream_nameservers": "192.0.2.53"}, ["coredns_upstream_nameservers must be a list"]),
    ({"coredns_upstream_nameservers": ["dns.example.com"]}, ["'dns.example.com' is not an IP address"]),
    ({"coredns_upstream_nameservers": ["10.96.0.10"]}, ["10.96.0.10 is cluster_dns_ip", "loop"]),
], ids=lambda value: str(value) if isinstance(value, dict) else "")
def test_bad_coredns_settings_give_one_problem_each(changes: dict[str, Any], words: list[str]) -> None:
    problems = check_coredns(coredns(**changes))
    assert len(problems) == 1, problems
    for word in words:
        assert word in problems[0]


def test_the_coredns_table_covers_every_supported_kubernetes_minor_with_a_compatible_release() -> None:
    from ansible_collections.corral.cluster.plugins.module_utils.preflight import KUBERNETES_MINORS

    assert set(COREDNS_VERSIONS) == {f"1.{minor}" for minor in KUBERNETES_MINORS}
    for minor, version in COREDNS_VERSIONS.items():
        assert check_coredns(coredns(coredns_version=version, cluster_kubernetes_version=f"{minor}.0",
                                     coredns_image=f"mirror.example.internal:5000/k8s/coredns/coredns:v{version}")) == [], minor
