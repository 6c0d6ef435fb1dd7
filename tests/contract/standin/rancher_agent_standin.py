# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A contract stand-in for Rancher 1.6's host agent image (rancher/agent). NOT Rancher's agent.

Follows the documented flow of ``docker run --rm --privileged -v /var/run/docker.sock:/var/run/docker.sock
-v /var/lib/rancher:/var/lib/rancher rancher/agent:<tag> <registrationUrl>``:

- bootstrap (argument: the registration URL): records its arguments, CATTLE_* environment and
  mounts in /var/lib/rancher/standin-agent/bootstrap.json (for the tests), fetches the
  registration script from the URL, registers the host with the stand-in server
  (POST /v1/standin/register: stand-in only; the real agent talks to Cattle's API), then, through
  the mounted Docker socket, starts the long-running container ``rancher-agent`` from its own
  image with the argument ``run`` and exits, as the real bootstrap container does. A running
  ``rancher-agent`` means the host is already registered: nothing to do.
- run: records /var/lib/rancher/standin-agent/run.json and waits for a signal.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path

STATE = Path("/var/lib/rancher/standin-agent")
SOCKET = "/var/run/docker.sock"
AGENT_NAME = "rancher-agent"


class DockerSocket(http.client.HTTPConnection):
    def __init__(self) -> None:
        super().__init__("localhost", timeout=30)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(SOCKET)


def docker(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    conn = DockerSocket()
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, (json.loads(raw) if raw.strip() else {})


def record(name: str, extra: dict) -> None:
    STATE.mkdir(parents=True, exist_ok=True)
    info = {
        "argv": sys.argv[1:],
        "env": {k: v for k, v in os.environ.items() if k.startswith("CATTLE_")},
        "docker_sock_mounted": Path(SOCKET).is_socket(),
        "var_lib_rancher_mounted": Path("/var/lib/rancher").is_dir(),
        "hostname": socket.gethostname(),
        "time": time.time(),
        **extra,
    }
    (STATE / f"{name}.json").write_text(json.dumps(info, indent=1, sort_keys=True))


def bootstrap(url: str) -> int:
    if not Path(SOCKET).is_socket():
        print("ERROR: /var/run/docker.sock is not mounted", file=sys.stderr)
        return 1
    status, existing = docker("GET", f"/containers/{AGENT_NAME}/json")
    if status == 200 and existing.get("State", {}).get("Running"):
        record("bootstrap", {"result": "already registered"})
        print("INFO: rancher-agent is running: host already registered")
        return 0
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (the registration URL)
        script = response.read().decode()
    exports = dict(re.findall(r'export (\w+)="([^"]*)"', script))
    _unused, me = docker("GET", f"/containers/{socket.gethostname()}/json")
    image = me.get("Config", {}).get("Image", "rancher/agent")
    agent_ip = os.environ.get("CATTLE_AGENT_IP") or exports.get("DETECTED_CATTLE_AGENT_IP", "")
    register = urllib.request.Request(
        exports["CATTLE_URL"] + "/standin/register", method="POST",
        data=json.dumps({"registrationSecret": exports["CATTLE_REGISTRATION_SECRET_KEY"], "agentIp": agent_ip,
                         "hostname": os.environ.get("CATTLE_HOSTNAME", me.get("Config", {}).get("Hostname", "")),
                         "image": image}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(register, timeout=30):  # noqa: S310
        pass
    if status == 200:
        docker("DELETE", f"/containers/{AGENT_NAME}?force=true")
    host_config = me.get("HostConfig", {})
    status, created = docker("POST", f"/containers/create?name={AGENT_NAME}", {
        "Image": image,
        "Cmd": ["run"],
        "Env": [f"CATTLE_AGENT_IP={agent_ip}", f"CATTLE_URL={exports['CATTLE_URL']}"],
        "HostConfig": {"Binds": host_config.get("Binds") or [], "Privileged": host_config.get("Privileged", False),
                       "RestartPolicy": {"Name": "always"}},
    })
    if status != 201:
        print(f"ERROR: creating {AGENT_NAME}: {created}", file=sys.stderr)
        return 1
    docker("POST", f"/containers/{created['Id']}/start")
    record("bootstrap", {"result": "registered", "agent_ip": agent_ip, "image": image})
    print(f"INFO: registered; started {AGENT_NAME}")
    return 0


def run() -> int:
    record("run", {})
    signal.signal(signal.SIGTERM, lambda *_unused: os._exit(0))
    while True:
        time.sleep(3600)


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: rancher/agent <registrationUrl> | run", file=sys.stderr)
        return 2
    return run() if sys.argv[1] == "run" else bootstrap(sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
