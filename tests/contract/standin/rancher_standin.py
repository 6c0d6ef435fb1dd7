# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A contract stand-in for the parts of Rancher's API that corral.cluster uses.

NOT Rancher. The rancher/rancher and rancher/server images cannot be pulled on the lab's
machines, so the roles and modules are tested against this: a standard-library HTTP(S) server
answering exactly the calls corral.cluster makes, with the request and response shapes of
Rancher's API (norman resources: ``type``, ``id``, ``links``; collections with ``data``; errors as
``{"type": "error", "status": "401", "code": "Unauthorized", "message": ...}``).

Rancher 2.x (STANDIN_MODE=v2, HTTPS on 443 with a self-signed CA made at first start and kept in
the data directory, plain HTTP on 80 for /ping and a redirect otherwise):
  GET  /ping, /healthz                         "pong"
  GET  /cacerts                                the CA (empty with --no-cacerts)
  POST /v3-public/localProviders/local?action=login   401 "authentication failed" on a wrong password
  POST /v3/users?action=changepassword
  GET|PUT /v3/settings/<name>                  server-url (writable), server-version, cacerts, first-login
  GET|POST /v3/tokens, DELETE /v3/tokens/<id>  tokens expire (ttl ms): 401 "must authenticate" after
  GET|POST /v3/clusters, GET /v3/clusters/<id> "local" exists; a new cluster is "pending" (imported)
                                               or "provisioning" (custom) until an agent connects
  GET|POST /v3/clusterregistrationtokens       command, insecureCommand, manifestUrl, nodeCommand, token
  GET  /v3/import/<token>_<clusterId>.yaml     the import manifest (no authentication, as in Rancher)
  GET  /v3/settings/cacerts                    also without authentication, as agents read it
  GET  /v3/connect/register                    the cluster agent "connects": header X-API-Tunnel-Token
                                               (the registration token) and X-API-Tunnel-Params
                                               (base64 JSON {"cluster": {"address", "token", "caCert"}}:
                                               the cluster's API address, its service account token and
                                               CA, kept as Rancher keeps them); the cluster becomes active.
                                               Rancher's agents open a websocket tunnel here, through
                                               which Rancher reads the cluster's version; the stand-in's
                                               agent (rancher_cluster_agent_standin.py) asks the cluster
                                               itself and sends the stand-in-only header
                                               X-Standin-Cluster-Version (JSON of GET /version), shown as
                                               the cluster's "version".
  STANDIN_ACTIVE_AFTER_POLLS=N (N>0) also makes a cluster active after N reads once its manifest
  was fetched, for tests without a Kubernetes cluster; 0 (default) never.

Rancher 1.6 (STANDIN_MODE=v1, HTTP on 8080, access control off as on a fresh 1.6 server):
  GET  /ping; every answer carries X-Rancher-Version
  GET|PUT /v1/settings/api.host                the Host Registration URL
  GET|POST /v1/registrationtokens (also /v2-beta/projects/1a5/registrationtokens): a new token is
                                               "registering", then "active" from its next read
  GET  /v1/scripts/<token>                     the agent's registration script
  POST /v1/standin/register                    (stand-in only) the stand-in agent reports its host
  GET  /v1/hosts                               the hosts registered so far, with agentIpAddress

State (users, tokens, settings, clusters) is kept in <data dir>/standin-state.json, so that a
container recreated on the same data volume keeps it, as Rancher does.

