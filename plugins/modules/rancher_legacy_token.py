# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rancher_legacy_token
short_description: Read (or create) a Rancher 1.6 host registration token
description:
  - Sets Rancher 1.6's C(api.host) setting (the Host Registration URL of its first-run page) to O(api_host) when it
    differs, then returns an active registration token of the environment (C(GET /v1/registrationtokens?state=active),
    or C(/v2-beta/projects/<project_id>/registrationtokens)), creating one (C(POST)) when there is none.
  - The token's C(registrationUrl) is the argument of C(rancher/agent:<tag>) on each host.
  - The results hold the registration secret, so register them under C(no_log).
version_added: "0.1.0"
options:
  url:
    description: Rancher 1.6's address as this host reaches it, such as V(http://127.0.0.1:8080).
    type: str
    required: true
  api_host:
    description: The address the hosts' agents reach Rancher at, such as V(http://10.0.0.5:8080).
    type: str
    required: true
  project_id:
    description: The environment (project) ID, such as V(1a5); empty for the default environment (C(/v1)).
    type: str
    default: ""
  access_key:
    description: An API access key, when Rancher's access control is on.
    type: str
  secret_key:
    description: The secret of O(access_key).
    type: str
  agent_image:
    description: The agent image to use instead of the one Rancher names (an internal registry's copy).
    type: str
    default: ""
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
  - corral.cluster.rancher
attributes:
  check_mode:
    details: Reads the setting and the tokens; reports what it would set or create.
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Read the host registration token of Rancher 1.6
  corral.cluster.rancher_legacy_token:
    url: http://127.0.0.1:8080
    api_host: http://10.0.0.5:8080
  register: rancher_legacy
  no_log: true
"""

RETURN = r"""
registration:
  description: The token's C(id), C(registrationUrl), C(command), C(image) and C(token); null when check mode would
    create it.
  returned: always
  type: dict
agent_image:
  description: The agent image to run (O(agent_image), else the token's C(image)).
  returned: when there is a token
  type: str
  sample: rancher/agent:v1.2.11
actions:
  description: What was (in check mode, would be) changed.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.corral.cluster.plugins.module_utils import rancher

ARGUMENT_SPEC = {
    **rancher.CONNECTION_ARGS,
    "api_host": {"type": "str", "required": True},
    "project_id": {"type": "str", "default": ""},
    "access_key": {"type": "str", "no_log": True},
    "secret_key": {"type": "str", "no_log": True},
    "agent_image": {"type": "str", "default": ""},
}


def run(module: AnsibleModule) -> dict:
    params = module.params
    if params["url"].startswith("https://") and not params["validate_certs"]:
        module.warn(rancher.SELF_SIGNED_WARNING)
    keys = (params["access_key"], params["secret_key"]) if params["access_key"] else None
    try:
        client = rancher.client_from_params(params, basic_auth=keys)
        result = rancher.legacy_registration(client, api_host=params["api_host"],
                                             project_id=params["project_id"] or None, check_mode=module.check_mode)
        if result["registration"]:
            result["agent_image"] = rancher.legacy_agent_image(result["registration"], params["agent_image"])
    except rancher.RancherError as exc:
        module.fail_json(msg=str(exc))
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_together=[["access_key", "secret_key"]],
                           supports_check_mode=True)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
