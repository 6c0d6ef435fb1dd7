"""The rancher scenario: the Rancher server and agent roles against the contract stand-ins.

node1 runs the Rancher 2.5 stand-in, node2 the Rancher 1.6 stand-in; both nodes are 1.6 agent
hosts of node2. These tests check the converged state; test_rancher_reruns.py runs the playbook
again (idempotence without secrets in the output, the compatibility refusal, an upgrade).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
sys.path.insert(0, str(PROJECT / "playbooks" / "collections"))

from ansible_collections.corral.cluster.plugins.module_utils import rancher  # noqa: E402


def lab_addresses(inventory_file):
    """Each host's ansible_host, as the scenario's create step wrote them into its inventory (YAML)."""
    found = {}

    def walk(group):
        found.update({name: host["ansible_host"] for name, host in (group.get("hosts") or {}).items()
                      if host and "ansible_host" in host})
        for child in group.get("children", {}).values():
            walk(child)

    # YAML: create.yml rewrites the lab's JSON inventory as YAML (JSON is YAML too).
    walk(yaml.safe_load(inventory_file.read_text())["all"])
    return found


NODES = lab_addresses(INVENTORY / "lab.yml")
ADMIN_PASSWORD = "stand-in-admin-pw-93ac7e"
BOOTSTRAP_PASSWORD = "stand-in-bootstrap-pw-4bf1"
SECRETS = (ADMIN_PASSWORD, BOOTSTRAP_PASSWORD)


def name(host):
    return host.backend.get_hostname()


def inspect(host, container):
    result = host.run(f"docker inspect {container}")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)[0]


def run_playbook(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "playbooks" / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY), *args, str(PROJECT / "playbooks" / "rancher.yml")],
                          env=env, cwd=PROJECT, capture_output=True, text=True, timeout=900, check=False)


def recap(output):
    return {h: (int(ok), int(changed), int(failed)) for h, ok, changed, failed in re.findall(
        r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output, re.M)}


def rancher_client(token=None):
    return rancher.Client(f"https://{NODES['node1']}", rancher.ansible_transport(validate_certs=False), token=token)


def login():
    return rancher.login(rancher_client(), "admin", ADMIN_PASSWORD, 60000, "scenario test")["token"]


def test_server_container_as_documented(host):
    info = inspect(host, "rancher")
    config, hostcfg = info["Config"], info["HostConfig"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert hostcfg["RestartPolicy"]["Name"] == "unless-stopped"
    assert info["State"]["Running"]
    # The lab cannot run privileged containers; the scenario turns it off (the default is true).
    assert hostcfg["Privileged"] is False
    mounts = {m["Destination"]: m for m in info["Mounts"]}
    if name(host) == "node1":
        assert config["Image"] == "corral.test/rancher-standin:v2.5.16"
        assert set(hostcfg["PortBindings"]) == {"80/tcp", "443/tcp"}
        assert hostcfg["PortBindings"]["443/tcp"][0]["HostPort"] == "443"
        assert mounts["/var/lib/rancher"]["Type"] == "volume" and mounts["/var/lib/rancher"]["Name"] == "rancher-data"
        assert env["CATTLE_BOOTSTRAP_PASSWORD"] == BOOTSTRAP_PASSWORD
    else:
        assert config["Image"] == "corral.test/rancher-server-standin:v1.6.30"
        assert set(hostcfg["PortBindings"]) == {"8080/tcp"}
        assert mounts["/var/lib/mysql"]["Type"] == "volume" and mounts["/var/lib/mysql"]["Name"] == "rancher-data"
        assert "CATTLE_BOOTSTRAP_PASSWORD" not in env


def test_ping_answers(host):
    port_url = "https://127.0.0.1/ping" if name(host) == "node1" else "http://127.0.0.1:8080/ping"
    out = host.run(f"python3 -c \"import ssl,urllib.request as u;"
                   f"print(u.urlopen('{port_url}',context=ssl._create_unverified_context()).read().decode())\"")
    assert out.stdout.strip() == "pong", out.stderr


def test_bootstrapped_with_the_admin_password_and_server_url():
    token = login()
    api = rancher_client(token)
    assert api.get("/v3/settings/server-url")["value"] == f"https://{NODES['node1']}"
    with pytest.raises(rancher.Unauthorized):
        rancher.login(rancher_client(), "admin", "admin", 60000, "the first-login password no longer works")


def test_legacy_agents_registered(host):
    agent = inspect(host, "rancher-agent")
    assert agent["State"]["Running"] and agent["Config"]["Cmd"] == ["run"]
    assert agent["Config"]["Image"] == "corral.test/rancher-agent-standin:v1.2.11"
    # The bootstrap container is removed once done, like `docker run --rm`.
    assert host.run("docker inspect rancher-agent-bootstrap").rc != 0
    record = json.loads(host.file("/var/lib/rancher/standin-agent/bootstrap.json").content_string)
    assert record["result"] == "registered"
    assert len(record["argv"]) == 1
    assert re.fullmatch(rf"http://{NODES['node2']}:8080/v1/scripts/[A-F0-9]+:\d+:[a-f0-9]+", record["argv"][0])
    assert record["env"]["CATTLE_AGENT_IP"] == NODES[name(host)]
    assert record["docker_sock_mounted"] and record["var_lib_rancher_mounted"]


def test_legacy_server_lists_both_hosts():
    api = rancher.Client(f"http://{NODES['node2']}:8080", rancher.ansible_transport())
    hosts = api.get("/v1/hosts")["data"]
    assert sorted(h["agentIpAddress"] for h in hosts) == sorted(NODES.values())
    assert api.get("/v1/settings/api.host")["value"] == f"http://{NODES['node2']}:8080"