Environment: STANDIN_MODE (v2|v1), STANDIN_RANCHER_VERSION, CATTLE_BOOTSTRAP_PASSWORD (read by
2.6 and later; 2.5 and older start with "admin"), STANDIN_DATA_DIR, STANDIN_BIND,
STANDIN_HTTP_PORT, STANDIN_HTTPS_PORT, STANDIN_AGENT_IMAGE (the image of the manifest's
cattle-cluster-agent, default corral.test/rancher-cluster-agent-standin:<version>, as Rancher's
manifest names rancher/rancher-agent:<version>), STANDIN_ACTIVE_AFTER_POLLS, STANDIN_TLS_SANS (comma-separated
addresses and names the self-signed certificate carries besides localhost and 127.0.0.1, as Rancher's
dynamic certificate names the addresses it is reached at; a change makes a new certificate from the
same CA, so the CA's checksum stays). Argument
--no-cacerts as Rancher's. User certificates are read from /etc/rancher/ssl/{cert,key,cacerts}.pem
(STANDIN_SSL_DIR) as Rancher does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DEFAULT_VERSION = {"v2": "v2.5.16", "v1": "v1.6.30"}
LEGACY_AGENT_IMAGE = "rancher/agent:v1.2.11"
AGENT_IMAGE_V2 = "rancher/rancher-agent"
CLUSTER_AGENT_IMAGE_STANDIN = "corral.test/rancher-cluster-agent-standin"


def now_iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def line_of(version: str) -> tuple[int, int]:
    match = re.match(r"v?(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


class Config:
    def __init__(self, env: dict | None = None, argv: list | None = None) -> None:
        env = dict(os.environ if env is None else env)
        argv = list(sys.argv[1:] if argv is None else argv)
        self.mode = env.get("STANDIN_MODE", "v2")
        self.version = env.get("STANDIN_RANCHER_VERSION") or DEFAULT_VERSION[self.mode]
        self.bootstrap_password = env.get("CATTLE_BOOTSTRAP_PASSWORD", "")
        default_dir = "/var/lib/rancher" if self.mode == "v2" else "/var/lib/mysql"
        self.data_dir = Path(env.get("STANDIN_DATA_DIR", default_dir))
        self.ssl_dir = Path(env.get("STANDIN_SSL_DIR", "/etc/rancher/ssl"))
        self.bind = env.get("STANDIN_BIND", "0.0.0.0")
        self.http_port = int(env.get("STANDIN_HTTP_PORT", "80" if self.mode == "v2" else "8080"))
        self.https_port = int(env.get("STANDIN_HTTPS_PORT", "443"))
        self.agent_image = env.get("STANDIN_AGENT_IMAGE", f"{CLUSTER_AGENT_IMAGE_STANDIN}:{self.version}")
        self.active_after_polls = int(env.get("STANDIN_ACTIVE_AFTER_POLLS", "0"))
        self.no_cacerts = "--no-cacerts" in argv
        self.tls_sans = [name.strip() for name in env.get("STANDIN_TLS_SANS", "").split(",") if name.strip()]


class State:
    """Everything the server knows, saved as JSON after each change."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.path = config.data_dir / "standin-state.json"
        if self.path.exists():
            self.data = json.loads(self.path.read_text())
        else:
            first = config.bootstrap_password if line_of(config.version) >= (2, 6) and config.bootstrap_password \
                else "admin"
            self.data = {
                "users": {"user-admin1": {"username": "admin", "password": first, "mustChangePassword": True}},
                "tokens": {},
                "settings": {"server-url": "", "first-login": "true", "api.host": ""},
                "clusters": {"local": {"id": "local", "name": "local", "state": "active", "driver": "imported",
                                       "internal": True, "created": now_iso()}},
                "crts": {},
                "v1tokens": {},
                "hosts": [],
                "seq": 0,
            }
            self.save()

    def save(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        tmp.replace(self.path)

    def next_id(self, prefix: str, length: int = 5) -> str:
        self.data["seq"] += 1
        return prefix + hashlib.sha256(f"{self.data['seq']}{time.time()}".encode()).hexdigest()[:length]


def ensure_certificate(config: Config) -> tuple[Path, Path, str]:
    """(cert, key, cacerts PEM): the user's from ssl_dir, else a self-signed CA and server cert made once."""
    user_cert, user_key = config.ssl_dir / "cert.pem", config.ssl_dir / "key.pem"
    if user_cert.exists() and user_key.exists():
        ca_file = config.ssl_dir / "cacerts.pem"
        cacerts = "" if config.no_cacerts else (ca_file.read_text() if ca_file.exists() else "")
        return user_cert, user_key, cacerts
    tls = config.data_dir / "standin-tls"
    tls.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt, key, csr, crt = (tls / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    names = ["DNS:localhost", "IP:127.0.0.1"] + [
        name if name.startswith(("DNS:", "IP:")) else ("IP:" if re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", name)
                                                       else "DNS:") + name
        for name in config.tls_sans]
    ext = tls / "ext.cnf"
    wanted = f"subjectAltName={','.join(dict.fromkeys(names))}\n"

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    if not ca_crt.exists():
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
                "-days", "3650", "-subj", "/O=the-ranch/CN=cattle-ca")
    if not crt.exists() or not ext.exists() or ext.read_text() != wanted:
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
                "-subj", "/O=the-ranch/CN=cattle")
        ext.write_text(wanted)
        openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
                "-out", str(crt), "-days", "3650", "-extfile", str(ext))
    return crt, key, "" if config.no_cacerts else ca_crt.read_text()


