# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: etcd_member
short_description: Add, update and remove the members of an etcd cluster
description:
  - Manages the membership of a TLS etcd cluster over the etcd v3 API by running C(etcdctl) (with C(ETCDCTL_API=3),
    C(--write-out=json), never through a shell) on the host, normally an etcd member.
  - V(present) makes sure a member O(name) with O(peer_urls) is in the cluster. A member of that name with other peer
    URLs gets them (C(etcdctl member update)). A member added earlier that has not started yet (it has no name until
    it starts) with the same peer URLs counts as present. Otherwise the member is added (C(etcdctl member add)),
    and the result holds RV(initial_cluster) and RV(initial_cluster_state) to start it with
    (C(--initial-cluster), C(--initial-cluster-state existing)).
  - V(absent) removes the member named O(name), or the one with the peer URLs O(peer_urls) (the way to remove a
    member that never started). Removing the last member is refused.
  - A new member is added as a voting member, or with O(learner=true) as a learner (etcd 3.4 or later); learners
    are never promoted by this module (C(etcdctl member promote) once it has caught up).
  - etcd itself refuses membership changes while the cluster is unhealthy, for instance while a member that was
    added has not started, or within about 5 seconds of a member starting; the failure then says so, and a retry
    (C(until)) is the way to wait.
version_added: "0.1.0"
options:
  endpoints:
    description:
      - Client URLs of the etcd members to talk to, such as V(https://10.0.0.11:2379).
      - When removing a member, give the endpoints of the members that stay.
    type: list
    elements: str
    required: true
  state:
    description:
      - V(present) adds the member (or updates its peer URLs); needs O(name) and O(peer_urls).
      - V(absent) removes the member; needs O(name) or O(peer_urls).
      - To list the members, use M(corral.cluster.etcd_member_info).
    type: str
    choices: [present, absent]
    default: present
  name:
    description: The member name (etcd C(--name)).
    type: str
  peer_urls:
    description: The member's peer URLs (etcd C(--initial-advertise-peer-urls)), such as V(https://10.0.0.12:2380).
    type: list
    elements: str
  learner:
    description:
      - Add a new member as a learner (non-voting) rather than as a voting member. Needs etcd 3.4 or later.
      - Only used when the member is added; an existing member is never promoted or demoted.
    type: bool
    default: false
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
  - corral.cluster.etcd
attributes:
  check_mode:
    details: Lists the members and reports what would be added, updated or removed; runs no changing command.
notes:
  - Member IDs are returned in hex, the form C(etcdctl member list) prints and C(etcdctl member remove) takes.
seealso:
  - module: corral.cluster.etcd_member_info
  - name: etcd runtime reconfiguration
    description: Adding and removing members, and why one at a time.
    link: https://etcd.io/docs/v3.5/op-guide/runtime-configuration/
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Add the new member etcd-4 from an existing member
  corral.cluster.etcd_member:
    endpoints: ["https://10.0.0.11:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key
    state: present
    name: etcd-4
    peer_urls: ["https://10.0.0.14:2380"]
  delegate_to: etcd-1
  register: etcd_new_member

- name: Start it with the cluster etcd returned
  ansible.builtin.debug:
    msg: >-
      --initial-cluster={{ etcd_new_member.initial_cluster }}
      --initial-cluster-state={{ etcd_new_member.initial_cluster_state }}

- name: Remove the member etcd-4, talking to the members that stay
  corral.cluster.etcd_member:
    endpoints: ["https://10.0.0.11:2379", "https://10.0.0.12:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key
    state: absent
    name: etcd-4
  delegate_to: etcd-1
  register: etcd_removed
  # etcd refuses while a member started less than about 5 seconds ago.
  retries: 6
  delay: 5
  until: etcd_removed is not failed

- name: Remove a member that was added but never started
  corral.cluster.etcd_member:
    endpoints: ["https://10.0.0.11:2379"]
    ca_cert: /etc/etcd/pki/ca.crt
    cert: /etc/etcd/pki/healthcheck-client.crt
    key: /etc/etcd/pki/healthcheck-client.key
    state: absent
    peer_urls: ["https://10.0.0.14:2380"]
"""

RETURN = r"""
members:
  description: The members, after the change (in check mode, as they would be).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Member ID in hex; null for a member that check mode would add.
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
member:
  description: The member added, updated, found or removed, as in RV(members); null when none was found to remove.
  returned: state is present or absent
  type: dict
  sample: {"id": "c9a8a5b4e2a1f0d3", "name": "", "peer_urls": ["https://10.0.0.14:2380"], "client_urls": [],
           "is_learner": false, "started": false}
action:
  description: What was (in check mode, would be) done - V(none), V(add), V(update) or V(remove).
  returned: always
  type: str
  sample: add
reason:
  description: Why that action.
  returned: state is present or absent
  type: str
  sample: no member is named etcd-4
initial_cluster:
  description:
    - The C(--initial-cluster) (C(ETCD_INITIAL_CLUSTER)) to start the member O(name) with, the members' names and
      peer URLs with the new member named O(name), as C(etcdctl member add) prints it.
    - Only meaningful for a member that has not started yet; a started member ignores it.
  returned: state is present
  type: str
  sample: etcd-1=https://10.0.0.11:2380,etcd-4=https://10.0.0.14:2380
initial_cluster_state:
  description: The C(--initial-cluster-state) to start a member joining a running cluster with.
  returned: state is present
  type: str
  sample: existing
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.corral.cluster.plugins.module_utils import etcd

ARGUMENT_SPEC = {
    **etcd.CONNECTION_ARGS,
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "name": {"type": "str"},
    "peer_urls": {"type": "list", "elements": "str"},
    "learner": {"type": "bool", "default": False},
}

REQUIRED_IF = [
    ("state", "present", ("name", "peer_urls")),
    ("state", "absent", ("name", "peer_urls"), True),
]


def problems(params: dict) -> list:
    """What is wrong with the arguments, checked before etcdctl runs; each a sentence with the fix."""
    found = etcd.connection_problems(params)
    found += etcd.url_problems("peer_urls", params["peer_urls"] or [])
    if params["state"] == "present" and not (params["name"] or "").strip():
        found.append("name is empty: give the member name (etcd --name).")
    return found


def run(module: AnsibleModule) -> dict:
    params = module.params
    return etcd.converge_for_module(
        module,
        problems(params),
        params["state"],
        name=params["name"],
        peer_urls=[url.strip() for url in params["peer_urls"] or []],
        learner=params["learner"],
        check_mode=module.check_mode,
    )


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_if=REQUIRED_IF, supports_check_mode=True)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
