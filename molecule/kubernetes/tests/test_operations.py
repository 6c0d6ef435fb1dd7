"""Day 2 on the running cluster of the kubernetes scenario: the day-2 playbooks in check mode, every
certificate renewed on request, a worker made a second control plane (site.yml over the inventory that
adds it), then removed (remove_node.yml: out of every apiserver proxy, drained, its host reset, its Node
deleted) and added back as a worker with `site.yml --limit`, while a Deployment behind a NodePort is
probed from the controller five times a second; every failed request is counted.

Runs last (conftest.py orders it): it replaces pods the other modules' fixtures hold."""

import concurrent.futures
import json
import os
import re
import time
import urllib.request

import pytest

from conftest import STEADY_NAMESPACE as NAMESPACE
from conftest import Probe, pod_nodes, recap_changed, run_site
from test_pod_network import POD_CIDR
from test_cluster import ADDRESS, BUSYBOX, CONTROL_PLANES, NODES, RUNTIME, WEB_SERVER, kubectl, node, pod_get, wait_for

pytestmark = pytest.mark.skipif(os.environ["MOLECULE_SCENARIO_NAME"] != "kubernetes",
                                reason="the day-2 operations run once, in the kubernetes scenario")

# None where every node is a control plane (kubernetes_ha, where the module is skipped).
WORKER = next((name for name in NODES if name not in CONTROL_PLANES and RUNTIME[name] == "containerd"), None)


def recap_hosts(output):
    """The hosts of the PLAY RECAP: those the run reached."""
    return sorted(re.findall(r"^(\S+)\s+: ok=", output.split("PLAY RECAP", 1)[1], flags=re.M))


@pytest.fixture(scope="module")
def second_control_plane(tmp_path_factory):
    """An inventory source that, read after the scenario's, makes WORKER a control plane as well: the
    inventory of a cluster that gains one (the group keeps the scenario's first control plane first)."""
    path = tmp_path_factory.mktemp("inventory") / "second-control-plane.yml"
    path.write_text(json.dumps({"all": {"children": {"kube_control_plane": {"hosts": {WORKER: {}}}}}}))
    return ["-i", str(path)]


def apiserver_backends(name):
    """The addresses of the kube-apiservers a node's local proxy forwards to (its haproxy.cfg's servers)."""
    config = node(name).file("/etc/haproxy/haproxy.cfg").content_string
    return sorted(re.findall(r"^\s+server \S+ ([\d.]+):", config, flags=re.M))


def kubernetes_endpoints():
    """The addresses behind the `kubernetes` Service: the kube-apiservers that registered themselves."""
    slices = json.loads(kubectl("get", "endpointslices", "-n", "default", "-l", "kubernetes.io/service-name=kubernetes",
                                "-o", "json").stdout)["items"]
    return sorted(address for item in slices for endpoint in item.get("endpoints") or ()
                  for address in endpoint["addresses"])


def test_day_2_playbooks_in_check_mode_report_their_work_and_change_nothing(steady):
    """reset.yml and remove_node.yml with --check on the running cluster: they go through every play, report
    what they would stop and remove, and every node stays Ready and serving."""
    started = time.monotonic()
    # Both at once: neither changes anything.
    with Probe(steady) as probe, concurrent.futures.ThreadPoolExecutor(2) as pool:
        reset_run = pool.submit(run_site, {"reset_confirm": True}, "--check", playbook="reset.yml")
        removal_run = pool.submit(run_site, {"remove_node": WORKER}, "--check", playbook="remove_node.yml")
        reset, removal = reset_run.result(), removal_run.result()
    probe.report(f"reset.yml and remove_node.yml --check ({time.monotonic() - started:.0f} s)")
    assert reset.returncode == 0, reset.stdout[-3000:]
    assert removal.returncode == 0, removal.stdout[-3000:]
    # What a reset would do is reported on every node; a removal's on the worker only.
    assert all(recap_changed(reset.stdout)[name] > 0 for name in NODES), recap_changed(reset.stdout)
    assert recap_changed(removal.stdout)[WORKER] > 0, recap_changed(removal.stdout)
    assert probe.failed == 0, probe.errors
    for name in NODES:
        assert node(name).service("kubelet").is_running, name
        assert node(name).file("/etc/kubernetes/kubelet.conf").exists, name
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes if not n["spec"].get("unschedulable")) == NODES


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


def test_a_worker_made_a_second_control_plane_serves_the_api_behind_every_node_proxy(steady, second_control_plane):
    """site.yml over an inventory where WORKER is also in kube_control_plane: its kube-apiserver serves a
    certificate that names its address, registers in the `kubernetes` Service, and every node's
    apiserver proxy forwards to it."""
    started = time.monotonic()
    with Probe(steady) as probe:
        result = run_site({}, *second_control_plane)
    probe.report(f"site.yml adding a control plane ({time.monotonic() - started:.0f} s), changed {recap_changed(result.stdout)}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert probe.failed == 0, probe.errors
    for name in NODES:
        assert apiserver_backends(name) == sorted(ADDRESS[host] for host in CONTROL_PLANES + [WORKER]), name
    sans = node(CONTROL_PLANES[0]).check_output("openssl x509 -noout -ext subjectAltName -in /etc/kubernetes/pki/apiserver.crt")
    assert f"IP Address:{ADDRESS[WORKER]}" in sans, sans
    # Its own API, verified against the cluster's CA at its address.
    ready = kubectl(f"--server=https://{ADDRESS[WORKER]}:6443", "get", "--raw", "/readyz")
    assert ready.stdout.strip() == "ok"
    wait_for("the new kube-apiserver in the kubernetes Service", timeout=60,
             probe=lambda: ADDRESS[WORKER] in kubernetes_endpoints())
    labels = json.loads(kubectl("get", "node", WORKER, "-o", "json").stdout)["metadata"]["labels"]
    assert "node-role.kubernetes.io/control-plane" in labels


def test_removing_that_control_plane_moves_its_pods_and_leaves_its_host_clean(steady, second_control_plane):
    """remove_node.yml with the inventory that made WORKER a control plane: the other nodes' apiserver
    proxies drop it before it stops, its pods move, its Node is gone, its host is clean."""
    started = time.monotonic()
    with Probe(steady) as probe:
        result = run_site({"remove_node": WORKER}, *second_control_plane, playbook="remove_node.yml")
        # Until the replacement pod is ready somewhere else.
        wait_for("two ready replicas without the removed node",
                 lambda: len(pod_nodes()) == 2 and WORKER not in pod_nodes(), timeout=120, interval=1)
    probe.report(f"remove_node.yml of a control plane ({time.monotonic() - started:.0f} s)")
    assert result.returncode == 0, result.stdout[-3000:]
    assert kubectl("get", "node", WORKER, check=False).returncode != 0
    assert probe.failed == 0, probe.errors
    for name in NODES:
        if name != WORKER:
            assert apiserver_backends(name) == sorted(ADDRESS[host] for host in CONTROL_PLANES), name
    wait_for("the kubernetes Service without it", timeout=60,
             probe=lambda: kubernetes_endpoints() == [ADDRESS[name] for name in CONTROL_PLANES])
    host = node(WORKER)
    for service_name in ("kubelet", "kube-proxy", "flanneld", "containerd", "kube-apiserver"):
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
