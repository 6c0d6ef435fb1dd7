# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rancher 2.x over its /v3 API: the bootstrap (login, password change, server-url), imported and custom
clusters with their registration tokens, and a custom cluster's node command. Imported through
module_utils/rancher.py."""

import shlex
import time
from typing import Any, Callable, Dict, Optional, Tuple

from ansible_collections.corral.cluster.plugins.module_utils._rancher_client import (
    Client,
    NotFound,
    RancherError,
    Refused,
    Unauthorized,
)


# --- Rancher 2.x: bootstrap -------------------------------------------------------------------


def login(client: Client, username: str, password: str, ttl_ms: int, description: str) -> dict:
    """POST /v3-public/localProviders/local?action=login; the token resource (``token`` is the bearer)."""
    return client.post("/v3-public/localProviders/local?action=login", {
        "username": username,
        "password": password,
        "ttl": ttl_ms,
        "description": description,
        "responseType": "json",
    }, auth=False)


class BootstrapResult:
    """What :func:`bootstrap` did and found (the module returns :meth:`as_dict`)."""

    FIELDS = ("changed", "actions", "token", "token_id", "token_expires_at", "server_url", "server_version",
              "already_bootstrapped")

    def __init__(self, changed: bool, actions: list, token: Optional[str], token_id: Optional[str],
                 token_expires_at: Optional[str], server_url: str, server_version: Optional[str],
                 already_bootstrapped: bool) -> None:
        self.changed = changed
        self.actions = actions
        self.token = token
        self.token_id = token_id
        self.token_expires_at = token_expires_at
        self.server_url = server_url
        self.server_version = server_version
        self.already_bootstrapped = already_bootstrapped

    def as_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BootstrapResult):
            return NotImplemented
        return self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        # The token is a secret: never in a repr.
        shown = {name: value for name, value in self.as_dict().items() if name != "token"}
        return f"BootstrapResult({shown!r})"


def bootstrap(client: Client, *, username: str, password: str, bootstrap_password: str, server_url: str,
              token_ttl_ms: int, token_description: str, check_mode: bool) -> BootstrapResult:
    """Log in (final password, else bootstrap password), set the admin password and server-url.

    Idempotent: once the final password works nothing is changed. The token returned is a login
    token that expires after ``token_ttl_ms``: Rancher creates one on every login, so it is not
    reported as a change.
    """
    actions: list = []
    try:
        session = login(client, username, password, token_ttl_ms, token_description)
        already = True
    except Unauthorized as first:
        try:
            session = login(client, username, bootstrap_password, token_ttl_ms, token_description)
        except Unauthorized:
            raise Unauthorized(
                f"Rancher refused both the admin password and the bootstrap password for user {username} "
                f"({first}). If the admin password was changed outside Ansible, set it (rancher_server_admin_password); "
                "if the server was never bootstrapped, the bootstrap password must be the one the container started "
                "with (CATTLE_BOOTSTRAP_PASSWORD; before Rancher 2.6 it is always 'admin')."
            ) from None
        already = False
        actions.append("replace the first-login password")
        if not check_mode:
            client.token = session["token"]
            client.post("/v3/users?action=changepassword",
                        {"currentPassword": bootstrap_password, "newPassword": password})
            session = login(client, username, password, token_ttl_ms, token_description)
    client.token = session.get("token")
    if client.token is None and not (check_mode and not already):
        raise RancherError("The login answered without a token: is this a Rancher 2.x server?")
    current_url = client.get("/v3/settings/server-url").get("value", "") if client.token else ""
    if current_url.rstrip("/") != server_url.rstrip("/"):
        actions.append(f"set server-url to {server_url} (was {current_url or 'unset'})")
        if not check_mode:
            client.put("/v3/settings/server-url", {"name": "server-url", "value": server_url})
    version = client.get("/v3/settings/server-version").get("value") if client.token else None
    return BootstrapResult(
        changed=bool(actions), actions=actions, token=session.get("token"), token_id=session.get("id"),
        token_expires_at=session.get("expiresAt"), server_url=server_url, server_version=version,
        already_bootstrapped=already,
    )


# --- Rancher 2.x: clusters --------------------------------------------------------------------

CLUSTER_TYPES = ("imported", "custom")
REGISTRATION_FIELDS = ("command", "insecureCommand", "manifestUrl", "nodeCommand", "token")


def find_cluster(client: Client, name: str) -> Optional[dict]:
    clusters = client.get("/v3/clusters", name=name).get("data", [])
    matches = [c for c in clusters if c.get("name") == name]
    return matches[0] if matches else None


def cluster_body(name: str, cluster_type: str, description: str) -> dict:
    body: Dict[str, Any] = {"type": "cluster", "name": name, "description": description}
    if cluster_type == "custom":
        # A custom cluster: Rancher builds Kubernetes (RKE) on the nodes that run the nodeCommand.
        body["rancherKubernetesEngineConfig"] = {}
    return body


def registration_token(client: Client, cluster_id: str, check_mode: bool) -> Tuple[Optional[dict], bool]:
    """The cluster's registration token with a command, created when there is none. (token, created)."""
    tokens = client.get("/v3/clusterregistrationtokens", clusterId=cluster_id).get("data", [])
    usable = [t for t in tokens if t.get("token") and t.get("manifestUrl")]
    if usable:
        return usable[0], False
    if check_mode:
        return None, True
    created = client.post("/v3/clusterregistrationtokens",
                          {"type": "clusterRegistrationToken", "clusterId": cluster_id})
    if not created.get("manifestUrl"):  # Rancher fills the commands in shortly after creation.
        created = client.get(f"/v3/clusterregistrationtokens/{created['id']}")
    return created, True


