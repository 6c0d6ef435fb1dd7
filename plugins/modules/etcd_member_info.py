# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: etcd_member_info
short_description: List the members of an etcd cluster
description:
  - Lists the members of a TLS etcd cluster over the etcd v3 API by running C(etcdctl member list) (with
    C(ETCDCTL_API=3), C(--write-out=json), never through a shell) on the host, normally an etcd member.
  - Changes nothing. M(corral.cluster.etcd_member) adds, updates and removes members.
  - When etcdctl times out, the failure says which endpoints refuse connections (etcd down) and which accept them
    (so the TLS handshake failed, for a wrong CA or client certificate).
version_added: "0.1.0"
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.etcd
attributes:
  check_mode:
    support: full
    details: Lists the members, as in a normal run.
  diff_mode:
    support: N/A
    details: Changes nothing.
  platform:
    platforms: posix
notes:
  - Member IDs are returned in hex, the form C(etcdctl member list) prints and C(etcdctl member remove) takes.
seealso:
  - module: corral.cluster.etcd_member
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: List the etcd members
  corral.cluster.etcd_member_info:
    endpoints: ["https://{{ cluster_node_ip }}:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key
  register: etcd_members
  run_once: true

- name: Show the members that have not started yet
  ansible.builtin.debug:
    msg: "{{ etcd_members.members | rejectattr('started') | map(attribute='peer_urls') | list }}"
"""

RETURN = r"""
members:
  description: The members of the cluster.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Member ID in hex.
      type: str
      sample: 8e9e05c52164694d
    name:
      description: Member name; empty until the member has started.
      type: str
      sample: etcd-1
    peer_urls:
      description: Peer URLs.
      type: list
      elements: str
      sample: ["https://10.0.0.11:2380"]
    client_urls:
      description: Client URLs; empty until the member has started.
      type: list
      elements: str
      sample: ["https://10.0.0.11:2379"]
    is_learner:
      description: Whether the member is a learner (non-voting).
      type: bool
      sample: false
    started:
      description: Whether the member has started (it has a name).
      type: bool
      sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.corral.cluster.plugins.module_utils import etcd


def run(module: AnsibleModule) -> dict:
    result = etcd.converge_for_module(module, etcd.connection_problems(module.params), "list")
    return {"changed": False, "members": result["members"]}


def main() -> None:
    module = AnsibleModule(argument_spec=etcd.CONNECTION_ARGS, supports_check_mode=True)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