class Api:
    """Request handling independent of the HTTP server, so that it reads as Rancher's behaviour."""

    def __init__(self, config: Config, cacerts: str = "") -> None:
        self.config = config
        self.state = State(config)
        self.cacerts = cacerts

    # -- helpers
    @staticmethod
    def error(status: int, code: str, message: str) -> tuple:
        return status, {"type": "error", "status": str(status), "code": code, "message": message}

    @staticmethod
    def collection(resource_type: str, items: list) -> dict:
        return {"type": "collection", "resourceType": resource_type, "data": items,
                "pagination": {"limit": 1000, "total": len(items)}}

    def authenticate(self, headers: dict) -> str | None:
        """The user ID for a valid, unexpired bearer (or basic) token, else None."""
        value = headers.get("authorization", "")
        if value.lower().startswith("bearer "):
            bearer = value[7:].strip()
        elif value.lower().startswith("basic "):
            try:
                bearer = base64.b64decode(value[6:]).decode()
            except ValueError:
                return None
        else:
            return None
        token_id, _unused, secret = bearer.partition(":")
        token = self.state.data["tokens"].get(token_id)
        if not token or not secrets.compare_digest(token["secret"], secret):
            return None
        if token["expiresAt"] and token["expiresAt"] < time.time():
            return None
        return token["userId"]

    def base_url(self, headers: dict, scheme: str) -> str:
        configured = self.state.data["settings"].get("server-url" if self.config.mode == "v2" else "api.host")
        return (configured or f"{scheme}://{headers.get('host', 'localhost')}").rstrip("/")

    def token_resource(self, token_id: str, with_secret: bool) -> dict:
        token = self.state.data["tokens"][token_id]
        resource = {
            "type": "token", "baseType": "token", "id": token_id, "name": token_id,
            "authProvider": "local", "userId": token["userId"], "description": token["description"],
            "ttl": token["ttl"], "expiresAt": now_iso(token["expiresAt"]) if token["expiresAt"] else "",
            "expired": bool(token["expiresAt"] and token["expiresAt"] < time.time()),
            "isDerived": token["derived"], "current": False, "created": token["created"],
            "links": {"self": f"/v3/tokens/{token_id}"},
        }
        if with_secret:
            resource["token"] = f"{token_id}:{token['secret']}"
        return resource

    def new_token(self, user_id: str, ttl: int, description: str, derived: bool) -> str:
        token_id = "token-" + self.state.next_id("", 5)
        self.state.data["tokens"][token_id] = {
            "userId": user_id, "secret": secrets.token_hex(27)[:54], "ttl": ttl, "description": description,
            "expiresAt": time.time() + ttl / 1000 if ttl else 0, "derived": derived, "created": now_iso(),
        }
        return token_id

    # -- dispatch
    def handle(self, method: str, target: str, headers: dict, body: bytes, scheme: str) -> tuple:
        """(status, JSON-able or text body, extra headers)."""
        url = urlsplit(target)
        path, query = url.path.rstrip("/") or "/", {k: v[0] for k, v in parse_qs(url.query).items()}
        if path in ("/ping", "/healthz"):
            return 200, "pong", {}
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return (*self.error(400, "InvalidBodyContent", "body is not JSON"), {})
        with self.state.lock:
            if self.config.mode == "v1":
                status, answer = self.handle_v1(method, path, query, headers, payload, scheme)
                return status, answer, {"X-Rancher-Version": self.config.version}
            status, answer = self.handle_v2(method, path, query, headers, payload, scheme)
            return status, answer, {}

    # -- Rancher 2.x
    def handle_v2(self, method, path, query, headers, payload, scheme):
        data = self.state.data
        if path == "/cacerts" and method == "GET":
            return 200, self.cacerts
        if path == "/v3-public/localProviders/local" and method == "POST" and query.get("action") == "login":
            user_id = next((uid for uid, u in data["users"].items()
                            if u["username"] == payload.get("username")
                            and secrets.compare_digest(u["password"], str(payload.get("password", "")))), None)
            if user_id is None:
                return self.error(401, "Unauthorized", "authentication failed")
            token_id = self.new_token(user_id, int(payload.get("ttl") or 57600000),
                                      payload.get("description", ""), False)
            self.state.save()
            return 201, self.token_resource(token_id, with_secret=True)
        if path.startswith("/v3/import/") and method == "GET":
            return self.import_manifest(path[len("/v3/import/"):], headers, scheme)
        if path == "/v3/connect/register":
            return self.agent_connect(headers)
        if path == "/v3/settings/cacerts" and method == "GET":  # agents check the CA before they log in
            return self.setting(method, "cacerts", payload)
        if not path.startswith("/v3"):
            return self.error(404, "NotFound", "not found")
        user_id = self.authenticate(headers)
        if user_id is None:
            return self.error(401, "Unauthorized", "must authenticate")
        if path == "/v3/users" and method == "POST" and query.get("action") == "changepassword":
            user = data["users"][user_id]
            if not secrets.compare_digest(user["password"], str(payload.get("currentPassword", ""))):
                return self.error(422, "InvalidBodyContent", "Invalid current password")
            if len(str(payload.get("newPassword", ""))) < 12 and line_of(self.config.version) >= (2, 6):
                return self.error(422, "InvalidBodyContent", "Password must be at least 12 characters")
            user["password"] = payload["newPassword"]
            user["mustChangePassword"] = False
            self.state.save()
            return 200, {}
        if path.startswith("/v3/settings/"):
            return self.setting(method, path.split("/")[-1], payload)
        if path.startswith("/v3/tokens"):
            return self.tokens(method, path, user_id, payload)
        if path.startswith("/v3/clusters"):
            return self.clusters(method, path, query, payload)
        if path.startswith("/v3/clusterregistrationtokens"):
            return self.registration_tokens(method, path, query, payload, headers, scheme)
        return self.error(404, "NotFound", "not found")

    def setting(self, method, name, payload):
        settings = self.state.data["settings"]
        values = {**settings, "server-version": self.config.version, "cacerts": self.cacerts}
        if name not in values:
            return self.error(404, "NotFound", f"settings.management.cattle.io \"{name}\" not found")
        if method == "PUT":
            if name not in ("server-url", "first-login"):
                return self.error(405, "MethodNotAllowed", f"setting {name} is read-only")
            settings[name] = str(payload.get("value", ""))
            self.state.save()
            values[name] = settings[name]
        return 200, {"type": "setting", "id": name, "name": name, "value": values[name], "default": "",
                     "customized": bool(values[name]), "links": {"self": f"/v3/settings/{name}"}}

    def tokens(self, method, path, user_id, payload):
        tokens = self.state.data["tokens"]
        parts = path.split("/")
        if len(parts) == 3:
            if method == "GET":
                return 200, self.collection("token", [self.token_resource(t, False) for t, v in tokens.items()
                                                      if v["userId"] == user_id])
            if method == "POST":
                token_id = self.new_token(user_id, int(payload.get("ttl") or 0), payload.get("description", ""),
                                          True)
                self.state.save()
                return 201, self.token_resource(token_id, with_secret=True)
        token_id = parts[3]
        if token_id not in tokens:
            return self.error(404, "NotFound", f"tokens.management.cattle.io \"{token_id}\" not found")
        if method == "DELETE":
            del tokens[token_id]
            self.state.save()
            return 204, ""
        return 200, self.token_resource(token_id, False)

    def cluster_resource(self, cluster: dict) -> dict:
        resource = {
            "type": "cluster", "baseType": "cluster", "id": cluster["id"], "name": cluster["name"],
            "description": cluster.get("description", ""), "state": cluster["state"],
            "transitioning": "no" if cluster["state"] == "active" else "yes",
            "transitioningMessage": cluster.get("message", ""), "driver": cluster.get("driver", ""),
            "internal": cluster.get("internal", False), "created": cluster["created"],
            "links": {"self": f"/v3/clusters/{cluster['id']}",
                      "clusterRegistrationTokens": f"/v3/clusters/{cluster['id']}/clusterregistrationtokens"},
        }
        if cluster.get("custom"):
            resource["rancherKubernetesEngineConfig"] = {"type": "rancherKubernetesEngineConfig"}
        if cluster.get("version"):
            resource["version"] = cluster["version"]
        return resource

    def clusters(self, method, path, query, payload):
        clusters = self.state.data["clusters"]
        parts = path.split("/")
        if len(parts) == 3:
            if method == "GET":
                items = [c for c in clusters.values() if "name" not in query or c["name"] == query["name"]]
                for cluster in items:
                    self.poll(cluster)
                return 200, self.collection("cluster", [self.cluster_resource(c) for c in items])
            if method == "POST":
                name = str(payload.get("name", ""))
                if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name):
                    return self.error(422, "InvalidFormat", f"invalid cluster name {name!r}")
                if any(c["name"] == name for c in clusters.values()):
                    return self.error(409, "AlreadyExists", f"cluster name {name} is already in use")
                custom = "rancherKubernetesEngineConfig" in payload
                cluster_id = self.state.next_id("c-", 5)
                clusters[cluster_id] = {
                    "id": cluster_id, "name": name, "description": payload.get("description", ""),
                    "custom": custom, "created": now_iso(), "polls": 0, "manifest_fetched": False,
                    "state": "provisioning" if custom else "pending",
                    "message": ("Waiting for etcd, controlplane and worker nodes to be registered" if custom
                                else "Waiting for API to be available"),
                }
                self.state.save()
                return 201, self.cluster_resource(clusters[cluster_id])
        cluster = clusters.get(parts[3])
        if cluster is None:
            return self.error(404, "NotFound", f"clusters.management.cattle.io \"{parts[3]}\" not found")
        if method == "GET":
            self.poll(cluster)
            return 200, self.cluster_resource(cluster)
        return self.error(405, "MethodNotAllowed", "method not allowed")

    def poll(self, cluster: dict) -> None:
        """STANDIN_ACTIVE_AFTER_POLLS: become active after N reads once the manifest was fetched."""
        if cluster["state"] == "active" or not self.config.active_after_polls or not cluster.get("manifest_fetched"):
            return
        cluster["polls"] = cluster.get("polls", 0) + 1
        if cluster["polls"] >= self.config.active_after_polls:
            self.activate(cluster, "polls")
        self.state.save()

    def activate(self, cluster: dict, how: str) -> None:
        cluster.update(state="active", message="", driver="imported", activated_by=how)

    def crt_resource(self, crt_id: str, headers: dict, scheme: str) -> dict:
        crt = self.state.data["crts"][crt_id]
        base = self.base_url(headers, scheme)
        url = f"{base}/v3/import/{crt['token']}_{crt['clusterId']}.yaml"
        checksum = (" --ca-checksum " + hashlib.sha256(self.cacerts.encode()).hexdigest()) if self.cacerts else ""
        agent = f"{AGENT_IMAGE_V2}:{self.config.version}"
        return {
            "type": "clusterRegistrationToken", "baseType": "clusterRegistrationToken", "id": crt_id,
            "name": crt_id.split(":")[1], "clusterId": crt["clusterId"], "state": "active",
            "token": crt["token"], "manifestUrl": url,
            "command": f"kubectl apply -f {url}",
            "insecureCommand": f"curl --insecure -sfL {url} | kubectl apply -f -",
            "nodeCommand": ("sudo docker run -d --privileged --restart=unless-stopped --net=host "
                            "-v /etc/kubernetes:/etc/kubernetes -v /var/run:/var/run "
                            f"{agent} --server {base} --token {crt['token']}{checksum}"),
            "created": crt["created"], "links": {"self": f"/v3/clusterregistrationtokens/{crt_id}"},
        }

    def registration_tokens(self, method, path, query, payload, headers, scheme):
        crts = self.state.data["crts"]
        parts = path.split("/")
        if len(parts) == 3:
            if method == "GET":
                ids = [i for i, c in crts.items() if "clusterId" not in query or c["clusterId"] == query["clusterId"]]
                return 200, self.collection("clusterRegistrationToken",
                                            [self.crt_resource(i, headers, scheme) for i in ids])
            if method == "POST":
                cluster_id = payload.get("clusterId", "")
                if cluster_id not in self.state.data["clusters"]:
                    return self.error(422, "InvalidReference", f"clusterId {cluster_id!r} not found")
                crt_id = f"{cluster_id}:{self.state.next_id('crt-', 5)}"
                crts[crt_id] = {"clusterId": cluster_id, "created": now_iso(),
                                "token": secrets.token_hex(32)[:54]}
                self.state.save()
                return 201, self.crt_resource(crt_id, headers, scheme)
        crt_id = "/".join(parts[3:]).replace("%3A", ":")
        if crt_id not in crts:
            return self.error(404, "NotFound", f"clusterregistrationtoken {crt_id!r} not found")
        return 200, self.crt_resource(crt_id, headers, scheme)

    def crt_by_token(self, token: str) -> dict | None:
        return next((c for c in self.state.data["crts"].values() if secrets.compare_digest(c["token"], token)), None)

    def import_manifest(self, name: str, headers: dict, scheme: str):
        match = re.fullmatch(r"([a-z0-9]+)_(c-[a-z0-9]+)\.yaml", name)
        crt = self.crt_by_token(match.group(1)) if match else None
        if crt is None or crt["clusterId"] != match.group(2):
            return self.error(404, "NotFound", "invalid token")
        cluster = self.state.data["clusters"][crt["clusterId"]]
        cluster["manifest_fetched"] = True
        self.state.save()
        return 200, render_manifest(self.base_url(headers, scheme), crt["token"], self.cacerts,
                                    self.config.agent_image, self.config.version)

    def agent_connect(self, headers: dict):
        crt = self.crt_by_token(headers.get("x-api-tunnel-token", ""))
        if crt is None:
            return self.error(401, "Unauthorized", "invalid tunnel token")
        cluster = self.state.data["clusters"][crt["clusterId"]]
        if "x-api-tunnel-params" in headers:
            try:
                params = json.loads(base64.b64decode(headers["x-api-tunnel-params"]))["cluster"]
                tunnel = {key: str(params[key]) for key in ("address", "token", "caCert")}
                base64.b64decode(tunnel["caCert"], validate=True)
            except (ValueError, KeyError, TypeError):
                return self.error(400, "InvalidBodyContent", "X-API-Tunnel-Params: want base64 JSON "
                                  "{\"cluster\": {\"address\", \"token\", \"caCert\"}}")
            if not all(tunnel.values()):
                return self.error(400, "InvalidBodyContent", "X-API-Tunnel-Params: address, token and caCert "
                                  "must not be empty")
            cluster["tunnel"] = tunnel
        if "x-standin-cluster-version" in headers:
            try:
                cluster["version"] = json.loads(headers["x-standin-cluster-version"])
            except ValueError:
                return self.error(400, "InvalidBodyContent", "X-Standin-Cluster-Version is not JSON")
        self.activate(cluster, "agent")
        self.state.save()
        return 200, {"type": "standinConnect", "clusterId": cluster["id"], "state": cluster["state"]}

    # -- Rancher 1.6
    def handle_v1(self, method, path, query, headers, payload, scheme):
        data = self.state.data
        path = re.sub(r"^/v2-beta/projects/1a5/", "/v1/", path)
        if path == "/v1":
            return 200, {"type": "apiVersion", "id": "v1", "links": {"registrationTokens": "/v1/registrationtokens"}}
        if path == "/v1/settings/api.host":
            if method == "PUT":
                data["settings"]["api.host"] = str(payload.get("value", ""))
                self.state.save()
            value = data["settings"]["api.host"]
            return 200, {"type": "activeSetting", "id": "api.host", "name": "api.host", "value": value,
                         "activeValue": value, "inDb": bool(value)}
        if path == "/v1/registrationtokens" and method == "POST":
            token_id = "1c" + str(len(data["v1tokens"]) + 1)
            data["v1tokens"][token_id] = {"token": f"{secrets.token_hex(10).upper()}:{int(time.time())}:"
                                                   f"{secrets.token_hex(16)}", "state": "registering"}
            self.state.save()
            return 201, self.v1_token(token_id, headers, scheme)
        if path == "/v1/registrationtokens" and method == "GET":
            items = [self.v1_token(i, headers, scheme, read=True) for i in list(data["v1tokens"])]
            items = [t for t in items if "state" not in query or t["state"] == query["state"]]
            return 200, self.collection("registrationToken", items)
        if path.startswith("/v1/registrationtokens/"):
            token_id = path.split("/")[-1]
            if token_id not in data["v1tokens"]:
                return self.error(404, "NotFound", "not found")
            return 200, self.v1_token(token_id, headers, scheme, read=True)
        if path.startswith("/v1/scripts/"):
            token = path[len("/v1/scripts/"):]
            if not any(t["token"] == token for t in data["v1tokens"].values()):
                return self.error(401, "Unauthorized", "invalid registration token")
            base = self.base_url(headers, scheme)
            return 200, (f"#!/bin/sh\nexport CATTLE_REGISTRATION_ACCESS_KEY=\"registrationToken\"\n"
                         f"export CATTLE_REGISTRATION_SECRET_KEY=\"{token}\"\nexport CATTLE_URL=\"{base}/v1\"\n"
                         f"export DETECTED_CATTLE_AGENT_IP=\"{headers.get('x-forwarded-for', '')}\"\n")
        if path == "/v1/standin/register" and method == "POST":
            token = str(payload.get("registrationSecret", ""))
            if not any(t["token"] == token for t in data["v1tokens"].values()):
                return self.error(401, "Unauthorized", "invalid registration token")
            hosts = [h for h in data["hosts"] if h["hostname"] != payload.get("hostname")]
            hosts.append({"type": "host", "id": f"1h{len(hosts) + 1}", "hostname": payload.get("hostname"),
                          "agentIpAddress": payload.get("agentIp"), "state": "active",
                          "agentImage": payload.get("image")})
            data["hosts"] = hosts
            self.state.save()
            return 201, hosts[-1]
        if path == "/v1/hosts" and method == "GET":
            return 200, self.collection("host", data["hosts"])
        return self.error(404, "NotFound", "not found")

    def v1_token(self, token_id: str, headers: dict, scheme: str, read: bool = False) -> dict:
        token = self.state.data["v1tokens"][token_id]
        state = token["state"]
        if read and state == "registering":  # active from its next read, as Rancher's turn within a second
            token["state"] = "active"
            self.state.save()
        url = f"{self.base_url(headers, scheme)}/v1/scripts/{token['token']}"
        return {
            "type": "registrationToken", "id": token_id, "accountId": "1a5", "state": state,
            "token": token["token"], "registrationUrl": url, "image": LEGACY_AGENT_IMAGE,
            "command": (f"sudo docker run --rm --privileged -v /var/run/docker.sock:/var/run/docker.sock "
                        f"-v /var/lib/rancher:/var/lib/rancher {LEGACY_AGENT_IMAGE} {url}"),
            "links": {"self": f"/v1/registrationtokens/{token_id}"},
        }


