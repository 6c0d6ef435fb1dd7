"""What the network and DNS tests share: the scenario's own settings, pods on every node, site.yml runs."""

import json
import os
import subprocess

import pytest
import yaml

from test_cluster import BUSYBOX, INVENTORY, LAB_VARS, NODES, PROJECT, WEB_SERVER, kubectl

# The scenario's settings (molecule.yml: provisioner.inventory.group_vars.all) over the lab's.
SCENARIO = PROJECT / "molecule" / os.environ["MOLECULE_SCENARIO_NAME"] / "molecule.yml"
SCENARIO_VARS = (((yaml.safe_load(SCENARIO.read_text()).get("provisioner") or {}).get("inventory") or {})
                 .get("group_vars") or {}).get("all") or {}
SETTINGS = {**LAB_VARS, **SCENARIO_VARS}
NET_NAMESPACE = "corral-e2e-net"


@pytest.fixture(scope="session")
def everywhere():
    """One busybox HTTP server pod on every node (control planes included), from a DaemonSet.
    Yields {node name: (pod name, pod IP)}."""
    manifest = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NET_NAMESPACE}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "probe", "namespace": NET_NAMESPACE},
         "spec": {"selector": {"matchLabels": {"app": "probe"}},
                  "template": {"metadata": {"labels": {"app": "probe"}}, "spec": {
                      "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                      "terminationGracePeriodSeconds": 1,
                      "containers": [{
                          "name": "probe", "image": BUSYBOX, "imagePullPolicy": "Never",
                          "command": WEB_SERVER}]}}}},
    ]}
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    kubectl("rollout", "status", "-n", NET_NAMESPACE, "daemonset/probe", "--timeout=180s", timeout=200)
    pods = json.loads(kubectl("get", "pods", "-n", NET_NAMESPACE, "-l", "app=probe", "-o", "json").stdout)["items"]
    found = {p["spec"]["nodeName"]: (p["metadata"]["name"], p["status"]["podIP"]) for p in pods}
    assert sorted(found) == NODES
    yield found
    kubectl("delete", "namespace", NET_NAMESPACE, "--wait=false", check=False)


def pod_sh(pod, script, check=False, timeout=120):
    """A shell command in a probe pod: (rc, stdout)."""
    result = kubectl("exec", "-n", NET_NAMESPACE, pod, "--", "sh", "-c", script, check=check, timeout=timeout)
    return result.returncode, result.stdout.strip()


def run_site(extra_vars, *args, playbook="site.yml"):
    """A playbook of the checkout (site.yml by default) against the scenario's nodes with extra variables
    and further arguments, without colours."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "playbooks" / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY), "-e", json.dumps(extra_vars), *args,
                           str(PROJECT / "playbooks" / playbook)], env=env, cwd=PROJECT,
                          capture_output=True, text=True, timeout=900, check=False)


def pytest_collection_modifyitems(items):
    """The day-2 operations (test_operations.py) change the cluster under the other modules' fixtures
    (pods replaced, a node removed and added back): they run last."""
    items.sort(key=lambda item: item.module.__name__ == "test_operations")
