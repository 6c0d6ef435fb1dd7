"""Unit tests of the preflight checks: good layouts pass, each bad input gives one actionable problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from ansible_collections.corral.cluster.plugins.module_utils.preflight import (
    check_image_registry,
    HostSpec,
    Spec,
    supported_os_description,
    pod_cidr_plan,
    validate,
)
from cluster_settings import default_settings

Mutation = Callable[[Spec], None]

SETTINGS = default_settings()
NODE_NETWORK = "192.168.1.0/24"


def host(
    ip: str | None,
    distribution: str = "Rocky",
    major: str = "9",
    os_family: str = "RedHat",
    network: str | None = NODE_NETWORK,
) -> HostSpec:
    return {
        "node_name": None,  # filled in by layout() from the inventory hostname
        "node_ip": ip,
        "os_family": os_family,
        "distribution": distribution,
        "distribution_major_version": major,
        "node_network": network,
    }


def layout(etcd: list[str], control_planes: list[str], workers: list[str], hosts: dict[str, HostSpec]) -> Spec:
    for name, spec in hosts.items():
        spec["node_name"] = name
    return {
        "settings": dict(SETTINGS),
        "groups": {
            "etcd": etcd,
            "kube_control_plane": control_planes,
            "kube_node": workers,
            "k8s_cluster": control_planes + workers,
            "rancher_server": [],
        },
        "hosts": hosts,
        "options": {"required_groups": ["etcd", "kube_control_plane", "kube_node"], "etcd_allow_even_members": False},
    }


def sample() -> Spec:
    """The sample inventory: one control plane (also the etcd member) and one worker."""
    return layout(
        etcd=["k8s-1"],
        control_planes=["k8s-1"],
        workers=["k8s-2"],
        hosts={"k8s-1": host("192.168.1.11"), "k8s-2": host("192.168.1.12")},
    )


def three_by_three() -> Spec:
    """Three control planes holding etcd, three workers, across every supported OS family."""
    control_planes = ["cp-1", "cp-2", "cp-3"]
    workers = ["worker-1", "worker-2", "worker-3"]
    return layout(
        etcd=control_planes,
        control_planes=control_planes,
        workers=workers,
        hosts={
            "cp-1": host("192.168.1.21", "CentOS", "7"),
            "cp-2": host("192.168.1.22", "AlmaLinux", "8"),
            "cp-3": host("192.168.1.23", "OracleLinux", "9"),
            "worker-1": host("192.168.1.31", "RedHat", "8"),
            "worker-2": host("192.168.1.32", "Debian", "12", "Debian"),
            "worker-3": host("192.168.1.33", "Rocky", "9"),
        },
    )


# --- Mutations applied to a good spec -------------------------------------------------------


def setting(name: str, value: Any) -> Mutation:
    def mutate(spec: Spec) -> None:
        spec["settings"][name] = value

    return mutate


def host_field(name: str, field: str, value: Any) -> Mutation:
    def mutate(spec: Spec) -> None:
        spec["hosts"][name][field] = value

    return mutate


def runs(name: str, os_family: str, distribution: str, major: str) -> Mutation:
    def mutate(spec: Spec) -> None:
        spec["hosts"][name].update(os_family=os_family, distribution=distribution, distribution_major_version=major)

    return mutate


def group(name: str, members: list[str]) -> Mutation:
    def mutate(spec: Spec) -> None:
        spec["groups"][name] = members

    return mutate


def option(name: str, value: Any) -> Mutation:
    def mutate(spec: Spec) -> None:
        spec["options"][name] = value

    return mutate


def without_facts(name: str) -> Mutation:
    def mutate(spec: Spec) -> None:
        del spec["hosts"][name]

    return mutate


def without_group(name: str) -> Mutation:
    def mutate(spec: Spec) -> None:
        del spec["groups"][name]

    return mutate


def add_host(name: str, groups: list[str], spec_of_host: HostSpec) -> Mutation:
    def mutate(spec: Spec) -> None:
        spec_of_host["node_name"] = name
        spec["hosts"][name] = spec_of_host
        for group_name in groups:
            spec["groups"][group_name] = [*spec["groups"][group_name], name]

    return mutate


def build(base: Callable[[], Spec], *mutations: Mutation) -> Spec:
    spec = copy.deepcopy(base())
    for mutate in mutations:
        mutate(spec)
    return spec


# --- Good layouts ---------------------------------------------------------------------------

GOOD = [
    pytest.param(build(sample), id="sample-1-control-plane-1-worker"),
    pytest.param(build(three_by_three), id="3-control-planes-3-workers"),
    pytest.param(
        build(sample, group("etcd", ["k8s-1", "k8s-2"]), option("etcd_allow_even_members", True)),
        id="even-etcd-allowed-while-scaling",
    ),
    pytest.param(
        build(sample, add_host("rancher", ["rancher_server"], host("192.168.1.50", "Debian", "12", "Debian"))),
        id="separate-rancher-server",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_name", "k8s-2.example.com")),
        id="node-name-fqdn",
    ),
    pytest.param(
        build(
            three_by_three,
            setting("cluster_pod_cidr", "10.244.0.0/21"),
            setting("cluster_pod_node_prefix", "24"),
            setting("cluster_service_cidr", "172.20.0.0/24"),
            setting("cluster_dns_ip", "172.20.0.254"),
            setting("cluster_kubernetes_version", "1.20.0"),
            setting("cluster_container_runtime", "docker"),
            setting("cluster_network_plugin", "flannel"),
            setting("cluster_registry_mirrors", ["https://mirror.example.com", "http://10.0.0.5:5000"]),
            setting("cluster_image_registry", "mirror.example.com:5000/k8s"),
        ),
        id="small-ranges-docker-flannel-mirrors",
    ),
    pytest.param(
        build(three_by_three, setting("cluster_network_plugin", "flannel"), option("limited_to", ["worker-2"])),
        id="limit-to-a-worker-with-flannel",
    ),
    pytest.param(
        build(sample, option("limited_to", ["k8s-1", "k8s-2", "elsewhere"])),
        id="limit-that-reaches-every-host",
    ),
]


@pytest.mark.parametrize("spec", GOOD)
def test_good_layouts_pass(spec: Spec) -> None:
    assert validate(spec) == []


# --- One bad input per check: exactly one problem, naming the offender and the fix -----------

BAD = [
    # Inventory groups
    pytest.param(
        build(sample, group("kube_node", [])),
        ["Inventory group 'kube_node' is empty", "add at least one host"],
        id="empty-required-group",
    ),
    pytest.param(
        build(sample, without_group("etcd")),
        ["Inventory group 'etcd' is empty", "odd number"],
        id="missing-etcd-group",
    ),
    pytest.param(
        build(sample, option("required_groups", ["etcd", "kube_control_plane", "kube_node", "rancher_server"])),
        ["Inventory group 'rancher_server' is empty", "add at least one host"],
        id="empty-custom-required-group",
    ),
    pytest.param(
        build(sample, group("k8s_cluster", ["k8s-1"])),
        ["'k8s-2'", "not in k8s_cluster", "parent group"],
        id="host-outside-k8s-cluster",
    ),
    pytest.param(
        build(sample, group("etcd", ["k8s-1", "k8s-2"])),
        ["'etcd' has an even number of members (2)", "odd number (1, 3 or 5)"],
        id="etcd-two-members",
    ),
    pytest.param(
        build(three_by_three, group("etcd", ["cp-1", "cp-2", "cp-3", "worker-1"])),
        ["'etcd' has an even number of members (4)", "odd number"],
        id="etcd-four-members",
    ),
    pytest.param(
        build(sample, without_facts("k8s-2")),
        ["Host 'k8s-2' has no facts", "unreachable", "remove it from the inventory"],
        id="host-without-facts",
    ),
    pytest.param(
        build(three_by_three, setting("cluster_network_plugin", "flannel"), option("limited_to", ["cp-2", "worker-1"])),
        ["--limit reaches 'cp-2', a control plane or etcd member", "Run without --limit"],
        id="limit-to-a-control-plane",
    ),
    pytest.param(
        build(three_by_three, option("limited_to", ["worker-1"])),
        ["--limit reaches 'worker-1' with cluster_network_plugin bridge", "Run without --limit"],
        id="limit-to-a-worker-with-bridge",
    ),
    # Node IPs and names
    pytest.param(
        build(sample, host_field("k8s-2", "node_ip", None), host_field("k8s-2", "node_network", None)),
        ["Host 'k8s-2' has no node IP", "set node_ip (or ansible_host)"],
        id="missing-node-ip",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_ip", "fd00::12"), host_field("k8s-2", "node_network", None)),
        ["Host 'k8s-2'", "'fd00::12' is not an IPv4 address", "IPv6", "set node_ip"],
        id="ipv6-node-ip",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_ip", "203.0.113.12"), host_field("k8s-2", "node_network", None)),
        ["Host 'k8s-2'", "203.0.113.12 is on none of its network interfaces", "set node_ip", "NAT"],
        id="node-ip-not-on-host",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_ip", "127.0.0.1"), host_field("k8s-2", "node_network", "127.0.0.0/8")),
        ["Host 'k8s-2'", "127.0.0.1 is a loopback", "set node_ip to the address the other nodes reach it at"],
        id="node-ip-loopback",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_name", "K8S_2")),
        ["Host 'k8s-2'", "'K8S_2' is not a valid Kubernetes node name", "set node_name", "node_name: k8s-2"],
        id="node-name-uppercase-underscore",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_name", "-worker")),
        ["Host 'k8s-2'", "'-worker'", "starting and ending with a letter or digit", "node_name: worker"],
        id="node-name-leading-dash",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_name", "a" * 64 + ".example.com")),
        ["Host 'k8s-2'", "labels of 1 to 63 characters", "set node_name for 'k8s-2'"],
        id="node-name-label-too-long",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_name", ".".join(["a" * 60] * 5))),
        ["Host 'k8s-2'", "253 characters at most", "set node_name for 'k8s-2'"],
        id="node-name-too-long",
    ),
    pytest.param(
        build(three_by_three, host_field("worker-3", "node_ip", "192.168.1.31")),
        ["'worker-1', 'worker-3' share the node IP '192.168.1.31'", "distinct node_ip"],
        id="duplicate-node-ip",
    ),
    pytest.param(
        build(three_by_three, host_field("worker-2", "node_name", "worker-1")),
        ["'worker-1', 'worker-2' share the node name 'worker-1'", "distinct node_name"],
        id="duplicate-node-name",
    ),
    # Operating systems
    pytest.param(
        build(sample, runs("k8s-2", "Debian", "Ubuntu", "22")),
        ["Host 'k8s-2' runs Ubuntu 22 (os_family Debian)", supported_os_description()],
        id="os-ubuntu",
    ),
    pytest.param(
        build(sample, runs("k8s-2", "RedHat", "CentOS", "6")),
        ["Host 'k8s-2' runs CentOS 6", "Rocky, AlmaLinux or OracleLinux 7, 8 or 9"],
        id="os-el6",
    ),
    pytest.param(
        build(sample, runs("k8s-2", "Debian", "Debian", "11")),
        ["Host 'k8s-2' runs Debian 11", "or Debian 12"],
        id="os-debian-11",
    ),
    pytest.param(
        build(sample, runs("k8s-1", "RedHat", "Fedora", "40")),
        ["Host 'k8s-1' runs Fedora 40 (os_family RedHat)", "does not support"],
        id="os-fedora",
    ),
    # Kubernetes version
    pytest.param(
        build(sample, setting("cluster_kubernetes_version", "v1.35.8")),
        ["cluster_kubernetes_version 'v1.35.8' must not start with 'v'", 'write "1.35.8"'],
        id="version-leading-v",
    ),
    pytest.param(
        build(sample, setting("cluster_kubernetes_version", 1.35)),
        ["cluster_kubernetes_version '1.35' is not a MAJOR.MINOR.PATCH release", "quoted"],
        id="version-float",
    ),
    pytest.param(
        build(sample, setting("cluster_kubernetes_version", "1.19.16")),
        ["cluster_kubernetes_version 1.19.16 is not supported", "from 1.20 to 1.36"],
        id="version-too-old",
    ),
    pytest.param(
        build(sample, setting("cluster_kubernetes_version", "1.37.0")),
        ["cluster_kubernetes_version 1.37.0 is not supported", "from 1.20 to 1.36"],
        id="version-too-new",
    ),
    # Choices and names
    pytest.param(
        build(sample, setting("cluster_container_runtime", "cri-o")),
        ["cluster_container_runtime 'cri-o' is not supported", "one of containerd, docker"],
        id="container-runtime",
    ),
    pytest.param(
        build(sample, setting("cluster_network_plugin", "weave")),
        ["cluster_network_plugin 'weave' is not supported", "one of bridge, flannel"],
        id="network-plugin",
    ),
    pytest.param(
        build(sample, setting("cluster_domain", "Cluster.Local.")),
        ["cluster_domain 'Cluster.Local.' is not a valid DNS domain", "e.g. cluster.local"],
        id="cluster-domain",
    ),
    pytest.param(
        build(sample, setting("cluster_name", "my cluster")),
        ["cluster_name 'my cluster'", "letters, digits"],
        id="cluster-name",
    ),
    pytest.param(
        build(sample, setting("cluster_registry_mirrors", ["mirror.example.com"])),
        ["cluster_registry_mirrors entry 'mirror.example.com'", "https://mirror.example.com"],
        id="registry-mirror-not-url",
    ),
    pytest.param(
        build(sample, setting("cluster_registry_mirrors", "https://mirror.example.com")),
        ["cluster_registry_mirrors must be a list", '["https://mirror.example.com"]'],
        id="registry-mirrors-not-list",
    ),
    pytest.param(
        build(sample, setting("cluster_image_registry", "https://mirror.example.com/")),
        ["cluster_image_registry 'https://mirror.example.com/'", "HOST[:PORT][/PATH]"],
        id="image-registry-with-scheme",
    ),
    # Pod and Service ranges
    pytest.param(
        build(sample, setting("cluster_pod_cidr", "10.244.0.0")),
        ["cluster_pod_cidr '10.244.0.0' is not an IPv4 range in CIDR notation", "10.244.0.0/16"],
        id="pod-cidr-no-prefix",
    ),
    pytest.param(
        build(sample, setting("cluster_pod_cidr", "fd00:10:244::/56")),
        ["cluster_pod_cidr 'fd00:10:244::/56'", "IPv6 and dual-stack are not supported yet"],
        id="pod-cidr-ipv6",
    ),
    pytest.param(
        build(sample, setting("cluster_service_cidr", "10.96.0.0/12,fd00:10:96::/112")),
        ["cluster_service_cidr '10.96.0.0/12,fd00:10:96::/112'", "dual-stack are not supported yet"],
        id="service-cidr-dual-stack",
    ),
    pytest.param(
        build(sample, setting("cluster_service_cidr", "10.96.0.0/33"), setting("cluster_dns_ip", "False")),
        ["cluster_service_cidr '10.96.0.0/33' is not an IPv4 range in CIDR notation", "10.96.0.0/12"],
        id="service-cidr-invalid-without-dns-noise",
    ),
    pytest.param(
        build(sample, setting("cluster_pod_cidr", "10.244.1.0/16")),
        ["cluster_pod_cidr '10.244.1.0/16' has host bits set", "did you mean 10.244.0.0/16"],
        id="pod-cidr-host-bits",
    ),
    pytest.param(
        build(sample, setting("cluster_pod_cidr", "10.64.0.0/10")),
        ["cluster_pod_cidr 10.64.0.0/10 and cluster_service_cidr 10.96.0.0/12 overlap", "change one of them"],
        id="pod-service-overlap",
    ),
    pytest.param(
        build(sample, setting("cluster_pod_cidr", "192.168.0.0/16")),
        [
            "cluster_pod_cidr 192.168.0.0/16 overlaps the node network",
            "contains the node IP of 'k8s-1' (192.168.1.11), 'k8s-2' (192.168.1.12)",
            "change cluster_pod_cidr",
        ],
        id="pod-cidr-contains-node-ips",
    ),
    pytest.param(
        build(sample, setting("cluster_pod_cidr", "192.168.1.128/25"), setting("cluster_pod_node_prefix", 26)),
        [
            "cluster_pod_cidr 192.168.1.128/25 overlaps the node network 192.168.1.0/24 of 'k8s-1', 'k8s-2'",
            "change cluster_pod_cidr",
        ],
        id="pod-cidr-overlaps-node-network",
    ),
    pytest.param(
        build(sample, setting("cluster_service_cidr", "192.168.0.0/16"), setting("cluster_dns_ip", "192.168.0.10")),
        [
            "cluster_service_cidr 192.168.0.0/16 overlaps the node network",
            "node IP of 'k8s-1'",
            "change cluster_service_cidr",
        ],
        id="service-cidr-contains-node-ips",
    ),
    pytest.param(
        build(sample, setting("cluster_service_cidr", "10.96.0.0/11")),
        ["cluster_service_cidr 10.96.0.0/11 is too large", "larger than /12"],
        id="service-cidr-too-large",
    ),
    pytest.param(
        build(sample, setting("cluster_service_cidr", "10.96.0.0/25")),
        ["cluster_service_cidr 10.96.0.0/25 is too small", "128 addresses, fewer than 256", "/12 to /24"],
        id="service-cidr-too-small",
    ),
    pytest.param(
        build(sample, setting("cluster_pod_node_prefix", 16)),
        ["cluster_pod_node_prefix 16 must be longer than the /16 of cluster_pod_cidr", "e.g. 24"],
        id="node-prefix-not-inside-pod-cidr",
    ),
    pytest.param(
        build(sample, setting("cluster_pod_node_prefix", 29)),
        ["cluster_pod_node_prefix 29 is too long", "at most 28"],
        id="node-prefix-too-long",
    ),
    pytest.param(
        build(sample, setting("cluster_pod_node_prefix", "twenty-four")),
        ["cluster_pod_node_prefix 'twenty-four' is not a prefix length", "such as 24"],
        id="node-prefix-not-a-number",
    ),
    pytest.param(
        build(three_by_three, setting("cluster_pod_cidr", "10.244.0.0/22")),
        [
            "cluster_pod_cidr 10.244.0.0/22 holds 4 /24 node subnets",
            "k8s_cluster has 6 hosts",
            "set cluster_pod_node_prefix to 25",
            "cluster_pod_cidr of /21 or larger",
        ],
        id="pod-cidr-too-small-for-nodes",
    ),
    pytest.param(
        build(three_by_three, setting("cluster_pod_cidr", "10.244.0.0/26"), setting("cluster_pod_node_prefix", 28)),
        ["holds 4 /28 node subnets", "6 hosts: use a cluster_pod_cidr of /25 or larger"],
        id="pod-cidr-too-small-even-at-28",
    ),
    # Cluster DNS address
    pytest.param(
        build(sample, setting("cluster_dns_ip", "10.96.0.300")),
        ["cluster_dns_ip '10.96.0.300' is not an IPv4 address", "e.g. 10.96.0.10"],
        id="dns-ip-invalid",
    ),
    pytest.param(
        build(sample, setting("cluster_dns_ip", "10.0.0.10")),
        ["cluster_dns_ip 10.0.0.10 is outside cluster_service_cidr 10.96.0.0/12", "e.g. 10.96.0.10"],
        id="dns-ip-outside-service-cidr",
    ),
    pytest.param(
        build(sample, setting("cluster_dns_ip", "10.96.0.0")),
        ["cluster_dns_ip 10.96.0.0 is the network address", "use another address, e.g. 10.96.0.10"],
        id="dns-ip-network-address",
    ),
    pytest.param(
        build(sample, setting("cluster_dns_ip", "10.96.0.1")),
        ["cluster_dns_ip 10.96.0.1 is the first address", "reserved for the 'kubernetes' Service", "10.96.0.10"],
        id="dns-ip-first-address",
    ),
    pytest.param(
        build(sample, setting("cluster_dns_ip", "10.111.255.255")),
        ["cluster_dns_ip 10.111.255.255 is the broadcast address", "10.96.0.10"],
        id="dns-ip-broadcast-address",
    ),
    # TLS
    pytest.param(
        build(sample, setting("cluster_tls_cipher_suites", ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                            "TLS_RSA_WITH_RC4_128_SHA"])),
        ["cluster_tls_cipher_suites: TLS_RSA_WITH_RC4_128_SHA not accepted", "choose from TLS_ECDHE_"],
        id="tls-cipher-suite-insecure",
    ),
    pytest.param(
        build(sample, setting("cluster_tls_cipher_suites", [])),
        ["cluster_tls_cipher_suites must be a non-empty list"],
        id="tls-cipher-suites-empty",
    ),
    # Pod subnet pins (host variable node_pod_cidr)
    pytest.param(
        build(sample, host_field("k8s-2", "node_pod_cidr", "10.245.0.0/24")),
        ["k8s-2: node_pod_cidr 10.245.0.0/24 must be a /24 subnet of cluster_pod_cidr 10.244.0.0/16"],
        id="pod-cidr-pin-outside",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_pod_cidr", "10.244.3.0/25")),
        ["k8s-2: node_pod_cidr 10.244.3.0/25 must be a /24 subnet"],
        id="pod-cidr-pin-wrong-prefix",
    ),
    pytest.param(
        build(sample, host_field("k8s-1", "node_pod_cidr", "10.244.3.0/24"),
              host_field("k8s-2", "node_pod_cidr", "10.244.3.0/24")),
        ["k8s-2: node_pod_cidr 10.244.3.0/24 is also pinned by k8s-1"],
        id="pod-cidr-pinned-twice",
    ),
    pytest.param(
        build(sample, host_field("k8s-2", "node_pod_cidr", "the third one")),
        ["k8s-2: node_pod_cidr 'the third one' is not an IPv4 CIDR", "remove node_pod_cidr"],
        id="pod-cidr-pin-garbage",
    ),
]


def test_the_pod_subnets_are_planned_once_pins_first() -> None:
    spec = build(sample, host_field("k8s-2", "node_pod_cidr", "10.244.0.0/24"))
    assert validate(spec) == []
    assert pod_cidr_plan("10.244.0.0/16", 24, spec["groups"], spec["hosts"]) == {
        "k8s-1": "10.244.1.0/24", "k8s-2": "10.244.0.0/24"}


def test_calico_is_refused_until_it_is_implemented() -> None:
    problems = validate(build(sample, setting("cluster_network_plugin", "calico")))
    assert problems == ["cluster_network_plugin 'calico' is not supported: set it to one of bridge, flannel."], problems


@pytest.mark.parametrize(("spec", "expected"), BAD)
def test_bad_input_gives_one_actionable_problem(spec: Spec, expected: list[str]) -> None:
    problems = validate(spec)
    assert len(problems) == 1, problems
    for text in expected:
        assert text in problems[0]


def test_every_problem_is_reported_not_only_the_first() -> None:
    spec = build(
        three_by_three,
        group("kube_node", []),
        setting("cluster_kubernetes_version", "v1.35.8"),
        setting("cluster_dns_ip", "10.96.0.1"),
        runs("cp-2", "RedHat", "AlmaLinux", "6"),
    )
    problems = validate(spec)
    assert len(problems) == 4, problems
    assert any("'kube_node' is empty" in problem for problem in problems)
    assert any("must not start with 'v'" in problem for problem in problems)
    assert any("'kubernetes' Service" in problem for problem in problems)
    assert any("Host 'cp-2' runs AlmaLinux 6" in problem for problem in problems)


def test_host_in_several_groups_counts_once() -> None:
    spec = build(three_by_three, group("rancher_server", ["cp-1"]))
    assert validate(spec) == []


def test_loopback_node_ips_are_not_also_reported_as_duplicates() -> None:
    # Vagrant: every host has ansible_host 127.0.0.1 and its own forwarded SSH port.
    loopback = [host_field(name, "node_ip", "127.0.0.1") for name in ("k8s-1", "k8s-2")]
    problems = validate(build(sample, *loopback))
    assert len(problems) == 2, problems
    assert all("127.0.0.1 is a loopback" in problem for problem in problems)


def test_tiny_service_range_is_reported_without_crashing() -> None:
    problems = validate(build(sample, setting("cluster_service_cidr", "10.96.0.0/30")))
    assert len(problems) == 2, problems
    assert "cluster_service_cidr 10.96.0.0/30 is too small" in problems[0]
    assert "cluster_dns_ip 10.96.0.10 is outside cluster_service_cidr 10.96.0.0/30" in problems[1]


@pytest.mark.parametrize("registry, refused", [
    ("", "cluster_image_registry is not set: name the registry"),
    (None, "cluster_image_registry is not set"),
    ("https://mirror.example.internal", "is not a registry name"),
    ("mirror.example.internal/k8s/", "is not a registry name"),
    ("mirror.example.internal:5000/k8s", None),
])
def test_the_image_registry_is_required_and_a_registry_name(registry, refused):
    problems = check_image_registry(registry)
    if refused is None:
        assert problems == []
    else:
        assert len(problems) == 1 and refused in problems[0]