def render_manifest(server: str, token: str, cacerts: str, agent_image: str, version: str) -> str:
    """Kubernetes objects shaped like Rancher 2.5's import manifest (cattle-system, cattle SA, the agent)."""
    checksum = hashlib.sha256(cacerts.encode()).hexdigest() if cacerts else ""
    digest = hashlib.sha256(token.encode()).hexdigest()[:7]

    def b64(text):
        return base64.b64encode(text.encode()).decode()

    return f"""---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: proxy-clusterrole-kubeapiserver
rules:
- apiGroups: [""]
  resources: [nodes/metrics, nodes/proxy, nodes/stats, nodes/log, nodes/spec]
  verbs: [get, list, watch, create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: proxy-role-binding-kubernetes-master
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: proxy-clusterrole-kubeapiserver
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: kube-apiserver
---
apiVersion: v1
kind: Namespace
metadata:
  name: cattle-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: cattle
  namespace: cattle-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: cattle-admin-binding
  namespace: cattle-system
  labels:
    cattle.io/creator: "norman"
subjects:
- kind: ServiceAccount
  name: cattle
  namespace: cattle-system
roleRef:
  kind: ClusterRole
  name: cattle-admin
  apiGroup: rbac.authorization.k8s.io
---
apiVersion: v1
kind: Secret
metadata:
  name: cattle-credentials-{digest}
  namespace: cattle-system
type: Opaque
data:
  url: "{b64(server)}"
  token: "{b64(token)}"
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cattle-admin
  labels:
    cattle.io/creator: "norman"
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["*"]
- nonResourceURLs: ["*"]
  verbs: ["*"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: cattle-cluster-agent
  namespace: cattle-system
  annotations:
    corral.cluster/stand-in: "contract stand-in of Rancher {version}, not Rancher"
spec:
  selector:
    matchLabels:
      app: cattle-cluster-agent
  template:
    metadata:
      labels:
        app: cattle-cluster-agent
    spec:
      serviceAccountName: cattle
      tolerations:
      - operator: Exists
      containers:
      - name: cluster-register
        imagePullPolicy: IfNotPresent
        image: {agent_image}
        env:
        - name: CATTLE_SERVER
          value: "{server}"
        - name: CATTLE_CA_CHECKSUM
          value: "{checksum}"
        - name: CATTLE_CLUSTER
          value: "true"
        - name: CATTLE_K8S_MANAGED
          value: "true"
        volumeMounts:
        - name: cattle-credentials
          mountPath: /cattle-credentials
          readOnly: true
      volumes:
      - name: cattle-credentials
        secret:
          secretName: cattle-credentials-{digest}
          defaultMode: 320
"""


