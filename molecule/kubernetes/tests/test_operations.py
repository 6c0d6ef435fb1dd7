"""Day 2 on the running cluster of the kubernetes scenario: every certificate renewed on request, then a
worker removed (remove_node.yml: drained, its host reset, its Node deleted) and added back with
`site.yml --limit`, while a Deployment behind a NodePort is probed from the controller five times a
second; every failed request is counted.

Runs last (conftest.py orders it): it replaces pods the other modules' fixtures hold."""

import json
import os
import re
import time
import urllib.request

import pytest

from conftest import STEADY_NAMESPACE as NAMESPACE
from conftest import Probe, pod_nodes, run_site
from test_pod_network import POD_CIDR
from test_cluster import ADDRESS, BUSYBOX, CONTROL_PLANES, NODES, RUNTIME, WEB_SERVER, kubectl, node, pod_get, wait_for

pytestmark = pytest.mark.skipif(os.environ["MOLECULE_SCENARIO_NAME"] != "kubernetes",
                                reason="the day-2 operations run once, in the kubernetes scenario")

# None where every node is a control plane (kubernetes_ha, where the module is skipped).
WORKER = next((name for name in NODES if name not in CONTROL_PLANES and RUNTIME[name] == "containerd"), None)


def recap_hosts(output):
    """The hosts of the PLAY RECAP: those the run reached."""
    return sorted(re.findall(r"^(\S+)\s+: ok=", output.split("PLAY RECAP", 1)[1], flags=re.M))


# Where the roles put certificates and keys on a node (the CAs' certificates are named *ca.crt).
CERTIFICATE_DIRS = "/etc/kubernetes /var/lib/kubelet/pki /etc/etcd/pki /etc/flannel/pki"


def certificates(name):
    """The node's leaf certificates ({path: serial}, CAs left out), its private keys ({path: mode}) and its
    kubeconfigs ({path: sha256})."""
    host = node(name)
    serials = host.check_output(
        f"for d in {CERTIFICATE_DIRS}; do [ -d $d ] && find $d -name '*.crt' ! -name '*ca.crt' | sort | "
        "while read -r f; do echo \"$f $(openssl x509 -noout -serial -in $f)\"; done; done; true")
    keys = host.check_output(f"for d in {CERTIFICATE_DIRS}; do [ -d $d ] && find $d -name '*.key' -printf '%m %p\\n'; done; true")
    # The kubeconfigs carry their client certificates inside.
    kubeconfigs = host.check_output("sha256sum /etc/kubernetes/*.conf")
    return (dict(line.split(" ", 1) for line in serials.splitlines()),
            {path: mode for mode, path in (line.split(" ", 1) for line in keys.splitlines())},
            {path: digest for digest, path in (line.split() for line in kubeconfigs.splitlines())})


def served_serial(name, port):
    """The serial of the certificate a service of the node presents on its address."""
    return node(name).check_output(
        f"echo | openssl s_client -connect {ADDRESS[name]}:{port} 2>/dev/null | openssl x509 -noout -serial")


def test_renewing_every_certificate_on_request_rolls_out_without_a_failed_request(steady):
    """pki_renew_issued_before: every leaf certificate issued before that time is reissued, copied to its
    hosts and taken up by its service (restarted), while the Service keeps answering."""
    before = {name: certificates(name) for name in NODES}
    requested = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    time.sleep(1)
    started = time.monotonic()
    with Probe(steady) as probe:
        result = run_site({"pki_renew_issued_before": requested})
    probe.report(f"site.yml -e pki_renew_issued_before=... ({time.monotonic() - started:.0f} s)")
    assert result.returncode == 0, result.stdout[-3000:]
    after = {name: certificates(name) for name in NODES}
    for name in NODES:
        serials_before, kubeconfigs_before = before[name][0], before[name][2]
        serials_after, keys, kubeconfigs = after[name]
        assert sorted(serials_after) == sorted(serials_before) and serials_after, (name, serials_after)
        kept = sorted(path for path in serials_after if serials_after[path] == serials_before[path])
        kept += sorted(path for path in kubeconfigs if kubeconfigs[path] == kubeconfigs_before.get(path))
        assert not kept, f"{name}: not renewed: {kept}"
        assert set(keys.values()) == {"600"}, (name, keys)
        # The services present the new certificates: they were restarted.
        assert served_serial(name, 10250) == serials_after["/var/lib/kubelet/pki/kubelet-server.crt"], name
    for name in CONTROL_PLANES:
        assert served_serial(name, 6443) == after[name][0]["/etc/kubernetes/pki/apiserver.crt"], name
    wait_for("every node Ready", timeout=120, probe=lambda: kubectl(
        "wait", "--for=condition=Ready", "node", "--all", "--timeout=5s", check=False).returncode == 0)
    assert probe.failed == 0, probe.errors


