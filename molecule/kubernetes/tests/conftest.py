"""What the network and DNS tests share: the scenario's own settings, pods on every node, site.yml runs."""

import json
import os
import subprocess
import threading
import time
import urllib.request

import pytest
import yaml

from test_cluster import ADDRESS, BUSYBOX, CONTROL_PLANES, INVENTORY, LAB_VARS, NODES, PROJECT, WEB_SERVER, kubectl

# The scenario's settings (molecule.yml: provisioner.inventory.group_vars.all) over the lab's.
SCENARIO = PROJECT / "molecule" / os.environ["MOLECULE_SCENARIO_NAME"] / "molecule.yml"
SCENARIO_VARS = (((yaml.safe_load(SCENARIO.read_text()).get("provisioner") or {}).get("inventory") or {})
                 .get("group_vars") or {}).get("all") or {}
SETTINGS = {**LAB_VARS, **SCENARIO_VARS}
NET_NAMESPACE = "corral-e2e-net"
STEADY_NAMESPACE = "corral-e2e-day2"


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


def request(url):
    """One GET of the URL, as the probes make it; raises OSError when it fails. What an operation breaks
    shows as a refused or reset connection, at once; the 5 s allowed for an answer are for this 2-core
    machine, which runs another scenario beside these tests (docs/testing.md), not for the cluster."""
    with urllib.request.urlopen(url, timeout=5) as response:
        response.read()


class Probe(threading.Thread):
    """GET the URL five times a second until stopped; counts the answers and the failures."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.ok, self.failed, self.errors = url, 0, 0, []
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                request(self.url)
                self.ok += 1
            except OSError as error:
                self.failed += 1
                self.errors.append(f"{time.strftime('%H:%M:%S')} {error}")
            self._stop_event.wait(0.2)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self._stop_event.set()
        self.join()

    def report(self, what):
        print(f"{what}: {self.ok + self.failed} requests, {self.failed} failed {self.errors[:5]}")


@pytest.fixture(scope="session")
def steady():
    """What the day-2 operations are probed through (test_upgrade.py, then test_operations.py): two replicas
    spread over the workers behind a NodePort, a PodDisruptionBudget that lets a drain evict one at a time;
    each keeps answering for 15 s after it is told to stop (preStop), so that every kube-proxy has dropped it
    before it stops. 5 s were not enough once in CI on this 2-core machine: one request refused while
    node1's kube-proxy caught up. The readiness probe tolerates a loaded machine (5 s to answer, 10
    misses): with kubelet's default 1 s, one request in 447 was refused once while this machine ran a
    second lab, the only ready replica maybe marked NotReady for a moment. Yields the URL probed, through a node that stays (the first control
    plane: kube-proxy there forwards to the endpoints wherever they run)."""
    manifest = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": STEADY_NAMESPACE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "steady", "namespace": STEADY_NAMESPACE},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "steady"}},
                  "template": {"metadata": {"labels": {"app": "steady"}}, "spec": {
                      "terminationGracePeriodSeconds": 30,
                      "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                          "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                             "labelSelector": {"matchLabels": {"app": "steady"}}}}]}},
                      "containers": [{
                          "name": "web", "image": BUSYBOX, "imagePullPolicy": "Never",
                          "command": WEB_SERVER,
                          "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1,
                                             "timeoutSeconds": 5, "failureThreshold": 10},
                          "lifecycle": {"preStop": {"exec": {"command": ["sleep", "15"]}}}}]}}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "steady", "namespace": STEADY_NAMESPACE},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "steady"}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "steady", "namespace": STEADY_NAMESPACE},
         "spec": {"type": "NodePort", "selector": {"app": "steady"}, "ports": [{"port": 80, "targetPort": 8080}]}},
    ]}
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    kubectl("rollout", "status", "-n", STEADY_NAMESPACE, "deployment/steady", "--timeout=180s", timeout=200)
    assert sorted(pod_nodes()) == sorted(n for n in NODES if n not in CONTROL_PLANES)
    service = json.loads(kubectl("get", "service", "-n", STEADY_NAMESPACE, "steady", "-o", "json").stdout)
    url = f"http://{ADDRESS[CONTROL_PLANES[0]]}:{service['spec']['ports'][0]['nodePort']}/"
    # A new Service's NodePort answers once kube-proxy has programmed it, a moment after the rollout:
    # in CI the upgrade's probe once began with one refused request, before anything was upgraded.
    # The probes count what an operation breaks, so they start from a port that answers.
    answered, deadline = 0, time.monotonic() + 120
    while answered < 10:
        assert time.monotonic() < deadline, f"the steady Service at {url} never answered 10 times in a row"
        try:
            request(url)
            answered += 1
        except OSError:
            answered = 0
        time.sleep(0.2)
    yield url
    kubectl("delete", "namespace", STEADY_NAMESPACE, "--wait=false", check=False)


def pod_nodes():
    """The nodes of the Deployment's ready pods."""
    pods = json.loads(kubectl("get", "pods", "-n", STEADY_NAMESPACE, "-l", "app=steady", "-o", "json").stdout)["items"]
    return [p["spec"]["nodeName"] for p in pods
            if p["metadata"].get("deletionTimestamp") is None
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", ()))]


def pytest_collection_modifyitems(items):
    """The upgrade (test_upgrade.py) runs first: the other modules check the release it ends at. The day-2
    operations (test_operations.py) change the cluster under the other modules' fixtures (pods replaced, a
    node removed and added back): they run last, and the whole cluster's reset and rebuild (test_reset.py)
    after everything."""
    order = {"test_upgrade": 0, "test_operations": 2, "test_reset": 3}
    items.sort(key=lambda item: order.get(item.module.__name__, 1))
