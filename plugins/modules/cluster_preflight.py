# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done on the controller by the action plugin of the same name.

DOCUMENTATION = r"""
---
module: cluster_preflight
short_description: Refuse a bad corral.cluster inventory or bad cluster settings
description:
  - Checks the inventory groups, the hosts' facts and the cluster settings on the controller, before any host
    changes, and fails with one line per problem found, each naming the host or variable and the fix.
  - Checks the groups C(etcd), C(kube_control_plane), C(kube_node), C(k8s_cluster) and C(rancher_server) -
    required groups not empty, C(k8s_cluster) the parent of the Kubernetes groups, an odd etcd member count.
  - Checks every host of those groups, from its facts C(cluster_node_name) and C(cluster_node_ip) and its
    C(ansible_facts) (subsets C(min) and C(network)) - node IP present, IPv4 and on one of its interfaces,
    node name an RFC 1123 subdomain, node names and IPs unique, operating system supported.
  - Checks the settings - Kubernetes version, container runtime, network plugin, cluster name and domain,
    registry mirrors, pod and Service ranges (IPv4, sizes, no overlap with each other or any node network),
    per-node pod prefix and capacity, cluster DNS address.
  - A host of those groups without facts (unreachable, or left out by C(--limit)) is a problem too.
  - Runs once for the whole play (use C(run_once)); on success it sets the fact C(cluster_preflight_passed).
  - Reads the settings it checks, the C(cluster_*) variables of the role C(corral.cluster.cluster) (whose
    argument spec documents them), from the play's variables, not from arguments.
  - Normally used through the role C(corral.cluster.preflight), which gathers the facts and loads the defaults of
    C(corral.cluster.cluster).
version_added: "0.1.0"
options:
  required_groups:
    description: Inventory groups that must have at least one host.
    type: list
    elements: str
    default: [etcd, kube_control_plane, kube_node]
  etcd_allow_even_members:
    description: Accept an even number of etcd members (for a playbook adding or removing one member).
    type: bool
    default: false
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.conn
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
  connection:
    support: none
  delegation:
    support: none
    details: Runs on the controller only.
  diff_mode:
    support: none
  platform:
    platforms: all
seealso:
  - module: ansible.builtin.assert
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Refuse a bad inventory or bad settings
  corral.cluster.cluster_preflight:
    etcd_allow_even_members: true
  run_once: true
"""

RETURN = r"""
msg:
  description: Summary on success; on failure C(Preflight found N problem(s)) followed by one line per problem.
  returned: always
  type: str
  sample: "Preflight found 1 problem(s):\n - Inventory group 'kube_node' is empty: add at least one host to it."
problems:
  description: The problems found, one sentence each naming the host or variable and the fix.
  returned: failed
  type: list
  elements: str
ansible_facts:
  description: Facts set on success (on every host of the play when run with C(run_once)).
  returned: success
  type: dict
  contains:
    cluster_preflight_passed:
      description: Always V(true); later imports of the preflight play skip their checks.
      returned: success
      type: bool
      sample: true
"""
