# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: rancher_bootstrap
short_description: Bootstrap a Rancher 2.x server over its API and log in
description:
  - Logs in to Rancher's local provider (C(POST /v3-public/localProviders/local?action=login)) with the final admin
    O(password). When that fails with 401, logs in with O(bootstrap_password), sets the admin password
    (C(POST /v3/users?action=changepassword)) and logs in again.
  - Sets the C(server-url) setting (C(PUT /v3/settings/server-url)) to O(server_url) when it differs.
  - Idempotent, so on a server already bootstrapped with these settings it changes nothing (C(changed=false)).
  - Returns an API token for the tasks that follow. It is the login's token, which expires after O(token_ttl)
    seconds; Rancher creates one on every login, so it is not reported as a change. Register the result under
    C(no_log).
version_added: "0.1.0"
options:
  url:
    description: Rancher's address as this host reaches it, such as V(https://127.0.0.1).
    type: str
    required: true
  username:
    description: The local admin user.
    type: str
    default: admin
  password:
    description: The admin password to set (Rancher 2.6 and later want at least 12 characters).
    type: str
    required: true
  bootstrap_password:
    description:
      - The password of a fresh server, C(CATTLE_BOOTSTRAP_PASSWORD) for Rancher 2.6 and later, V(admin) before.
    type: str
    required: true
  server_url:
    description: The C(server-url) setting, the address agents and imported clusters use to reach Rancher.
    type: str
    required: true
  token_ttl:
    description: Lifetime of the returned token, in seconds.
    type: int
    default: 7200
  token_description:
    description: Description of the token in Rancher.
    type: str
    default: corral.cluster automation
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
  - corral.cluster.rancher
attributes:
  check_mode:
    details: Logs in (read-only) and reports what would change; changes no password or setting.
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Bootstrap Rancher
  corral.cluster.rancher_bootstrap:
    url: https://127.0.0.1
    password: "{{ rancher_server_admin_password }}"
    bootstrap_password: "{{ rancher_server_bootstrap_password }}"
    server_url: https://rancher.example.com
    ca_path: /etc/rancher-ca.pem
  register: rancher_login
  no_log: true

- name: Bootstrap Rancher that serves its own self-signed certificate, its CA pinned by checksum
  corral.cluster.rancher_bootstrap:
    url: https://rancher.example.com
    password: "{{ rancher_server_admin_password }}"
    bootstrap_password: "{{ rancher_server_bootstrap_password }}"
    server_url: https://rancher.example.com
    # sha256 of the value of /v3/settings/cacerts, as in the --ca-checksum of Rancher's agent commands
    ca_checksum: "{{ rancher_ca_checksum }}"
  register: rancher_login
  no_log: true
"""

RETURN = r"""
token:
  description: A bearer token (C(token-xxxxx:secret)) for the API; null in check mode on a fresh server.
  returned: always
  type: str
token_id:
  description: The token's ID.
  returned: always
  type: str
token_expires_at:
  description: When the token expires (UTC).
  returned: always
  type: str
server_url:
  description: The server-url setting (after the change).
  returned: always
  type: str
server_version:
  description: The version Rancher reports (C(server-version) setting).
  returned: when logged in
  type: str
  sample: v2.5.16
already_bootstrapped:
  description: Whether the final password already worked.
  returned: always
  type: bool
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
    "username": {"type": "str", "default": "admin"},
    "password": {"type": "str", "required": True, "no_log": True},
    "bootstrap_password": {"type": "str", "required": True, "no_log": True},
    "server_url": {"type": "str", "required": True},
    "token_ttl": {"type": "int", "default": 7200, "no_log": False},
    "token_description": {"type": "str", "default": "corral.cluster automation", "no_log": False},
}


def run(module: AnsibleModule) -> dict:
    params = module.params
    if not params["validate_certs"]:
        module.warn(rancher.SELF_SIGNED_WARNING)
    try:
        result = rancher.bootstrap(
            rancher.client_from_params(params),
            username=params["username"],
            password=params["password"],
            bootstrap_password=params["bootstrap_password"],
            server_url=params["server_url"],
            token_ttl_ms=params["token_ttl"] * 1000,
            token_description=params["token_description"],
            check_mode=module.check_mode,
        )
    except rancher.RancherError as exc:
        module.fail_json(msg=str(exc))
    return result.as_dict()


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
