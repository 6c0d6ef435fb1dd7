# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rancher_compatibility
short_description: Refuse a Rancher release that cannot import the cluster's Kubernetes release
description:
  - Looks the Rancher line (2.5, 2.12, ...) of O(rancher_version) up in corral.cluster's table of the Kubernetes
    minors each Rancher 2.x line imports, and fails, naming the Rancher lines that would do, when
    O(kubernetes_version) is not among them.
  - Rancher 1.x imports no Kubernetes cluster (it registers Docker hosts), so it always passes.
  - Changes nothing; meant for the preflight of a play, before any container starts.
version_added: "0.1.0"
options:
  rancher_version:
    description: The Rancher release, such as V(v2.5.16) (an image tag), or only its line, such as V(2.12).
    type: str
    required: true
  kubernetes_version:
    description: The cluster's Kubernetes release, such as V(1.20.2).
    type: str
    required: true
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
attributes:
  check_mode:
    details: Reads nothing and changes nothing.
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Refuse a Rancher that cannot import this cluster
  corral.cluster.rancher_compatibility:
    rancher_version: v2.5.16
    kubernetes_version: "{{ cluster_kubernetes_version }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
rancher_line:
  description: The Rancher line checked.
  returned: success
  type: str
  sample: "2.5"
legacy:
  description: Whether it is Rancher 1.x.
  returned: success
  type: bool
supported_kubernetes:
  description: The Kubernetes minors that line imports.
  returned: success
  type: list
  elements: str
  sample: ["1.17", "1.18", "1.19", "1.20"]
message:
  description: What was checked.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.corral.cluster.plugins.module_utils import rancher

ARGUMENT_SPEC = {
    "rancher_version": {"type": "str", "required": True},
    "kubernetes_version": {"type": "str", "required": True},
}


def run(module: AnsibleModule) -> dict:
    try:
        return {"changed": False, **rancher.check_compatibility(module.params["rancher_version"],
                                                                module.params["kubernetes_version"])}
    except rancher.RancherError as exc:
        module.fail_json(msg=str(exc))
    raise AssertionError("fail_json returned")  # pragma: no cover


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
