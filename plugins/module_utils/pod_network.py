# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod subnets of the nodes and the routes between them (the bridge network mode).

Each node gets one /<node prefix> out of the cluster's pod network. A host may pin its subnet
(host variable ``node_pod_cidr``); the others take the free subnets in inventory order, so
appending hosts never moves an existing node's pods. Every node routes each other node's
subnet via that node's address: no overlay, the hosts share one L2/L3 network.
"""

import traceback
from typing import Any, Dict, List, Mapping, Optional

try:
    import netaddr
except ImportError:  # The filter plugins report it (corral.cluster.pod_cidrs).
    netaddr = None
    NETADDR_IMPORT_ERROR = traceback.format_exc()  # type: Optional[str]
else:
    NETADDR_IMPORT_ERROR = None


class PodNetworkError(ValueError):
    pass


def assign_pod_cidrs(
    nodes: Mapping[str, Mapping[str, Any]], pod_cidr: str, node_prefix: int
) -> Dict[str, str]:
    """Inventory host -> pod subnet. nodes: host -> {node_ip, pod_cidr (optional pin)}."""
    network = netaddr.IPNetwork(pod_cidr)
    prefix = int(node_prefix)
    max_prefix = 32 if network.version == 4 else 128
    if prefix <= network.prefixlen or prefix > max_prefix:
        raise PodNetworkError(
            f"cluster_pod_node_prefix {prefix} must be longer than the pod network's /{network.prefixlen} "
            f"({pod_cidr}) and at most /{max_prefix}."
        )
    subnets = network.subnet(prefix)
    assigned: Dict[str, str] = {}
    taken: Dict[str, str] = {}
    for host, node in nodes.items():
        pinned = node.get("pod_cidr")
        if not pinned:
            continue
        subnet = netaddr.IPNetwork(str(pinned))
        if subnet.prefixlen != prefix or subnet not in network or subnet.network != subnet.ip:
            raise PodNetworkError(
                f"{host}: node_pod_cidr {pinned} must be a /{prefix} subnet of cluster_pod_cidr {pod_cidr}."
            )
        if str(subnet) in taken:
            raise PodNetworkError(f"{host}: node_pod_cidr {pinned} is also pinned by {taken[str(subnet)]}.")
        taken[str(subnet)] = host
    for host, node in nodes.items():
        if node.get("pod_cidr"):
            assigned[host] = str(netaddr.IPNetwork(str(node["pod_cidr"])))
            continue
        subnet = _next_free(subnets, taken)
        if subnet is None:
            raise PodNetworkError(
                f"cluster_pod_cidr {pod_cidr} has room for {2 ** (prefix - network.prefixlen)} nodes of "
                f"/{prefix}: {len(nodes)} need one. Use a larger pod network or a longer cluster_pod_node_prefix."
            )
        taken[subnet] = host
        assigned[host] = subnet
    return assigned


def _next_free(subnets: Any, taken: Mapping[str, str]) -> Optional[str]:
    for subnet in subnets:
        if str(subnet) not in taken:
            return str(subnet)
    return None


def routes_for(host: str, nodes: Mapping[str, Mapping[str, Any]], cidrs: Mapping[str, str]) -> List[Dict[str, str]]:
    """The routes ``host`` needs: each other node's pod subnet via that node's address."""
    return [
        {"dest": cidrs[other], "via": str(node["node_ip"])}
        for other, node in nodes.items()
        if other != host and other in cidrs
    ]