def test_removing_a_worker_moves_its_pods_and_leaves_its_host_clean(steady):
    started = time.monotonic()
    with Probe(steady) as probe:
        result = run_site({"remove_node": WORKER}, playbook="remove_node.yml")
        # Until the replacement pod is ready somewhere else.
        wait_for("two ready replicas without the removed worker",
                 lambda: len(pod_nodes()) == 2 and WORKER not in pod_nodes(), timeout=120, interval=1)
    probe.report(f"remove_node.yml ({time.monotonic() - started:.0f} s)")
    assert result.returncode == 0, result.stdout[-3000:]
    assert kubectl("get", "node", WORKER, check=False).returncode != 0
    assert probe.failed == 0, probe.errors
    host = node(WORKER)
    for service_name in ("kubelet", "kube-proxy", "flanneld", "containerd"):
        assert not host.service(service_name).is_running, service_name
    # Gone, or empty where the directory is a mount point of its own (the lab's kubelet and containerd roots).
    for path in ("/etc/kubernetes", "/var/lib/kubelet", "/var/lib/containerd", "/etc/cni/net.d", "/run/flannel",
                 "/etc/systemd/system/kubelet.service"):
        assert host.run("ls -A %s", path).stdout == "", path
    assert host.run("pgrep -x containerd-shim").rc == 1, "a container outlived the reset"
    links = host.check_output("ip -o link show")
    assert "cni0" not in links and "flannel." not in links
    assert host.check_output("ip -4 route show root %s", str(POD_CIDR)) == ""
    # What prepare left stays: the binaries, the kernel settings.
    assert host.file("/usr/local/bin/kubelet").exists
    assert host.sysctl("net.ipv4.ip_forward") == 1


def test_site_limited_to_the_removed_worker_brings_it_back_and_touches_no_other_host(steady):
    started = time.monotonic()
    with Probe(steady) as probe:
        result = run_site({}, "--limit", WORKER)
        wait_for(f"{WORKER} Ready", timeout=120, probe=lambda: kubectl(
            "wait", "--for=condition=Ready", f"node/{WORKER}", "--timeout=5s", check=False).returncode == 0)
    probe.report(f"site.yml --limit {WORKER} ({time.monotonic() - started:.0f} s)")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap_hosts(result.stdout) == [WORKER]
    assert probe.failed == 0, probe.errors
    # It takes pods again, which pods on the other nodes reach, and its NodePort answers.
    pinned = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "rejoined", "namespace": NAMESPACE, "labels": {"app": "steady"}},
              "spec": {"nodeName": WORKER, "terminationGracePeriodSeconds": 1, "containers": [{
                  "name": "web", "image": BUSYBOX, "imagePullPolicy": "Never",
                  "command": WEB_SERVER}]}}
    kubectl("apply", "-f", "-", stdin=json.dumps(pinned))
    kubectl("wait", "--for=condition=Ready", "-n", NAMESPACE, "pod/rejoined", "--timeout=120s", timeout=130)
    address = json.loads(kubectl("get", "pod", "-n", NAMESPACE, "rejoined", "-o", "json").stdout)["status"]["podIP"]
    others = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-l", "app=steady", "-o", "json").stdout)["items"]
    elsewhere = next(p["metadata"]["name"] for p in others if p["spec"]["nodeName"] != WORKER)
    assert "hello from rejoined" in pod_get(elsewhere, address, 8080, namespace=NAMESPACE)
    port = steady.rsplit(":", 1)[1].rstrip("/")
    with urllib.request.urlopen(f"http://{ADDRESS[WORKER]}:{port}/", timeout=5) as response:
        assert b"hello from" in response.read()
