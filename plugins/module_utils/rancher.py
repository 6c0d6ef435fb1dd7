# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client for Rancher's API and the flows built on it.

Rancher 2.x: the ``/v3`` API (bootstrap login and password change, the ``server-url`` setting,
imported and custom clusters and their registration tokens). Rancher 1.6: the ``/v1`` API
(the ``api.host`` setting and host registration tokens).

Pure Python (standard library only) so that it can be unit-tested without Ansible or Rancher:
HTTP goes through a *transport*, ``(method, url, body, headers, timeout) -> (status, body)``.
The modules pass :func:`ansible_transport` (``open_url`` from ``ansible.module_utils.urls``); the
unit tests pass recorded responses; the contract tests use the real transport against the
stand-in server of tests/contract.

This module is also the one place that says which Kubernetes minors each Rancher line imports
(:data:`RANCHER_KUBERNETES_SUPPORT`).
"""

import atexit
import hashlib
import json
import os
import re
import shlex
import socket
import ssl
import tempfile
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlencode, urlsplit

from ansible_collections.corral.cluster.plugins.module_utils.version import version_tuple

# --- What Rancher supports ------------------------------------------------------------------

# Rancher line (major, minor) -> the Kubernetes minors (1.x) it supports for imported
# (registered) clusters, at the line's latest patch release, from the SUSE Rancher support
# matrices (https://www.suse.com/suse-rancher/support-matrix/all-supported-versions/). Early
# patch releases of a line may support fewer of the newest minors. Rancher 1.6 does not import
# Kubernetes clusters at all: it registers Docker hosts (see the legacy flow).
RANCHER_KUBERNETES_SUPPORT: Dict[Tuple[int, int], Tuple[int, int]] = {
    (2, 4): (15, 18),
    (2, 5): (17, 20),
    (2, 6): (18, 24),
    (2, 7): (23, 27),
    (2, 8): (25, 28),
    (2, 9): (27, 30),
    (2, 10): (28, 31),
    (2, 11): (30, 32),
    (2, 12): (31, 33),
    (2, 13): (32, 34),
    (2, 14): (33, 35),
}

# The first Rancher 2.x line that reads CATTLE_BOOTSTRAP_PASSWORD; older 2.x lines start with
# the admin password "admin".
BOOTSTRAP_PASSWORD_SINCE = (2, 6)
LEGACY_DEFAULT_PASSWORD = "admin"


Transport = Callable[..., tuple]  # (method, url, body, headers, timeout) -> (status, body bytes)


class RancherError(Exception):
    """A problem talking to Rancher, with a message that says what to do."""


class Refused(RancherError):
    """The requested change is refused before anything changed: the message says why."""


class Unauthorized(RancherError):
    """HTTP 401."""


class NotFound(RancherError):
    """HTTP 404."""


class ApiError(RancherError):
    """Any other HTTP error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class TransportError(RancherError):
    """No HTTP answer: TLS verification failed, timeout, connection refused."""


# --- Versions and compatibility ---------------------------------------------------------------


def parse_version(value: Any) -> Optional[Tuple[int, int, int]]:
    """(major, minor, patch) of "v2.5.16", "2.5", "v1.6.30-rc1"; None when there is none."""
    return version_tuple(value)


def rancher_line(version: Any) -> Tuple[int, int]:
    parsed = parse_version(version)
    if parsed is None:
        raise Refused(
            f"Cannot tell the Rancher version from {version!r}: pin the image tag to a release such as v2.5.16 "
            "(not latest or stable), or set rancher_server_version to the release the image runs."
        )
    return parsed[0], parsed[1]


def is_legacy(version: Any) -> bool:
    """Rancher 1.x (rancher/server, the Cattle API on port 8080)."""
    return rancher_line(version)[0] == 1


def lines_supporting(kubernetes_minor: int) -> List[Tuple[int, int]]:
    return sorted(line for line, (low, high) in RANCHER_KUBERNETES_SUPPORT.items() if low <= kubernetes_minor <= high)


def _line_text(line: Tuple[int, int]) -> str:
    low, high = RANCHER_KUBERNETES_SUPPORT[line]
    return f"Rancher {line[0]}.{line[1]} (Kubernetes 1.{low}-1.{high})"