def make_handler(api: Api, scheme: str, redirect_https: int | None = None):
    class Handler(BaseHTTPRequestHandler):
        server_version = "standin-rancher"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args) -> None:  # a token in a URL must not reach the log
            sys.stderr.write("%s %s\n" % (self.address_string(),
                                          re.sub(r"(/v3/import/|/v1/scripts/)[^ ?]+", r"\1<token>", fmt % args)))

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            headers.setdefault("x-forwarded-for", self.client_address[0])
            path = urlsplit(self.path).path
            if redirect_https and path not in ("/ping", "/healthz"):
                host = headers.get("host", "localhost").split(":")[0]
                self.send_response(302)
                self.send_header("Location", f"https://{host}:{redirect_https}{self.path}"
                                 if redirect_https != 443 else f"https://{host}{self.path}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, answer, extra = api.handle(self.command, self.path, headers, body, scheme)
            if isinstance(answer, str):
                content, ctype = answer.encode(), ("application/yaml" if path.endswith(".yaml") else "text/plain")
            else:
                content, ctype = json.dumps(answer).encode(), "application/json"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(content)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


def serve(config: Config, ready: threading.Event | None = None) -> list:
    """Start the servers in threads; returns them (tests call shutdown())."""
    servers = []
    if config.mode == "v2":
        cert, key, cacerts = ensure_certificate(config)
        api = Api(config, cacerts)
        https = ThreadingHTTPServer((config.bind, config.https_port), make_handler(api, "https"))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        https.socket = context.wrap_socket(https.socket, server_side=True)
        servers.append(https)
        servers.append(ThreadingHTTPServer((config.bind, config.http_port),
                                           make_handler(api, "http", redirect_https=https.server_address[1])))
    else:
        api = Api(config)
        servers.append(ThreadingHTTPServer((config.bind, config.http_port), make_handler(api, "http")))
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    for server in servers:
        server.api = api
    if ready:
        ready.set()
    return servers


def main() -> None:
    # PID 1 in a container: stop promptly on `docker stop`.
    signal.signal(signal.SIGTERM, lambda *_unused: os._exit(0))
    config = Config()
    servers = serve(config)
    ports = ", ".join(str(s.server_address[1]) for s in servers)
    print(f"contract stand-in of Rancher {config.version} ({config.mode}) on {ports}: NOT Rancher", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
