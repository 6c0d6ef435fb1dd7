# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight filters of the pod network and the cluster DNS: the checks live in module_utils/preflight.py."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ansible_collections.corral.cluster.plugins.module_utils import preflight

DOCUMENTATION = r"""
name: flannel_problems
short_description: Every problem with the flannel settings, or with a change of the running flannel
version_added: 0.1.0
description:
  - Returns one sentence per problem, each naming the variable (and the host) and the fix - an empty list when all
    is well. Used by the preflight of the roles C(corral.cluster.flannel) and C(corral.cluster.coredns), before any
    host changes.
  - The same file holds C(coredns_problems), which checks the C(coredns_*) settings with C(cluster_kubernetes_version)
    and C(cluster_dns_ip).
options:
  _input:
    description: The flannel settings - the C(flannel_*) variables, C(cluster_pod_node_prefix) and
      C(control_plane_allocate_node_cidrs).
    type: dict
    required: true
  running:
    description: Inventory host -> the C(store) and C(backend) its flanneld runs with now, for the hosts where
      flannel runs. A change is refused unless C(flannel_allow_reconfigure) is true.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Refuse bad flannel settings
  ansible.builtin.assert:
    that: __problems | length == 0
    fail_msg: "{{ __problems | join(' ') }}"
  vars:
    __problems: "{{ {'flannel_store': 'etcd', 'flannel_backend': 'vxlan'} | corral.cluster.flannel_problems({}) }}"
"""

RETURN = r"""
_value:
  description: The problems found, one sentence each.
  type: list
  elements: str
"""


def flannel_problems(settings: Mapping[str, Any], running: Optional[Mapping[str, Any]] = None) -> list[str]:
    return preflight.check_flannel(settings, running or {})


def coredns_problems(settings: Mapping[str, Any]) -> list[str]:
    return preflight.check_coredns(settings)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"flannel_problems": flannel_problems, "coredns_problems": coredns_problems}