def check_compatibility(rancher_version: Any, kubernetes_version: Any) -> Dict[str, Any]:
    """Refuse a Rancher 2.x release that cannot import the Kubernetes release; return what was checked."""
    line = rancher_line(rancher_version)
    if line[0] == 1:
        return {
            "rancher_line": f"{line[0]}.{line[1]}",
            "legacy": True,
            "supported_kubernetes": [],
            "message": "Rancher 1.x registers Docker hosts and imports no Kubernetes cluster: nothing to check.",
        }
    kube = parse_version(kubernetes_version)
    if kube is None or kube[0] != 1:
        raise Refused(f"Cannot tell the Kubernetes version from {kubernetes_version!r}: set cluster_kubernetes_version "
                      "to a release such as 1.20.2.")
    minor = kube[1]
    if line not in RANCHER_KUBERNETES_SUPPORT:
        known = ", ".join(f"{a}.{b}" for a, b in sorted(RANCHER_KUBERNETES_SUPPORT))
        raise Refused(f"Rancher {line[0]}.{line[1]} is not a line corral.cluster knows (known: {known}); "
                      f"{_suggestion(minor)}")
    low, high = RANCHER_KUBERNETES_SUPPORT[line]
    if not low <= minor <= high:
        raise Refused(f"Rancher {rancher_version} cannot import this cluster: the {line[0]}.{line[1]} line supports "
                      f"Kubernetes 1.{low}-1.{high}, and cluster_kubernetes_version is {kubernetes_version}. "
                      f"{_suggestion(minor)}")
    return {
        "rancher_line": f"{line[0]}.{line[1]}",
        "legacy": False,
        "supported_kubernetes": [f"1.{m}" for m in range(low, high + 1)],
        "message": f"{_line_text(line)} imports Kubernetes {kubernetes_version}.",
    }


def _suggestion(minor: int) -> str:
    lines = lines_supporting(minor)
    if not lines:
        return f"No Rancher line corral.cluster knows imports Kubernetes 1.{minor}."
    return ("Use " + " or ".join(_line_text(line) for line in reversed(lines)) +
            f" for Kubernetes 1.{minor}, or change the Kubernetes version.")


def first_login_password(rancher_version: Any, bootstrap_password: str) -> str:
    """The admin password of a fresh server: CATTLE_BOOTSTRAP_PASSWORD since 2.6, "admin" before."""
    return bootstrap_password if rancher_line(rancher_version) >= BOOTSTRAP_PASSWORD_SINCE else LEGACY_DEFAULT_PASSWORD


# --- Transport --------------------------------------------------------------------------------


def ansible_transport(validate_certs: bool = True, ca_path: Optional[str] = None) -> Transport:
    """A transport over ``ansible.module_utils.urls.open_url`` (imported here: the rest needs no Ansible)."""
    from urllib.error import HTTPError, URLError

    from ansible.module_utils.urls import open_url

    try:  # ansible-core 2.16+
        from ansible.module_utils.urls import SSLValidationError
    except ImportError:  # pragma: no cover
        SSLValidationError = ssl.SSLError  # noqa: N806

    def transport(method: str, url: str, body: Optional[bytes], headers: Mapping[str, str], timeout: float):
        try:
            response = open_url(url, data=body, headers=dict(headers), method=method, validate_certs=validate_certs,
                                ca_path=ca_path, timeout=timeout, follow_redirects="safe", use_proxy=False)
            return response.getcode(), response.read()
        except HTTPError as err:
            return err.code, err.read() or b""
        except SSLValidationError as err:
            raise TransportError(tls_message(url, err, ca_path)) from err
        except URLError as err:
            reason = err.reason
            if isinstance(reason, ssl.SSLError):
                raise TransportError(tls_message(url, reason, ca_path)) from err
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise TransportError(timeout_message(url, timeout)) from err
            raise TransportError(f"Cannot reach Rancher at {url}: {reason}. Is the container running and "
                                 "listening on that address and port?") from err
        except ssl.SSLError as err:
            raise TransportError(tls_message(url, err, ca_path)) from err
        except (socket.timeout, TimeoutError) as err:
            raise TransportError(timeout_message(url, timeout)) from err
        except (ConnectionError, OSError) as err:
            raise TransportError(f"Cannot reach Rancher at {url}: {err}. Is the container running and "
                                 "listening on that address and port?") from err

    return transport


def tls_message(url: str, err: Any, ca_path: Optional[str]) -> str:
    trusted = f"the CA in {ca_path}" if ca_path else "the host's trusted CAs"
    return (f"TLS verification of {url} failed ({err}): its certificate is not signed by {trusted}, or the "
            "address is not among its names. Give the CA that signed Rancher's certificate (ca_path), or, for "
            "Rancher's own self-signed certificate, the sha256 of the CA it serves (ca_checksum).")


