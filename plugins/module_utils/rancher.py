# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client for Rancher's API and the flows built on it: the names the modules and the tests use.

Rancher 2.x: the ``/v3`` API (bootstrap login and password change, the ``server-url`` setting,
imported and custom clusters and their registration tokens). Rancher 1.6: the ``/v1`` API
(the ``api.host`` setting and host registration tokens).

Pure Python (standard library only) so that it can be unit-tested without Ansible or Rancher:
HTTP goes through a *transport*, ``(method, url, body, headers, timeout) -> (status, body)``.
The modules pass :func:`ansible_transport` (``open_url`` from ``ansible.module_utils.urls``); the
unit tests pass recorded responses; the contract tests use the real transport against the
stand-in server of tests/contract.

One concern per file, re-exported here:

- ``_rancher_client``: the errors, the transport, the client, Rancher's CA pinned by its checksum,
  the modules' connection options;
- ``_rancher_support``: which Kubernetes minors each Rancher line imports
  (:data:`RANCHER_KUBERNETES_SUPPORT`, the one place that says so), the first-login password;
- ``_rancher_v2``: Rancher 2.x's bootstrap, clusters and node command;
- ``_rancher_legacy``: Rancher 1.6's host registration.
"""

from ansible_collections.corral.cluster.plugins.module_utils._rancher_client import (
    ansible_transport,
    ApiError,
    ca_checksum,
    Client,
    client_from_params,
    CONNECTION_ARGS,
    http_error,
    normalize_checksum,
    NotFound,
    pinned_cacerts,
    RancherError,
    Refused,
    SELF_SIGNED_WARNING,
    timeout_message,
    tls_message,
    Transport,
    TransportError,
    Unauthorized,
    url_host,
)
from ansible_collections.corral.cluster.plugins.module_utils._rancher_support import (
    BOOTSTRAP_PASSWORD_SINCE,
    check_compatibility,
    first_login_password,
    is_legacy,
    LEGACY_DEFAULT_PASSWORD,
    lines_supporting,
    parse_version,
    RANCHER_KUBERNETES_SUPPORT,
    rancher_line,
)
from ansible_collections.corral.cluster.plugins.module_utils._rancher_v2 import (
    bootstrap,
    BootstrapResult,
    cluster_body,
    CLUSTER_TYPES,
    ensure_cluster,
    find_cluster,
    login,
    node_role_flags,
    NODE_ROLES,
    parse_node_command,
    REGISTRATION_FIELDS,
    registration_token,
    wait_active,
)
from ansible_collections.corral.cluster.plugins.module_utils._rancher_legacy import (
    legacy_agent_image,
    legacy_registration,
)

__all__ = [
    "ansible_transport",
    "ApiError",
    "bootstrap",
    "BOOTSTRAP_PASSWORD_SINCE",
    "BootstrapResult",
    "ca_checksum",
    "check_compatibility",
    "Client",
    "client_from_params",
    "cluster_body",
    "CLUSTER_TYPES",
    "CONNECTION_ARGS",
    "ensure_cluster",
    "find_cluster",
    "first_login_password",
    "http_error",
    "is_legacy",
    "legacy_agent_image",
    "LEGACY_DEFAULT_PASSWORD",
    "legacy_registration",
    "lines_supporting",
    "login",
    "node_role_flags",
    "NODE_ROLES",
    "normalize_checksum",
    "NotFound",
    "parse_node_command",
    "parse_version",
    "pinned_cacerts",
    "RANCHER_KUBERNETES_SUPPORT",
    "rancher_line",
    "RancherError",
    "Refused",
    "REGISTRATION_FIELDS",
    "registration_token",
    "SELF_SIGNED_WARNING",
    "timeout_message",
    "tls_message",
    "Transport",
    "TransportError",
    "Unauthorized",
    "url_host",
    "wait_active",
]
