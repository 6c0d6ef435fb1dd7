# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight validation of a corral.cluster inventory and its cluster settings.

Pure Python (standard library and netaddr) so that it can be unit-tested without Ansible.
The action plugin ``corral.cluster.cluster_preflight`` builds a plain ``spec`` dict from the
inventory and the gathered facts and calls :func:`validate`, which returns every problem found,
each as one sentence naming the offending host or variable and the fix.

This module is also the single place that says what corral.cluster supports.
"""

import re
import traceback
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from ansible_collections.corral.cluster.plugins.module_utils.kubernetes import CGROUP_DRIVERS, TLS_CIPHER_SUITES
from ansible_collections.corral.cluster.plugins.module_utils.pod_network import PodNetworkError, assign_pod_cidrs

try:
    import netaddr
except ImportError:  # The action plugin cluster_preflight reports it.
    netaddr = None
    NETADDR_IMPORT_ERROR = traceback.format_exc()  # type: Optional[str]
else:
    NETADDR_IMPORT_ERROR = None

# --- What corral.cluster supports ---------------------------------------------------------

KUBERNETES_MAJOR = 1
KUBERNETES_MINORS = range(20, 37)  # 1.20 through 1.36
CONTAINER_RUNTIMES = ("containerd", "docker")
# The plugins corral.cluster sets up (roles/network: bridge itself, the others by their role).
NETWORK_PLUGINS = ("bridge", "flannel")


class OsSupport(NamedTuple):
    """Distributions (ansible_facts.distribution) and major versions supported for an OS family."""

    distributions: Tuple[str, ...]
    major_versions: Tuple[str, ...]


SUPPORTED_OS = {
    "RedHat": OsSupport(("CentOS", "RedHat", "Rocky", "AlmaLinux", "OracleLinux"), ("7", "8", "9")),
    "Debian": OsSupport(("Debian",), ("12",)),
}

# Inventory groups (kubespray names). k8s_cluster is the parent of the two Kubernetes groups.
KUBERNETES_GROUPS = ("kube_control_plane", "kube_node")
CLUSTER_GROUPS = ("etcd", "k8s_cluster", *KUBERNETES_GROUPS, "rancher_server")
DEFAULT_REQUIRED_GROUPS = ("etcd", *KUBERNETES_GROUPS)

# The cluster settings validate() checks: variables of the corral.cluster.cluster role (its defaults
# and argument spec define them), which the preflight action reads from the play's variables.
SETTINGS = (
    "cluster_name",
    "cluster_kubernetes_version",
    "cluster_domain",
    "cluster_pod_cidr",
    "cluster_pod_node_prefix",
    "cluster_service_cidr",
    "cluster_dns_ip",
    "cluster_container_runtime",
    "cluster_network_plugin",
    "cluster_registry_mirrors",
    "cluster_image_registry",
    "cluster_cgroup_driver",
    "cluster_apiserver_endpoint",
    "cluster_tls_cipher_suites",
)

# kube-apiserver refuses IPv4 Service ranges with more than 20 host bits.
SERVICE_CIDR_MIN_PREFIX = 12
# Fewer than 256 addresses leaves too little room for the cluster's Services.
SERVICE_CIDR_MAX_PREFIX = 24
# A /28 gives a node 16 pod addresses; a longer prefix is surely a mistake.
POD_NODE_PREFIX_MAX = 28
# Examples given in messages: the defaults of roles/cluster.
CIDR_EXAMPLES = {"cluster_pod_cidr": "10.244.0.0/16", "cluster_service_cidr": "10.96.0.0/12"}
# Where the cluster DNS Service goes by default (roles/cluster uses nthhost(10)).
DNS_IP_SUGGESTED_INDEX = 10

# "This network", loopback, multicast and reserved (with broadcast): no other host reaches a node there.
UNUSABLE_NODE_IPS = netaddr.IPSet(["0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"]) if netaddr else None

_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_DNS_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CLUSTER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DNS_LABEL_MAX = 63
_DNS_SUBDOMAIN_MAX = 253


# --- Input ----------------------------------------------------------------------------------


# Plain dicts (typing.TypedDict would need Python 3.8; this module also runs on 3.6).
#
# HostSpec, what the checks need to know about one inventory host (with gathered facts):
#   node_name, node_ip, os_family, distribution, distribution_major_version (each str or None),
#   node_network (CIDR of the interface holding node_ip, None if none does).
# Options: required_groups (sequence of group names), etcd_allow_even_members (bool); both optional.
# Spec, all keys optional: settings (cluster_* variable name -> value), groups (group name ->
#   inventory hostnames), hosts (inventory hostname -> HostSpec; hosts without facts are absent),
#   options (Options).
HostSpec = Mapping[str, Optional[str]]
Options = Mapping[str, Any]
Spec = Mapping[str, Any]


class Node:
    """A checked host, with its addresses parsed (None when missing or invalid).

    Read-only by convention; equal only to itself (two hosts may look alike).
    """

    __slots__ = ("host", "spec", "ip", "network")

    def __init__(self, host: str, spec: HostSpec, ip: Optional["netaddr.IPAddress"],
                 network: Optional["netaddr.IPNetwork"]) -> None:
        self.host = host
        self.spec = spec
        self.ip = ip
        self.network = network

    def __repr__(self) -> str:
        return f"Node(host={self.host!r}, spec={self.spec!r}, ip={self.ip!r}, network={self.network!r})"

    @property
    def usable_ip(self) -> Optional["netaddr.IPAddress"]:
        """The node IP if other hosts could reach the node at it, else None."""
        return self.ip if self.ip is not None and self.ip not in UNUSABLE_NODE_IPS else None


# --- Entry point ----------------------------------------------------------------------------


def validate(spec: Spec) -> List[str]:
    """Return every problem found in the spec (an empty list when all is well)."""
    settings = spec.get("settings", {})
    groups = spec.get("groups", {})
    hosts = spec.get("hosts", {})
    options = spec.get("options", {})
    required_groups = options.get("required_groups", DEFAULT_REQUIRED_GROUPS)
    nodes = [_node(host, hosts[host]) for host in checked_hosts(groups) if host in hosts]

    problems = [
        *check_required_groups(groups, required_groups),
        *check_k8s_cluster_parent(groups),
        *check_etcd_member_count(groups, options.get("etcd_allow_even_members", False)),
        *check_hosts_have_facts(groups, hosts),
        *check_limit(groups, options.get("limited_to"), settings.get("cluster_network_plugin")),
        *check_node_ips(nodes),
        *check_node_ips_usable(nodes),
        *check_node_ips_on_hosts(nodes),
        *check_node_names(nodes),
        *check_unique(
            nodes, "node IP", lambda node: str(node.usable_ip) if node.usable_ip else None, "node_ip (or ansible_host)"
        ),
        *check_unique(nodes, "node name", lambda node: node.spec.get("node_name"), "node_name"),
        *check_operating_systems(nodes),
        *check_kubernetes_version(settings.get("cluster_kubernetes_version")),
        *check_choice("cluster_container_runtime", settings.get("cluster_container_runtime"), CONTAINER_RUNTIMES),
        *check_choice("cluster_network_plugin", settings.get("cluster_network_plugin"), NETWORK_PLUGINS),
        *check_cluster_name(settings.get("cluster_name")),
        *check_cluster_domain(settings.get("cluster_domain")),
        *check_registry_mirrors(settings.get("cluster_registry_mirrors", [])),
        *check_image_registry(settings.get("cluster_image_registry", "")),
        *check_choice("cluster_cgroup_driver", settings.get("cluster_cgroup_driver", "systemd"), CGROUP_DRIVERS),
        *check_apiserver_endpoint(settings.get("cluster_apiserver_endpoint", "")),
        *check_tls_cipher_suites(settings.get("cluster_tls_cipher_suites", list(TLS_CIPHER_SUITES))),
    ]
    problems += _check_networks(settings, groups, nodes, hosts)
    return problems


def _check_networks(settings: Mapping[str, Any], groups: Mapping[str, Sequence[str]], nodes: List[Node],
                    hosts: Mapping[str, HostSpec]) -> List[str]:
    """Checks on the pod and Service ranges; those needing a range run only once it parses."""
    pod, problems = parse_cidr("cluster_pod_cidr", settings.get("cluster_pod_cidr"))
    service, service_problems = parse_cidr("cluster_service_cidr", settings.get("cluster_service_cidr"))
    problems += service_problems
    node_prefix, prefix_problems = parse_pod_node_prefix(settings.get("cluster_pod_node_prefix"), pod)
    problems += prefix_problems
    if pod is not None:
        problems += check_cidr_clear_of_nodes("cluster_pod_cidr", pod, nodes)
        if node_prefix is not None:
            capacity = check_pod_cidr_capacity(pod, node_prefix, len(kubernetes_hosts(groups)))
            problems += capacity or check_node_pod_cidrs(pod, node_prefix, groups, hosts)
    if service is not None:
        problems += check_service_cidr_size(service)
        problems += check_cidr_clear_of_nodes("cluster_service_cidr", service, nodes)
    if pod is not None and service is not None:
        problems += check_cidrs_disjoint(pod, service)
    problems += check_dns_ip(settings.get("cluster_dns_ip"), service)
    return problems


# --- Inventory layout -----------------------------------------------------------------------


def checked_hosts(groups: Mapping[str, Sequence[str]]) -> List[str]:
    """All hosts of the given groups, once each, in inventory order."""
    return _unique(host for members in groups.values() for host in members)


def kubernetes_hosts(groups: Mapping[str, Sequence[str]]) -> List[str]:
    """Hosts that become Kubernetes nodes (and each need a pod subnet)."""
    return _unique(host for group in ("k8s_cluster", *KUBERNETES_GROUPS) for host in groups.get(group, ()))


def check_required_groups(groups: Mapping[str, Sequence[str]], required: Iterable[str]) -> List[str]:
    hints = {
        "etcd": " (etcd needs an odd number of members: 1, 3 or 5)",
        "kube_control_plane": " (the hosts running kube-apiserver, the controller manager and the scheduler)",
        "kube_node": " (the hosts running workloads; control-plane hosts may be listed here too)",
    }
    return [
        f"Inventory group '{group}' is empty: add at least one host to it{hints.get(group, '')}."
        for group in required
        if not groups.get(group)
    ]


def check_k8s_cluster_parent(groups: Mapping[str, Sequence[str]]) -> List[str]:
    # The playbooks target k8s_cluster; a Kubernetes host outside it would silently be skipped.
    parent = set(groups.get("k8s_cluster", ()))
    orphans = [host for group in KUBERNETES_GROUPS for host in groups.get(group, ()) if host not in parent]
    if not orphans:
        return []
    return [
        f"{_hosts_are(_unique(orphans))} in kube_control_plane or kube_node but not in k8s_cluster: "
        "make k8s_cluster the parent group of both "
        "(k8s_cluster: {children: {kube_control_plane: {}, kube_node: {}}})."
    ]


def check_etcd_member_count(groups: Mapping[str, Sequence[str]], allow_even: bool) -> List[str]:
    # An empty etcd group is reported by check_required_groups.
    count = len(_unique(groups.get("etcd", ())))
    if count == 0 or count % 2 == 1 or allow_even:
        return []
    return [
        f"Inventory group 'etcd' has an even number of members ({count}): use an odd number (1, 3 or 5); "
        f"{count} members survive no more failures than {count - 1} and risk a split vote."
    ]


def check_hosts_have_facts(groups: Mapping[str, Sequence[str]], hosts: Mapping[str, HostSpec]) -> List[str]:
    # Every later check needs the whole cluster: one host missing hides duplicates and overlaps.
    return [
        f"Host '{host}' has no facts: it was unreachable. "
        f"Make it reachable (ansible {host} -m ansible.builtin.ping), or remove it from the inventory."
        for host in checked_hosts(groups)
        if host not in hosts
    ]


def check_limit(groups: Mapping[str, Sequence[str]], limited_to: Optional[Sequence[str]],
                network_plugin: Optional[str]) -> List[str]:
    """A run limited by --limit (limited_to: the hosts it reaches) may add or change workers only: a
    control plane or an etcd member changes every other host too (apiserver proxies, certificate
    SANs, etcd membership), and so does a node of the bridge network (every node routes to it)."""
    if limited_to is None:
        return []
    everyone = checked_hosts(groups)
    limit = set(limited_to)
    reached = [host for host in everyone if host in limit]
    if len(reached) == len(everyone):
        return []
    problems = []
    central_hosts = {*groups.get("kube_control_plane", ()), *groups.get("etcd", ())}
    central = [host for host in reached if host in central_hosts]
    if central:
        problems.append(
            f"--limit reaches {_names(central)}, a control plane or etcd member, but not the whole cluster: "
            "adding or changing one changes the other hosts too (their apiserver proxies, certificate SANs, "
            "etcd membership). Run without --limit; --limit is for adding or changing workers."
        )
    node_hosts = set(kubernetes_hosts(groups))
    nodes = [host for host in reached if host in node_hosts]
    if nodes and network_plugin == "bridge":
        problems.append(
            f"--limit reaches {_names(nodes)} with cluster_network_plugin bridge: every node holds a route to "
            "each other node's pods, which a run limited to some nodes cannot add on the others. "
            "Run without --limit (flannel's nodes learn each other's routes themselves)."
        )
    return problems


# --- Nodes ----------------------------------------------------------------------------------


def check_node_ips(nodes: Iterable[Node]) -> List[str]:
    problems = []
    for node in nodes:
        value = node.spec.get("node_ip")
        if not value:
            problems.append(
                f"Host '{node.host}' has no node IP: set node_ip (or ansible_host) to its IPv4 address "
                "in the inventory; its facts show no default IPv4 address."
            )
        elif node.ip is None:
            problems.append(
                f"Host '{node.host}': node IP '{value}' is not an IPv4 address (IPv6 and dual-stack "
                "are not supported yet): set node_ip to the host's IPv4 address."
            )
    return problems


def check_node_ips_usable(nodes: Iterable[Node]) -> List[str]:
    # Typically ansible_host: 127.0.0.1 with a forwarded SSH port (Vagrant), taken as the default node IP.
    return [
        f"Host '{node.host}': node IP {node.ip} is a loopback, multicast or reserved address that other hosts "
        "cannot reach: set node_ip to the address the other nodes reach it at."
        for node in nodes
        if node.ip is not None and node.usable_ip is None
    ]


def check_node_ips_on_hosts(nodes: Iterable[Node]) -> List[str]:
    # etcd and the kubelet bind to the node IP; ansible_host may be a NAT or load-balancer address.
    return [
        f"Host '{node.host}': node IP {node.ip} is on none of its network interfaces: "
        "set node_ip to one of its own IPv4 addresses (ansible_host may be a NAT address)."
        for node in nodes
        if node.usable_ip is not None and node.network is None
    ]


def check_node_names(nodes: Iterable[Node]) -> List[str]:
    problems = []
    for node in nodes:
        name = node.spec.get("node_name")
        if name is None or is_dns_subdomain(str(name)):
            continue
        suggestion = _suggest_dns_subdomain(name)
        example = f", e.g. node_name: {suggestion}" if suggestion else ""
        problems.append(
            f"Host '{node.host}': node name '{name}' is not a valid Kubernetes node name (RFC 1123: lowercase "
            "letters, digits, '-' and '.', labels of 1 to 63 characters starting and ending with a letter or "
            f"digit, 253 characters at most): set node_name for '{node.host}' in the inventory{example}."
        )
    return problems


def check_unique(nodes: Iterable[Node], what: str, key: Callable[[Node], Optional[str]], variable: str) -> List[str]:
    """Report values of ``key(node)`` shared by several hosts (None values are ignored)."""
    owners: Dict[str, List[str]] = {}
    for node in nodes:
        value = key(node)
        if value:
            owners.setdefault(value, []).append(node.host)
    return [
        f"Hosts {_names(hosts)} share the {what} '{value}': each host needs its own; "
        f"set a distinct {variable} for each of them in the inventory."
        for value, hosts in owners.items()
        if len(hosts) > 1
    ]


def check_operating_systems(nodes: Iterable[Node]) -> List[str]:
    problems = []
    for node in nodes:
        family = node.spec.get("os_family")
        distribution = node.spec.get("distribution")
        major = str(node.spec.get("distribution_major_version"))
        support = SUPPORTED_OS.get(family or "")
        if support and distribution in support.distributions and major in support.major_versions:
            continue
        problems.append(
            f"Host '{node.host}' runs {distribution} {major} (os_family {family}), which corral.cluster "
            f"does not support: use {supported_os_description()}, or remove the host from the inventory."
        )
    return problems


def supported_os_description() -> str:
    """E.g. 'CentOS, RedHat, Rocky, AlmaLinux or OracleLinux 7, 8 or 9, or Debian 12'."""
    return ", or ".join(
        f"{_alternatives(support.distributions)} {_alternatives(support.major_versions)}"
        for support in SUPPORTED_OS.values()
    )


# --- Settings -------------------------------------------------------------------------------


def check_kubernetes_version(version: Any) -> List[str]:
    text = str(version)
    oldest = f"{KUBERNETES_MAJOR}.{KUBERNETES_MINORS[0]}"
    newest = f"{KUBERNETES_MAJOR}.{KUBERNETES_MINORS[-1]}"
    if text.startswith("v") and _VERSION_RE.fullmatch(text[1:]):
        return [f"cluster_kubernetes_version '{text}' must not start with 'v': write \"{text[1:]}\"."]
    match = _VERSION_RE.fullmatch(text)
    if not match:
        return [
            f"cluster_kubernetes_version '{text}' is not a MAJOR.MINOR.PATCH release: write it like "
            '"1.35.8", quoted so that YAML keeps it a string.'
        ]
    major, minor = int(match.group(1)), int(match.group(2))
    if major == KUBERNETES_MAJOR and minor in KUBERNETES_MINORS:
        return []
    return [
        f"cluster_kubernetes_version {text} is not supported: choose a release from {oldest} to {newest} "
        f'(e.g. "{newest}.0").'
    ]


def check_choice(variable: str, value: Any, choices: Sequence[str]) -> List[str]:
    if value in choices:
        return []
    return [f"{variable} '{value}' is not supported: set it to one of {', '.join(choices)}."]


def check_cluster_name(name: Any) -> List[str]:
    # Ends up in kubeconfig context names, certificate subjects and file names.
    if isinstance(name, str) and _CLUSTER_NAME_RE.fullmatch(name):
        return []
    return [
        f"cluster_name '{name}' is not a usable name: use letters, digits, '.', '_' and '-', "
        "starting with a letter or digit (e.g. corral)."
    ]


def check_cluster_domain(domain: Any) -> List[str]:
    if isinstance(domain, str) and is_dns_subdomain(domain):
        return []
    return [
        f"cluster_domain '{domain}' is not a valid DNS domain (RFC 1123: lowercase letters, digits, '-' and "
        "'.', no leading or trailing dot): set it to e.g. cluster.local."
    ]


def check_registry_mirrors(mirrors: Any) -> List[str]:
    if not isinstance(mirrors, (list, tuple)):
        return [
            f"cluster_registry_mirrors must be a list of URLs, not {mirrors!r}: "
            'write e.g. ["https://mirror.example.com"] (or [] for none).'
        ]
    return [
        f"cluster_registry_mirrors entry '{mirror}' is not an http:// or https:// URL: "
        "write it like https://mirror.example.com."
        for mirror in mirrors
        if not (isinstance(mirror, str) and re.fullmatch(r"https?://[^/\s]+\S*", mirror))
    ]


# TLS 1.2 cipher suites that Kubernetes (1.20 on) and etcd (3.4 on) both accept under these
# names and that are not in Go's insecure list (AEAD ciphers only): the default set, and the two
# without forward secrecy that an operator may still add.
ACCEPTED_TLS_CIPHER_SUITES = TLS_CIPHER_SUITES + (
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
)


def check_tls_cipher_suites(suites: Any) -> List[str]:
    if not isinstance(suites, (list, tuple)) or not suites:
        return [f"cluster_tls_cipher_suites must be a non-empty list of cipher suite names, not {suites!r}: "
                f"choose from {', '.join(ACCEPTED_TLS_CIPHER_SUITES)}."]
    unknown = [str(suite) for suite in suites if suite not in ACCEPTED_TLS_CIPHER_SUITES]
    if not unknown:
        return []
    return [f"cluster_tls_cipher_suites: {', '.join(unknown)} not accepted (unknown to Kubernetes or etcd, or "
            f"insecure): choose from {', '.join(ACCEPTED_TLS_CIPHER_SUITES)}."]


def check_image_registry(registry: Any) -> List[str]:
    # Prefixed to repository names (REGISTRY/pause:TAG): a host, an optional port and path, no scheme.
    if registry in ("", None):
        return [
            "cluster_image_registry is not set: name the registry that serves the Kubernetes project's images "
            "(the pod sandbox 'pause', CoreDNS): the project's own (its host is in the Kubernetes release notes) or "
            "your mirror of it, e.g. cluster_image_registry: mirror.example.internal:5000/k8s."
        ]
    if isinstance(registry, str) and re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?(/[a-z0-9._/-]+)?",
                                                  registry) and not registry.endswith("/"):
        return []
    return [
        f"cluster_image_registry '{registry}' is not a registry name: write HOST[:PORT][/PATH] without a scheme or "
        "a trailing slash, e.g. mirror.example.com:5000/k8s (the repositories pause, coredns/coredns, ... go after it)."
    ]


def check_apiserver_endpoint(endpoint: Any) -> List[str]:
    if endpoint == "" or (isinstance(endpoint, str) and re.fullmatch(r"https://[^/\s:]+(:\d{1,5})?/?", endpoint)):
        return []
    return [
        f"cluster_apiserver_endpoint '{endpoint}' is not an https://HOST:PORT URL: write it like "
        'https://k8s-api.example.com:6443 (a load balancer in front of the apiservers), or "" for none.'
    ]


# --- Pod and Service networks ---------------------------------------------------------------


def parse_cidr(variable: str, value: Any) -> Tuple[Optional["netaddr.IPNetwork"], List[str]]:
    """Parse an IPv4 range written in CIDR notation; return (range or None, problems)."""
    text = str(value).strip()
    if "," in text or ":" in text:
        return None, [
            f"{variable} '{text}' is not a single IPv4 range: IPv6 and dual-stack are not supported yet; "
            f"use one IPv4 range such as {CIDR_EXAMPLES[variable]}."
        ]
    if not _is_ipv4_cidr(text):
        return None, [
            f"{variable} '{text}' is not an IPv4 range in CIDR notation: write it like {CIDR_EXAMPLES[variable]}."
        ]
    network = netaddr.IPNetwork(text)
    if network.ip != network.network:
        # Kubernetes would silently use the enclosing range; the mismatch is more likely a typo.
        return None, [f"{variable} '{text}' has host bits set: did you mean {network.cidr}?"]
    return network, []


def _is_ipv4_cidr(value: Any) -> bool:
    address, _unused, prefix = str(value).strip().partition("/")
    return bool(netaddr.valid_ipv4(address) and re.fullmatch(r"\d{1,2}", prefix) and int(prefix) <= 32)


def parse_pod_node_prefix(value: Any, pod: Optional["netaddr.IPNetwork"]) -> Tuple[Optional[int], List[str]]:
    """Parse cluster_pod_node_prefix; return (prefix or None, problems)."""
    # A string of digits is fine (extra vars are strings); "/24" is not, the templates use the bare number.
    if isinstance(value, bool) or not re.fullmatch(r"\d{1,2}", str(value).strip()):
        return None, [f"cluster_pod_node_prefix '{value}' is not a prefix length: write a number such as 24."]
    prefix = int(str(value).strip())
    if prefix > POD_NODE_PREFIX_MAX:
        return None, [
            f"cluster_pod_node_prefix {prefix} is too long: a /{prefix} per node leaves too few pod addresses; "
            f"use at most {POD_NODE_PREFIX_MAX} (24 is usual)."
        ]
    if pod is not None and prefix <= pod.prefixlen:
        return None, [
            f"cluster_pod_node_prefix {prefix} must be longer than the /{pod.prefixlen} of cluster_pod_cidr "
            f"({pod}), since each node gets a slice of it: use e.g. {max(pod.prefixlen + 8, 24)} "
            f"(at most {POD_NODE_PREFIX_MAX})."
        ]
    return prefix, []


def check_pod_cidr_capacity(pod: "netaddr.IPNetwork", node_prefix: int, node_count: int) -> List[str]:
    available = 2 ** (node_prefix - pod.prefixlen)
    if node_count <= available:
        return []
    bits_needed = (node_count - 1).bit_length()
    fixes = []
    if pod.prefixlen + bits_needed <= POD_NODE_PREFIX_MAX:
        fixes.append(f"set cluster_pod_node_prefix to {pod.prefixlen + bits_needed}")
    fixes.append(f"use a cluster_pod_cidr of /{node_prefix - bits_needed} or larger")
    return [
        f"cluster_pod_cidr {pod} holds {available} /{node_prefix} node subnets (cluster_pod_node_prefix) "
        f"but k8s_cluster has {node_count} hosts: {' or '.join(fixes)}."
    ]


def pod_cidr_plan(pod: Any, node_prefix: Any, groups: Mapping[str, Sequence[str]],
                  hosts: Mapping[str, HostSpec]) -> Dict[str, str]:
    """Kubernetes host -> its pod subnet (the host variable node_pod_cidr pins one), in inventory
    order; raises PodNetworkError naming the host and the fix."""
    nodes = {host: {"pod_cidr": (hosts.get(host) or {}).get("node_pod_cidr")} for host in kubernetes_hosts(groups)}
    return assign_pod_cidrs(nodes, str(pod), int(node_prefix))


def check_node_pod_cidrs(pod: "netaddr.IPNetwork", node_prefix: int, groups: Mapping[str, Sequence[str]],
                         hosts: Mapping[str, HostSpec]) -> List[str]:
    """Each node_pod_cidr pin a subnet of the pod network of the node prefix, pinned once."""
    for host in kubernetes_hosts(groups):
        pinned = (hosts.get(host) or {}).get("node_pod_cidr")
        if pinned and not _is_ipv4_cidr(pinned):
            return [f"{host}: node_pod_cidr {pinned!r} is not an IPv4 CIDR: pin a /{node_prefix} subnet of "
                    f"cluster_pod_cidr {pod}, or remove node_pod_cidr to have one assigned."]
    try:
        pod_cidr_plan(pod, node_prefix, groups, hosts)
    except PodNetworkError as error:
        return [str(error)]
    return []


def check_service_cidr_size(service: "netaddr.IPNetwork") -> List[str]:
    if service.prefixlen < SERVICE_CIDR_MIN_PREFIX:
        return [
            f"cluster_service_cidr {service} is too large: kube-apiserver refuses IPv4 Service ranges larger "
            f"than /{SERVICE_CIDR_MIN_PREFIX}; use a /{SERVICE_CIDR_MIN_PREFIX} to /{SERVICE_CIDR_MAX_PREFIX} "
            "(e.g. 10.96.0.0/12)."
        ]
    if service.prefixlen > SERVICE_CIDR_MAX_PREFIX:
        return [
            f"cluster_service_cidr {service} is too small: it has {service.size} addresses, fewer than 256; "
            f"use a /{SERVICE_CIDR_MIN_PREFIX} to /{SERVICE_CIDR_MAX_PREFIX} (e.g. 10.96.0.0/12)."
        ]
    return []


def check_cidrs_disjoint(pod: "netaddr.IPNetwork", service: "netaddr.IPNetwork") -> List[str]:
    if not _overlap(pod, service):
        return []
    return [
        f"cluster_pod_cidr {pod} and cluster_service_cidr {service} overlap: "
        "change one of them so that the two ranges share no address."
    ]


def check_cidr_clear_of_nodes(variable: str, cidr: "netaddr.IPNetwork", nodes: Iterable[Node]) -> List[str]:
    # Traffic to a node would be routed into the pod or Service network instead (and vice versa).
    nodes = list(nodes)
    holding_ip = [node for node in nodes if node.ip is not None and node.ip in cidr]
    overlapping: Dict["netaddr.IPNetwork", List[str]] = {}
    for node in nodes:
        # A host whose IP is inside is reported once, by the message above.
        if node not in holding_ip and node.network is not None and _overlap(node.network, cidr):
            overlapping.setdefault(node.network, []).append(node.host)
    problems = []
    if holding_ip:
        listing = ", ".join(f"'{node.host}' ({node.ip})" for node in holding_ip)
        problems.append(
            f"{variable} {cidr} overlaps the node network: it contains the node IP of {listing}; "
            f"change {variable} to a range that no host network uses."
        )
    for network, hosts in overlapping.items():
        problems.append(
            f"{variable} {cidr} overlaps the node network {network} of {_names(hosts)}: "
            f"change {variable} to a range that no host network uses."
        )
    return problems


def check_dns_ip(value: Any, service: Optional["netaddr.IPNetwork"]) -> List[str]:
    # Without a valid range there is nothing to compare with, and the default (nthhost(10) of
    # the range) is the string "False": the range is reported already.
    if service is None:
        return []
    text = str(value).strip()
    hint = f"e.g. {service[min(DNS_IP_SUGGESTED_INDEX, service.size - 1)]}"  # a too small range is reported too
    if not netaddr.valid_ipv4(text):
        return [f"cluster_dns_ip '{text}' is not an IPv4 address: set it to one inside cluster_service_cidr, {hint}."]
    address = netaddr.IPAddress(text)
    reserved = {
        service.network: "the network address of cluster_service_cidr",
        service.network + 1: "the first address of cluster_service_cidr, reserved for the 'kubernetes' Service",
        service.broadcast: "the broadcast address of cluster_service_cidr, which Services cannot use",
    }
    if address not in service:
        return [f"cluster_dns_ip {text} is outside cluster_service_cidr {service}: set it to an address in it, {hint}."]
    if address in reserved:
        return [f"cluster_dns_ip {text} is {reserved[address]}: use another address, {hint}."]
    return []


# --- Helpers --------------------------------------------------------------------------------


def is_dns_subdomain(name: str) -> bool:
    """True for an RFC 1123 subdomain, as Kubernetes requires of node names and domains."""
    return 0 < len(name) <= _DNS_SUBDOMAIN_MAX and all(
        len(label) <= _DNS_LABEL_MAX and _DNS_LABEL_RE.fullmatch(label) for label in name.split(".")
    )


def _suggest_dns_subdomain(name: str) -> Optional[str]:
    labels = (re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-") for label in str(name).split("."))
    suggestion = ".".join(label[:_DNS_LABEL_MAX].rstrip("-") for label in labels if label)
    return suggestion if is_dns_subdomain(suggestion) else None


def _node(host: str, spec: HostSpec) -> Node:
    ip_text = str(spec.get("node_ip") or "").strip()
    ip = netaddr.IPAddress(ip_text) if netaddr.valid_ipv4(ip_text) else None
    network_text = spec.get("node_network")
    network = netaddr.IPNetwork(network_text).cidr if network_text else None
    return Node(host=host, spec=spec, ip=ip, network=network)


def _overlap(first: "netaddr.IPNetwork", second: "netaddr.IPNetwork") -> bool:
    return first.first <= second.last and second.first <= first.last


def _unique(items: Iterable[str]) -> List[str]:
    return list(dict.fromkeys(items))


def _names(hosts: Iterable[str]) -> str:
    return ", ".join(f"'{host}'" for host in hosts)


def _hosts_are(hosts: Sequence[str]) -> str:
    return f"Host {_names(hosts)} is" if len(hosts) == 1 else f"Hosts {_names(hosts)} are"


def _alternatives(items: Sequence[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


# --- Pod network: flannel (roles/flannel) ---------------------------------------------------

FLANNEL_STORES = ("etcd", "kubernetes")
FLANNEL_BACKENDS = ("vxlan", "host-gw")
VXLAN_VNI_MAX = 2**24 - 1  # 24 bits
# 0 lets flanneld compute the MTU; otherwise from the IPv4 minimum to jumbo frames.
MTU_RANGE = (576, 9000)
_ETCD_PREFIX_RE = re.compile(r"(/[A-Za-z0-9._-]+)+")
_IFACE_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_FLANNEL_FIX = "set flannel_allow_reconfigure: true to change it anyway"


# FlannelState, what flannel runs on a host now, as read from its configuration files by the
# preflight: store and backend (each str).
FlannelState = Mapping[str, str]


def check_flannel(settings: Mapping[str, Any], running: Optional[Mapping[str, FlannelState]] = None) -> List[str]:
    """Problems with the flannel settings (roles/flannel), and with a change of what runs on the hosts.

    settings: the flannel_* variables, cluster_pod_node_prefix and control_plane_allocate_node_cidrs;
    running: inventory host -> the store and backend its flanneld runs with (hosts without flannel absent).
    """
    problems = [
        *check_choice("flannel_store", settings.get("flannel_store"), FLANNEL_STORES),
        *check_choice("flannel_backend", settings.get("flannel_backend"), FLANNEL_BACKENDS),
        *_check_int("flannel_vxlan_vni", settings.get("flannel_vxlan_vni"), 1, VXLAN_VNI_MAX, "e.g. 1"),
        *_check_int("flannel_vxlan_port", settings.get("flannel_vxlan_port"), 1, 65535, "e.g. 8472, the kernel's"),
        *_check_bool("flannel_vxlan_direct_routing", settings.get("flannel_vxlan_direct_routing")),
        *_check_bool("flannel_ip_masq", settings.get("flannel_ip_masq")),
        *_check_bool("flannel_allow_reconfigure", settings.get("flannel_allow_reconfigure")),
    ]
    mtu = _as_int(settings.get("flannel_mtu"))
    if mtu is None or (mtu != 0 and not MTU_RANGE[0] <= mtu <= MTU_RANGE[1]):
        problems.append(
            f"flannel_mtu '{settings.get('flannel_mtu')}' is not an MTU: set 0 to let flanneld take the node "
            f"interface's (minus 50 for vxlan), or a number from {MTU_RANGE[0]} to {MTU_RANGE[1]} (e.g. 1400)."
        )
    iface = settings.get("flannel_iface")
    if not (iface == "" or (isinstance(iface, str) and _IFACE_RE.fullmatch(iface))):
        problems.append(
            f"flannel_iface '{iface}' is not an interface name or address: set it to e.g. eth1 or the node's IP, "
            'or "" to use the node IP (node_ip).'
        )
    prefix = settings.get("flannel_etcd_prefix")
    if not (isinstance(prefix, str) and _ETCD_PREFIX_RE.fullmatch(prefix)):
        problems.append(
            f"flannel_etcd_prefix '{prefix}' is not an etcd key prefix: write an absolute path without a trailing "
            "slash, e.g. /coreos.com/network."
        )
    if settings.get("flannel_store") == "kubernetes" and _as_bool(settings.get("control_plane_allocate_node_cidrs")) \
            is False:
        problems.append(
            "flannel_store kubernetes reads each node's podCIDR, which kube-controller-manager allocates only with "
            "control_plane_allocate_node_cidrs: true (its default with flannel): remove the false setting, or use "
            "flannel_store: etcd."
        )
    if not problems and _as_bool(settings.get("flannel_allow_reconfigure")) is False:
        problems += check_flannel_change(settings, running or {})
    return problems


def check_flannel_change(settings: Mapping[str, Any], running: Mapping[str, FlannelState]) -> List[str]:
    """A change of the backend or the store of a running flannel, one message for all the hosts it concerns."""
    wanted = {"store": settings.get("flannel_store"), "backend": settings.get("flannel_backend")}
    changed = {}  # type: Dict[Tuple[str, str], List[str]]
    for host, state in running.items():
        if (state.get("store"), state.get("backend")) != (wanted["store"], wanted["backend"]):
            changed.setdefault((str(state.get("store")), str(state.get("backend"))), []).append(host)
    problems = []
    for (store, backend), hosts in changed.items():
        what = " and ".join(
            f"flannel_{key} to {wanted[key]}" for key, now in (("backend", backend), ("store", store)) if wanted[key] != now
        )
        runs = f"Host {_names(hosts)} runs" if len(hosts) == 1 else f"Hosts {_names(hosts)} run"
        problems.append(
            f"{runs} flannel with the {backend} backend and the {store} store, and this run sets {what}: changing "
            "the backend or the store of a running cluster restarts flanneld on every node with new devices or "
            "subnets, and every pod not on the host network is deleted and recreated by its controller (pods "
            f"restart; bare pods are gone). Keep the running values, or {_FLANNEL_FIX}."
        )
    return problems


# --- Cluster DNS: CoreDNS (roles/coredns) ---------------------------------------------------

# CoreDNS 1.11 and later watch only discovery.k8s.io/v1 EndpointSlices (Kubernetes 1.21 and later);
# up to 1.10 they fall back to v1beta1.
COREDNS_DISCOVERY_V1_ONLY = (1, 11)
KUBERNETES_DISCOVERY_V1 = (1, 21)
_IMAGE_RE = re.compile(r"[a-z0-9]([-a-z0-9._]*[a-z0-9])?(:\d{1,5})?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)+"
                       r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?")
_QUANTITY_RE = re.compile(r"\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?")


def check_coredns(settings: Mapping[str, Any]) -> List[str]:
    """Problems with the cluster DNS settings (roles/coredns): the coredns_* variables, with
    cluster_kubernetes_version and cluster_dns_ip."""
    problems = []
    version = str(settings.get("coredns_version"))
    match = _VERSION_RE.fullmatch(version)
    if not match:
        problems.append(
            f"coredns_version '{version}' is not a MAJOR.MINOR.PATCH release: write it like \"1.13.2\" (no "
            "leading 'v'), or leave it unset for the release matching cluster_kubernetes_version."
        )
    else:
        kubernetes = _VERSION_RE.fullmatch(str(settings.get("cluster_kubernetes_version")))
        coredns = (int(match.group(1)), int(match.group(2)))
        if kubernetes and coredns >= COREDNS_DISCOVERY_V1_ONLY and \
                (int(kubernetes.group(1)), int(kubernetes.group(2))) < KUBERNETES_DISCOVERY_V1:
            problems.append(
                f"coredns_version {version} needs Kubernetes 1.21 or later (it reads discovery.k8s.io/v1 "
                f"EndpointSlices), and cluster_kubernetes_version is {settings.get('cluster_kubernetes_version')}: "
                "use CoreDNS 1.10 or older (leave coredns_version unset for the release kubeadm pairs with it)."
            )
    image = settings.get("coredns_image")
    if not (isinstance(image, str) and _IMAGE_RE.fullmatch(image)):
        problems.append(
            f"coredns_image '{image}' is not an image reference: write REGISTRY/REPOSITORY:TAG without a scheme, "
            "e.g. mirror.example.com/coredns/coredns:v1.13.2 (by default it follows cluster_image_registry)."
        )
    problems += _check_int("coredns_replicas", settings.get("coredns_replicas"), 1, 100, "2 spread over two nodes")
    problems += _check_int("coredns_cache_ttl", settings.get("coredns_cache_ttl"), 1, 3600, "e.g. 30 seconds")
    for name in ("coredns_memory_limit", "coredns_cpu_request", "coredns_memory_request"):
        value = settings.get(name)
        if not (isinstance(value, str) and _QUANTITY_RE.fullmatch(value)):
            problems.append(
                f"{name} '{value}' is not a Kubernetes quantity: write it like 170Mi (memory) or 100m (CPU)."
            )
    servers = settings.get("coredns_upstream_nameservers")
    if not isinstance(servers, (list, tuple)):
        problems.append(
            f"coredns_upstream_nameservers must be a list of addresses, not {servers!r}: write e.g. "
            '["192.0.2.53"], or [] to forward to the nameservers of the nodes\' resolv.conf.'
        )
    else:
        for server in servers:
            text = str(server).strip()
            if not (netaddr.valid_ipv4(text) or netaddr.valid_ipv6(text)):
                problems.append(
                    f"coredns_upstream_nameservers entry '{server}' is not an IP address: write the address of a "
                    "DNS server outside the cluster, e.g. 192.0.2.53."
                )
            elif text == str(settings.get("cluster_dns_ip")).strip():
                problems.append(
                    f"coredns_upstream_nameservers entry {text} is cluster_dns_ip, CoreDNS itself: queries would "
                    "loop; list DNS servers outside the cluster."
                )
    return problems


def _as_int(value: Any) -> Optional[int]:
    """An int, or a string of digits (extra vars are strings); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,10}", value.strip()):
        return int(value)
    return None


def _as_bool(value: Any) -> Optional[bool]:
    """A bool, or its usual spellings in extra vars; None for anything else."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    return None


def _check_int(variable: str, value: Any, low: int, high: int, hint: str) -> List[str]:
    number = _as_int(value)
    if number is not None and low <= number <= high:
        return []
    return [f"{variable} '{value}' is not a number from {low} to {high}: set it to one ({hint})."]


def _check_bool(variable: str, value: Any) -> List[str]:
    if _as_bool(value) is not None:
        return []
    return [f"{variable} '{value}' is not a boolean: set it to true or false."]
