# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rancher_cluster
short_description: Import a cluster into Rancher 2.x (or create a custom cluster) and wait until it is active
description:
  - V(present) finds the cluster named O(name) (C(GET /v3/clusters?name=)) or creates it (C(POST /v3/clusters)),
    then reads its cluster registration token (C(GET /v3/clusterregistrationtokens?clusterId=)), creating one when
    there is none. Returns the token's commands (C(command), C(insecureCommand), C(manifestUrl), C(nodeCommand))
    and, with O(fetch_manifest), the import manifest itself, fetched from C(manifestUrl) with the same TLS
    settings, ready for C(kubectl apply -f -).
  - V(active) waits until Rancher reports the cluster C(active) (its agent has connected), polling every
    O(wait_interval) seconds for at most O(wait_timeout) seconds, and fails with what to check when it is not.
  - With O(kubernetes_version), the Rancher version the server reports is checked against the Kubernetes release
    first (see M(corral.cluster.rancher_compatibility)), before anything is created.
  - The results hold the registration token, so register them under C(no_log).
version_added: "0.1.0"
options:
  url:
    description: Rancher's address as this host reaches it, such as V(https://127.0.0.1).
    type: str
    required: true
  token:
    description: An API token (from M(corral.cluster.rancher_bootstrap)).
    type: str
    required: true
  name:
    description: The cluster's name in Rancher (lower case letters, digits and dashes).
    type: str
    required: true
  cluster_type:
    description:
      - V(imported) registers an existing cluster (apply the manifest to it).
      - V(custom) lets Rancher build Kubernetes on nodes that run the C(nodeCommand) (see RV(node_agent)).
    type: str
    choices: [imported, custom]
    default: imported
  description:
    description: The cluster's description, used when it is created.
    type: str
    default: Managed by corral.cluster
  state:
    description: V(present) to create or find the cluster, V(active) to wait until it is active.
    type: str
    choices: [present, active]
    default: present
  fetch_manifest:
    description: With V(present), also return the import manifest (RV(manifest)).
    type: bool
    default: true
  kubernetes_version:
    description: The cluster's Kubernetes release; when set, refuse a Rancher that cannot import it.
    type: str
  wait_timeout:
    description: With V(active), seconds to wait.
    type: int
    default: 300
  wait_interval:
    description: With V(active), seconds between two reads.
    type: int
    default: 5
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
  - corral.cluster.rancher
attributes:
  check_mode:
    details: Reads the cluster and its token; reports what it would create. V(active) only reads.
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Import the cluster into Rancher
  corral.cluster.rancher_cluster:
    url: https://127.0.0.1
    token: "{{ rancher_login.token }}"
    name: corral
    kubernetes_version: "{{ cluster_kubernetes_version }}"
    ca_checksum: "{{ rancher_ca_checksum }}"
  register: rancher_import
  no_log: true

- name: Apply the import manifest on a control-plane host
  ansible.builtin.command:
    cmd: kubectl apply -f -
    stdin: "{{ rancher_import.manifest }}"
  delegate_to: "{{ groups['kube_control_plane'] | first }}"
  no_log: true

- name: Wait until Rancher reports the cluster active
  corral.cluster.rancher_cluster:
    url: https://127.0.0.1
    token: "{{ rancher_login.token }}"
    name: corral
    state: active
    wait_timeout: 600
    ca_checksum: "{{ rancher_ca_checksum }}"
  no_log: true
"""

RETURN = r"""
cluster_id:
  description: Rancher's ID of the cluster (C(c-xxxxx)); null when check mode would create it.
  returned: always
  type: str
state:
  description: The cluster's state in Rancher (C(pending), C(provisioning), C(active), ...).
  returned: always
  type: str
registration:
  description: The cluster registration token's C(command), C(insecureCommand), C(manifestUrl), C(nodeCommand) and
    C(token); null when check mode would create it.
  returned: state is present
  type: dict
manifest:
  description: The import manifest (YAML) from C(manifestUrl).
  returned: state is present and fetch_manifest
  type: str
node_agent:
  description: The C(nodeCommand) split into C(image), C(server), C(token), C(ca_checksum), C(args), C(volumes),
    C(privileged), C(network_mode), C(restart_policy), to run the node agent with community.docker.
  returned: state is present
  type: dict
compatibility:
  description: The check of the server's version against O(kubernetes_version).
  returned: when kubernetes_version is set
  type: dict
actions:
  description: What was (in check mode, would be) created.
  returned: state is present
  type: list
  elements: str
polls:
  description: With V(active), how many reads it took.
  returned: state is active
  type: int
kubernetes_version:
  description: With V(active), the Kubernetes release Rancher read from the cluster through its agent (for
    example C(v1.20.2)); null until the agent has reported it.
  returned: state is active
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.corral.cluster.plugins.module_utils import rancher

ARGUMENT_SPEC = {
    **rancher.CONNECTION_ARGS,
    "token": {"type": "str", "required": True, "no_log": True},
    "name": {"type": "str", "required": True},
    "cluster_type": {"type": "str", "choices": list(rancher.CLUSTER_TYPES), "default": "imported"},
    "description": {"type": "str", "default": "Managed by corral.cluster"},
    "state": {"type": "str", "choices": ["present", "active"], "default": "present"},
    "fetch_manifest": {"type": "bool", "default": True},
    "kubernetes_version": {"type": "str"},
    "wait_timeout": {"type": "int", "default": 300},
    "wait_interval": {"type": "int", "default": 5},
}


def run(module: AnsibleModule) -> dict:
    params = module.params
    if not params["validate_certs"]:
        module.warn(rancher.SELF_SIGNED_WARNING)
    try:
        client = rancher.client_from_params(params, token=params["token"])
        compatibility = None
        if params["kubernetes_version"]:
            version = client.get("/v3/settings/server-version").get("value")
            compatibility = rancher.check_compatibility(version, params["kubernetes_version"])
        if params["state"] == "active":
            active = rancher.wait_active(client, params["name"], params["wait_timeout"], params["wait_interval"])
            result = {"changed": False, **active}
        else:
            result = rancher.ensure_cluster(client, name=params["name"], cluster_type=params["cluster_type"],
                                            description=params["description"],
                                            fetch_manifest=params["fetch_manifest"], check_mode=module.check_mode)
    except rancher.RancherError as exc:
        module.fail_json(msg=str(exc))
    if compatibility is not None:
        result["compatibility"] = compatibility
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
