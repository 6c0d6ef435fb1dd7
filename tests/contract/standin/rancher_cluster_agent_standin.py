# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A contract stand-in for Rancher 2.x's cluster agent (rancher/rancher-agent in the
cattle-cluster-agent Deployment of an import manifest). NOT Rancher's agent.

What it does, as the real agent does with CATTLE_CLUSTER=true:
- reads the server URL and the registration token from /cattle-credentials/{url,token} (the
  manifest's Secret);
- reads <server>/v3/settings/cacerts and compares its sha256 with CATTLE_CA_CHECKSUM, stopping on
  a mismatch; that CA is then the only one it trusts for the server (without a checksum: the
  system's CAs);
- sends the tunnel parameters {"cluster": {"address": <KUBERNETES_SERVICE_HOST:PORT>, "token":
  <its service account token>, "caCert": <base64 of the cluster's CA>}} with the registration
  token to <server>/v3/connect/register, retrying every 5 s until Rancher accepts them.

Where it differs: the real agent keeps a websocket tunnel open there, and Rancher reads the
cluster through it with the token above. The stand-in opens no tunnel. It asks the cluster's API
itself, with its service account: GET /version, and GET /api/v1/nodes, which the manifest's
cattle-admin binding allows. It then sends the version in the stand-in-only header
X-Standin-Cluster-Version. The stand-in server's certificate names only localhost, so the host
name is not checked; the chain is checked against the pinned CA. Once connected it stays up, as
the real agent does.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

CREDENTIALS = Path(os.environ.get("STANDIN_CREDENTIALS_DIR", "/cattle-credentials"))
SERVICE_ACCOUNT = Path(os.environ.get("STANDIN_SERVICE_ACCOUNT_DIR",
                                      "/var/run/secrets/kubernetes.io/serviceaccount"))
RETRY_SECONDS = float(os.environ.get("STANDIN_RETRY_SECONDS", "5"))


def log(level: str, message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {level}: {message}", flush=True)


def get(url: str, context: ssl.SSLContext, headers: dict | None = None) -> bytes:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=15, context=context) as response:  # noqa: S310
        return response.read()


def server_context(server: str, checksum: str) -> ssl.SSLContext:
    """The TLS context for Rancher: its CA pinned by checksum, as run.sh of rancher-agent does."""
    if not checksum:
        return ssl.create_default_context()
    unverified = ssl._create_unverified_context()  # noqa: S323 (only to read the CA it then pins)
    cacerts = json.loads(get(f"{server}/v3/settings/cacerts", unverified))["value"]
    actual = hashlib.sha256(cacerts.encode()).hexdigest()
    if actual != checksum:
        raise SystemExit(f"ERROR: Configured cacerts checksum ({actual}) does not match given "
                         f"CATTLE_CA_CHECKSUM ({checksum})")
    context = ssl.create_default_context(cadata=cacerts)
    context.check_hostname = False  # the stand-in's certificate names localhost only
    return context


def cluster_api() -> tuple[str, str, bytes, ssl.SSLContext]:
    """(address, service account token, cluster CA, TLS context) from the pod's service account."""
    address = f"{os.environ['KUBERNETES_SERVICE_HOST']}:{os.environ['KUBERNETES_SERVICE_PORT']}"
    token = (SERVICE_ACCOUNT / "token").read_text().strip()
    ca = (SERVICE_ACCOUNT / "ca.crt").read_bytes()
    return address, token, ca, ssl.create_default_context(cadata=ca.decode())


def connect_once(server: str, registration_token: str, context: ssl.SSLContext) -> dict:
    address, token, ca, cluster_context = cluster_api()
    auth = {"Authorization": f"Bearer {token}"}
    version = json.loads(get(f"https://{address}/version", cluster_context, auth))
    nodes = json.loads(get(f"https://{address}/api/v1/nodes", cluster_context, auth))["items"]
    log("INFO", f"cluster API at {address}: Kubernetes {version.get('gitVersion')}, {len(nodes)} node(s)")
    params = {"cluster": {"address": address, "token": token, "caCert": base64.b64encode(ca).decode()}}
    headers = {"X-API-Tunnel-Token": registration_token,
               "X-API-Tunnel-Params": base64.b64encode(json.dumps(params).encode()).decode(),
               "X-Standin-Cluster-Version": json.dumps(version)}
    return json.loads(get(f"{server}/v3/connect/register", context, headers))


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if os.environ.get("CATTLE_CLUSTER") != "true":
        log("ERROR", "only the cluster agent (CATTLE_CLUSTER=true) is stood in for")
        return 2
    server = (CREDENTIALS / "url").read_text().strip().rstrip("/")
    registration_token = (CREDENTIALS / "token").read_text().strip()
    log("INFO", f"contract stand-in of the Rancher cluster agent (NOT Rancher's), server {server}")
    context = None
    while True:
        try:
            context = context or server_context(server, os.environ.get("CATTLE_CA_CHECKSUM", ""))
            answer = connect_once(server, registration_token, context)
            log("INFO", f"Connected to Rancher: cluster {answer.get('clusterId')} is {answer.get('state')}")
            break
        except (OSError, ValueError, KeyError) as error:  # urllib errors are OSErrors
            detail = error.read().decode(errors="replace") if isinstance(error, urllib.error.HTTPError) else ""
            log("ERROR", f"{server} is not accessible yet ({error} {detail}); retrying in {RETRY_SECONDS:g} s")
            time.sleep(RETRY_SECONDS)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