def timeout_message(url: str, timeout: float) -> str:
    return (f"Rancher at {url} did not answer within {timeout:g} s: it may still be starting (give it more time: "
            "timeout), or a firewall drops the traffic.")


# --- Client -----------------------------------------------------------------------------------


class Client:
    """Requests to one Rancher server; ``token`` is sent as a bearer token (2.x) or basic auth (1.6 keys)."""

    def __init__(self, url: str, transport: Transport, token: Optional[str] = None,
                 basic_auth: Optional[Tuple[str, str]] = None, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.transport = transport
        self.token = token
        self.basic_auth = basic_auth
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, params: Optional[Mapping[str, Any]] = None,
                auth: bool = True, raw: bool = False) -> Any:
        url = path if path.startswith(("http://", "https://")) else self.url + path
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif auth and self.basic_auth:
            import base64
            pair = f"{self.basic_auth[0]}:{self.basic_auth[1]}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        status, content = self.transport(method, url, data, headers, self.timeout)
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content or "")
        if status >= 400:
            raise http_error(method, url, status, text, authenticated=bool(auth and (self.token or self.basic_auth)))
        if raw:
            return text
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError as err:
            raise RancherError(f"{method} {_redact(url)} answered HTTP {status} with something that is not JSON "
                               f"({text[:120]!r}): is this a Rancher server?") from err

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, body=body if body is not None else {}, **kwargs)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body)


def _redact(url: str) -> str:
    """Registration URLs carry the token: keep it out of messages."""
    return re.sub(r"(/v3/import/|/v1/scripts/)[^/?]+", r"\1<token>", url)


def http_error(method: str, url: str, status: int, text: str, authenticated: bool) -> RancherError:
    detail = text.strip()[:200]
    try:
        body = json.loads(text)
        if isinstance(body, dict):
            detail = body.get("message") or body.get("code") or detail
    except ValueError:
        pass
    where = f"{method} {_redact(url)}"
    if status == 401:
        if "localProviders/local" in url:
            return Unauthorized(f"{where}: 401 Unauthorized ({detail}): wrong username or password.")
        hint = ("the API token expired or was deleted: log in again (rerun the play)" if authenticated
                else "this call needs an API token")
        return Unauthorized(f"{where}: 401 Unauthorized ({detail}): {hint}.")
    if status == 403:
        return ApiError(f"{where}: 403 Forbidden ({detail}): the user of this token may not do this; use an admin "
                        "token.", status)
    if status == 404:
        return NotFound(f"{where}: 404 Not Found ({detail}): no such resource; is this the Rancher line you expect "
                        "(1.6 serves /v1, 2.x /v3)?")
    return ApiError(f"{where}: HTTP {status} ({detail}).", status)


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


# --- Rancher 1.6: host registration -----------------------------------------------------------


