# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the node identities the preflight role resolves on every host."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

DOCUMENTATION = r"""
name: node_identities
short_description: Node name and address of each host
version_added: 0.1.0
description:
  - Maps each inventory host to the Kubernetes node name and address that the
    C(corral.cluster.preflight) role resolved into the facts C(cluster_node_name) and
    C(cluster_node_ip). A host without them (the preflight role did not run on it) gets
    empty values, which the consumers refuse by name.
options:
  _input:
    description: Inventory host names, e.g. C(groups['etcd']).
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Show the etcd members
  ansible.builtin.debug:
    msg: "{{ groups['etcd'] | corral.cluster.node_identities(hostvars) }}"
  # {"node1": {"node_name": "node1", "node_ip": "192.168.56.11"}}
"""

RETURN = r"""
_value:
  description: Inventory host name to C({node_name, node_ip}), in the input's order.
  type: dict
"""


def node_identities(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    identities = {}
    for host in hosts:
        host_vars = hostvars.get(host) or {}
        identities[host] = {
            "node_name": str(host_vars.get("cluster_node_name") or ""),
            "node_ip": str(host_vars.get("cluster_node_ip") or ""),
        }
    return identities


def https_urls(identities: Mapping[str, Mapping[str, str]], port: int) -> list[str]:
    """https://<node_ip>:<port> of each node, e.g. the client URLs of the etcd members."""
    return [f"https://{node['node_ip']}:{port}" for node in identities.values()]


def etcd_initial_cluster(identities: Mapping[str, Mapping[str, str]], peer_port: int) -> str:
    """The --initial-cluster value: <node name>=https://<node ip>:<peer port>,..."""
    return ",".join(f"{node['node_name']}=https://{node['node_ip']}:{peer_port}" for node in identities.values())


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "node_identities": node_identities,
            "https_urls": https_urls,
            "etcd_initial_cluster": etcd_initial_cluster,
        }
