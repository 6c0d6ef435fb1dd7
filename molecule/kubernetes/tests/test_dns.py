"""CoreDNS as the cluster DNS, asked from a pod on every node the way workloads ask it: the kubernetes
Service and a test Service by name, a headless Service to its pods, the cluster's own domain and its
reverse zone, a name outside the cluster forwarded, and answers while one CoreDNS pod is gone."""

import ipaddress
import json
import os
import re
import time

import pytest

from conftest import NET_NAMESPACE, SETTINGS, pod_sh
from test_cluster import ADDRESS, LAB_VARS, NODES, RUNTIME, kubectl, wait_for

DOMAIN = SETTINGS.get("cluster_domain", "cluster.local")
SERVICE_CIDR = ipaddress.ip_network(SETTINGS.get("cluster_service_cidr", "10.96.0.0/12"))
DNS_IP = str(SETTINGS.get("cluster_dns_ip", SERVICE_CIDR[10]))
KUBERNETES_IP = str(SERVICE_CIDR[1])
# The lab's containers are named [nsN-]molecule-<scenario>-<node> (tools/lab.py: Lab.container); lab
# nodes resolve them through Docker's DNS. Not from cluster_name, which has '-' for the '_' of
# kubernetes_ha.
LAB = (f"ns{os.environ['CORRAL_LAB_NS']}-" if os.environ.get("CORRAL_LAB_NS") else "") + \
    f"molecule-{os.environ['MOLECULE_SCENARIO_NAME']}"
# The image the lab built for the role's default CoreDNS release, under cluster_image_registry.
IMAGE = next(archive["image"] for archive in LAB_VARS["node_image_archives"] if "/coredns/" in archive["image"])


def lookup(pod, name, server=""):
    """The addresses busybox nslookup gives for a name from a pod (empty when it fails)."""
    rc, out = pod_sh(pod, f"nslookup -type=a {name} {server}")
    if rc != 0 or "Name:" not in out:
        return []
    answer = out.split("Name:", 1)[1]
    return re.findall(r"Address(?: \d+)?:\s+([0-9a-f.:]+)", answer)


def resolve(pod, name):
    """The address the C library's resolver (search path and ndots applied) gives for a name in a pod."""
    _rc, out = pod_sh(pod, f"ping -c 1 -W 1 {name} 2>&1")
    match = re.search(r"^PING \S+ \(([0-9a-f.:]+)\)", out, re.M)
    return match.group(1) if match else out


@pytest.fixture(scope="module")
def services(everywhere):
    """A ClusterIP Service and a headless one in front of the probe pods (one per node)."""
    manifest = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NET_NAMESPACE},
         "spec": {"selector": {"app": "probe"}, "ports": [{"port": 80, "targetPort": 8080}],
                  **({"clusterIP": "None"} if name == "probe-headless" else {})}}
        for name in ("probe", "probe-headless")]}
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    service = json.loads(kubectl("get", "service", "-n", NET_NAMESPACE, "probe", "-o", "json").stdout)
    return service["spec"]["clusterIP"], sorted(ip for _pod, ip in everywhere.values())


def coredns_pods():
    items = json.loads(kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json").stdout)
    return {p["metadata"]["name"]: p for p in items["items"] if not p["metadata"].get("deletionTimestamp")}


def test_coredns_replicas_run_spread_over_the_nodes_as_cluster_critical():
    deployment = json.loads(kubectl("get", "deployment", "-n", "kube-system", "coredns", "-o", "json").stdout)
    replicas = deployment["spec"]["replicas"]
    assert deployment["status"].get("readyReplicas") == replicas >= 2
    pods = coredns_pods().values()
    assert len({p["spec"]["nodeName"] for p in pods}) == min(replicas, len(NODES))
    for pod in pods:
        assert pod["spec"]["priorityClassName"] == "system-cluster-critical"
        assert pod["spec"]["containers"][0]["image"] == IMAGE
    service = json.loads(kubectl("get", "service", "-n", "kube-system", "kube-dns", "-o", "json").stdout)
    assert service["spec"]["clusterIP"] == DNS_IP
    pdb = json.loads(kubectl("get", "poddisruptionbudget", "-n", "kube-system", "coredns", "-o", "json").stdout)
    assert pdb["spec"]["maxUnavailable"] == 1


def test_coredns_runs_on_the_docker_node_too():
    docker_nodes = [name for name in NODES if RUNTIME[name] == "docker"]
    if not docker_nodes:
        pytest.skip("no node runs Docker in this scenario")
    on = {p["spec"]["nodeName"] for p in coredns_pods().values()}
    assert set(docker_nodes) <= on, on


def test_pods_on_every_node_resolve_the_kubernetes_service_in_the_cluster_domain(everywhere):
    for name, (pod, _ip) in everywhere.items():
        assert lookup(pod, f"kubernetes.default.svc.{DOMAIN}") == [KUBERNETES_IP], name
        # The short name through the search path kubelet writes for the cluster's domain.
        assert f"search {NET_NAMESPACE}.svc.{DOMAIN} svc.{DOMAIN} {DOMAIN}" in pod_sh(pod, "cat /etc/resolv.conf")[1]
        # busybox nslookup (1.28 and later) ignores the search path: ask the C library's resolver,
        # through ping, which names the address it resolved before sending (ClusterIPs do not answer).
        assert resolve(pod, "kubernetes.default") == KUBERNETES_IP, name


def test_pods_on_every_node_resolve_a_service_and_a_headless_service(everywhere, services):
    cluster_ip, pod_ips = services
    for name, (pod, _ip) in everywhere.items():
        assert lookup(pod, f"probe.{NET_NAMESPACE}.svc.{DOMAIN}") == [cluster_ip], name
        assert sorted(lookup(pod, f"probe-headless.{NET_NAMESPACE}.svc.{DOMAIN}")) == pod_ips, name


def test_the_reverse_zone_names_the_kubernetes_service(everywhere):
    pod, _ip = everywhere[NODES[0]]
    _rc, out = pod_sh(pod, f"nslookup {KUBERNETES_IP}")
    assert f"kubernetes.default.svc.{DOMAIN}" in out, out


def test_names_outside_the_cluster_are_forwarded(everywhere):
    # Docker's DNS on the lab nodes knows the lab's containers: node 1's name answers its address.
    # Absolute (trailing dot): busybox's nslookup tries a short name only with the search domains.
    first = NODES[0]
    for name, (pod, _ip) in everywhere.items():
        assert lookup(pod, f"{LAB}-{first}.") == [ADDRESS[first]], name


def test_lookups_keep_answering_with_one_coredns_pod_deleted(everywhere):
    victim = sorted(coredns_pods())[0]
    kubectl("delete", "pod", "-n", "kube-system", victim, "--wait=false")
    deadline = time.monotonic() + 15
    failures, rounds = [], 0
    while time.monotonic() < deadline:
        for name, (pod, _ip) in everywhere.items():
            if lookup(pod, f"kubernetes.default.svc.{DOMAIN}") != [KUBERNETES_IP]:
                failures.append(name)
        rounds += 1
    assert rounds >= 2 and not failures, (rounds, failures)
    wait_for("CoreDNS back to every replica", lambda: victim not in coredns_pods() and all_ready())


def all_ready():
    deployment = json.loads(kubectl("get", "deployment", "-n", "kube-system", "coredns", "-o", "json").stdout)
    return deployment["status"].get("readyReplicas") == deployment["spec"]["replicas"]