def legacy_registration(client: Client, *, api_host: str, project_id: Optional[str], check_mode: bool,
                        timeout: float = 60.0, interval: float = 2.0,
                        sleep: Callable[[float], None] = time.sleep,
                        clock: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """Set api.host (the Host Registration URL) and return an active registration token of the environment."""
    actions = []
    setting = client.get("/v1/settings/api.host")
    if (setting.get("value") or "").rstrip("/") != api_host.rstrip("/"):
        actions.append(f"set api.host to {api_host} (was {setting.get('value') or 'unset'})")
        if not check_mode:
            client.put("/v1/settings/api.host", {"value": api_host})
    base = f"/v2-beta/projects/{project_id}/registrationtokens" if project_id else "/v1/registrationtokens"
    tokens = [t for t in client.get(base, state="active").get("data", []) if t.get("registrationUrl")]
    if tokens and actions:
        # Tokens made before api.host changed still point at the old address.
        tokens = [t for t in tokens if t["registrationUrl"].startswith(api_host.rstrip("/") + "/")]
    if tokens:
        token = tokens[0]
    else:
        actions.append("create a registration token")
        if check_mode:
            return {"changed": True, "actions": actions, "registration": None}
        token = client.post(base, {"type": "registrationToken"})
        deadline = clock() + timeout
        while not (token.get("state") == "active" and token.get("registrationUrl")):
            if clock() >= deadline:
                raise RancherError(f"The registration token {token.get('id')} is still {token.get('state')!r} after "
                                   f"{timeout:g} s.")
            sleep(interval)
            token = client.get(f"{base}/{token['id']}")
    return {
        "changed": bool(actions),
        "actions": actions,
        "registration": {key: token.get(key) for key in ("id", "registrationUrl", "command", "image", "token")},
    }


def legacy_agent_image(registration: Mapping[str, Any], override: str = "") -> str:
    """The rancher/agent image the server asks for (field image, else from the command)."""
    if override:
        return override
    if registration.get("image"):
        return registration["image"]
    words = shlex.split(registration.get("command") or "")
    candidates = [w for w in words if w.split("/")[-1].startswith("agent:")]
    if not candidates:
        raise RancherError("The registration token names no agent image: set the agent image explicitly.")
    return candidates[0]


def url_host(url: str) -> str:
    return urlsplit(url).hostname or ""


# --- Shared by the modules --------------------------------------------------------------------

CONNECTION_ARGS: Dict[str, dict] = {
    "url": {"type": "str", "required": True},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "ca_checksum": {"type": "str", "no_log": False},
    "timeout": {"type": "float", "default": 30.0},
}

SELF_SIGNED_WARNING = (
    "validate_certs=false: Rancher's TLS certificate is not verified (give ca_checksum, the sha256 of the CA Rancher "
    "serves, to verify its own self-signed certificate, or ca_path)."
)

_CHECKSUM_RE = re.compile(r"^(?:sha256:)?([0-9a-fA-F]{64})$")


# --- Rancher's own CA, pinned by its checksum ---------------------------------------------------


def ca_checksum(cacerts: str) -> str:
    """The sha256 (hex) of the CA as Rancher serves it in the cacerts setting: CATTLE_CA_CHECKSUM of its agents."""
    return hashlib.sha256(cacerts.encode()).hexdigest()


def normalize_checksum(value: str) -> str:
    match = _CHECKSUM_RE.match(str(value or "").strip())
    if not match:
        raise RancherError(f"ca_checksum {value!r} is not a sha256 (64 hex digits, as Rancher's --ca-checksum).")
    return match.group(1).lower()


def pinned_cacerts(url: str, checksum: str, transport: Transport, timeout: float = 30.0) -> str:
    """The CA Rancher serves, refused unless its sha256 is ``checksum``; the way Rancher's agents trust it.

    Read from /v3/settings/cacerts without authentication and over TLS that is not verified yet: no
    credentials are sent, and a CA with another checksum (another server, a man in the middle) is refused.
    Every later request is verified against the CA returned.
    """
    expected = normalize_checksum(checksum)
    setting = Client(url, transport, timeout=timeout).request("GET", "/v3/settings/cacerts", auth=False)
    cacerts = setting.get("value") if isinstance(setting, dict) else None
    if not cacerts:
        raise RancherError(
            f"Rancher at {url} serves no CA of its own (/v3/settings/cacerts is empty: a certificate from a public "
            "CA, --no-cacerts): leave ca_checksum unset and verify against the host's trusted CAs."
        )
    actual = ca_checksum(cacerts)
    if actual != expected:
        raise RancherError(
            f"Rancher at {url} serves a CA whose sha256 is {actual}, not the expected ca_checksum {expected}: another "
            "server answers at that address, or Rancher was reinstalled with a new CA. Nothing was sent to it. If "
            "the new CA is Rancher's, pin its checksum."
        )
    return cacerts


def _private_file(content: str) -> str:
    """A 0600 temporary file holding ``content``, removed when the process exits."""
    descriptor, path = tempfile.mkstemp(prefix="corral-rancher-ca-", suffix=".pem")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(content)
    atexit.register(lambda: os.path.exists(path) and os.unlink(path))
    return path


def client_from_params(params: Mapping[str, Any], token: Optional[str] = None,
                       basic_auth: Optional[tuple] = None) -> Client:
    """A client for the modules' connection options.

    With ca_checksum (and validate_certs), Rancher's own CA is read and pinned first (:func:`pinned_cacerts`), and
    every request is verified against it alone.
    """
    ca_path = params.get("ca_path")
    if params["validate_certs"] and params.get("ca_checksum"):
        if ca_path:
            raise RancherError("Give ca_path (your CA) or ca_checksum (Rancher's own CA), not both.")
        unverified = ansible_transport(validate_certs=False)
        cacerts = pinned_cacerts(params["url"], params["ca_checksum"], unverified, params["timeout"])
        ca_path = _private_file(cacerts)
    transport = ansible_transport(validate_certs=params["validate_certs"], ca_path=ca_path)
    return Client(params["url"], transport, token=token, basic_auth=basic_auth, timeout=params["timeout"])