def ensure_cluster(client: Client, *, name: str, cluster_type: str, description: str, fetch_manifest: bool,
                   check_mode: bool) -> Dict[str, Any]:
    """Create (or find by name) a cluster and return its registration commands and import manifest."""
    if cluster_type not in CLUSTER_TYPES:
        raise RancherError(f"cluster_type must be one of {', '.join(CLUSTER_TYPES)}, not {cluster_type!r}.")
    actions = []
    cluster = find_cluster(client, name)
    if cluster is not None:
        found_type = "custom" if cluster.get("rancherKubernetesEngineConfig") else "imported"
        if found_type != cluster_type:
            raise Refused(f"Rancher already has a cluster named {name} ({cluster.get('id')}) of type {found_type}, "
                          f"not {cluster_type}: pick another cluster name or remove that cluster in Rancher.")
    else:
        actions.append(f"create the {cluster_type} cluster {name}")
        if check_mode:
            return _cluster_result(actions, None, None, None)
        cluster = client.post("/v3/clusters", cluster_body(name, cluster_type, description))
    token, created = registration_token(client, cluster["id"], check_mode)
    if created:
        actions.append("create a cluster registration token")
    manifest = None
    if token and fetch_manifest:
        manifest = client.request("GET", token["manifestUrl"], auth=False, raw=True)
    return _cluster_result(actions, cluster, token, manifest)


def _cluster_result(actions: list, cluster: Optional[dict], token: Optional[dict],
                    manifest: Optional[str]) -> Dict[str, Any]:
    result: Dict[str, Any] = {
        "changed": bool(actions),
        "actions": actions,
        "cluster_id": cluster.get("id") if cluster else None,
        "state": cluster.get("state") if cluster else None,
        "registration": {field: token.get(field) for field in REGISTRATION_FIELDS} if token else None,
        "manifest": manifest,
        "node_agent": parse_node_command(token["nodeCommand"]) if token and token.get("nodeCommand") else None,
    }
    return result


def wait_active(client: Client, name: str, timeout: float, interval: float,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> dict:
    """Poll the cluster until Rancher reports it active; a clear error on timeout."""
    cluster = find_cluster(client, name)
    if cluster is None:
        raise NotFound(f"Rancher has no cluster named {name}: import it first (state=present).")
    deadline = clock() + timeout
    polls = 0
    while True:
        polls += 1
        state = cluster.get("state")
        if state == "active":
            # The Kubernetes release Rancher read from the cluster (none until its agent reported it).
            version = cluster.get("version")
            version = version.get("gitVersion") if isinstance(version, dict) else None
            return {"cluster_id": cluster["id"], "state": state, "polls": polls, "kubernetes_version": version}
        if clock() >= deadline:
            raise RancherError(
                f"Cluster {name} ({cluster['id']}) is still {state!r} after {timeout:g} s"
                + (f" ({cluster.get('transitioningMessage')})" if cluster.get("transitioningMessage") else "")
                + ": the cattle-cluster-agent in the cluster has not connected. On a control-plane host, "
                "check `kubectl -n cattle-system get pods` and the agent's logs; the cluster must reach "
                "Rancher's server-url and, with a self-signed certificate, trust its CA (ca-checksum)."
            )
        sleep(interval)
        cluster = client.get(f"/v3/clusters/{cluster['id']}")


_AGENT_FLAGS_WITH_VALUE = ("--server", "--token", "--ca-checksum", "--node-name", "--address", "--internal-address")


def parse_node_command(command: str) -> Dict[str, Any]:
    """Split a custom cluster's nodeCommand (sudo docker run ... IMAGE --server S --token T --ca-checksum C)."""
    words = shlex.split(command)
    try:
        run = words.index("run")
    except ValueError as err:
        raise RancherError(f"The nodeCommand is not a docker run command: {command[:80]!r}") from err
    options, i = [], run + 1
    with_value = {"-v", "--volume", "-e", "--env", "--restart", "--net", "--network", "--name"}
    while i < len(words) and words[i].startswith("-"):
        if "=" in words[i]:
            key, _unused, value = words[i].partition("=")
            options.append((key, value))
            i += 1
        elif words[i] in with_value:
            options.append((words[i], words[i + 1]))
            i += 2
        else:
            options.append((words[i], None))
            i += 1
    if i >= len(words):
        raise RancherError(f"The nodeCommand names no image: {command[:80]!r}")
    image = words[i]
    args = words[i + 1:]
    values: Dict[str, Optional[str]] = {}
    j = 0
    while j < len(args):
        if args[j] in _AGENT_FLAGS_WITH_VALUE and j + 1 < len(args):
            values[args[j].lstrip("-").replace("-", "_")] = args[j + 1]
            j += 2
        else:
            j += 1
    return {
        "image": image,
        "args": args,
        "server": values.get("server"),
        "token": values.get("token"),
        "ca_checksum": values.get("ca_checksum"),
        "privileged": ("--privileged", None) in options,
        "network_mode": next((v for k, v in options if k in ("--net", "--network")), None),
        "volumes": [v for k, v in options if k in ("-v", "--volume")],
        "restart_policy": next((v for k, v in options if k == "--restart"), None),
    }


NODE_ROLES = ("etcd", "controlplane", "worker")


def node_role_flags(roles: list) -> list:
    unknown = [r for r in roles if r not in NODE_ROLES]
    if unknown:
        raise RancherError(f"Unknown node roles {unknown}: use {', '.join(NODE_ROLES)}.")
    return [f"--{r}" for r in NODE_ROLES if r in roles]
