"""A real Kubernetes cluster built by site.yml from bare lab nodes, checked from outside the way
an operator would: kubectl from the controller, workloads across nodes, Services, the security
settings, and (with several control-plane nodes) one of them down.

Used by the kubernetes (the current release: 1 control plane + 2 workers, the last one on Docker
through cri-dockerd) and kubernetes_ha (1.20.2: 3 control planes) scenarios."""

import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import testinfra

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
LAB_INVENTORY = json.loads((INVENTORY / "lab.yml").read_text().split("\n", 1)[1])
LAB_VARS = LAB_INVENTORY["all"]["vars"]
STATE_DIR = Path(LAB_VARS["cluster_state_dir"])
KUBECONFIG = STATE_DIR / "admin.conf"
MIRROR = Path(LAB_VARS["artifacts_mirror_url"].removeprefix("file://"))
# The release the scenario ends at: the one test_upgrade.py upgrades to, if the lab has one.
VERSION = LAB_VARS.get("corral_lab_upgrade_to", LAB_VARS)["cluster_kubernetes_version"]
KUBECTL = str(MIRROR / "dl.k8s.io" / "release" / f"v{VERSION}" / "bin" / "linux" / "amd64" / "kubectl")
BUSYBOX = next(a["image"] for a in LAB_VARS["node_image_archives"] if "busybox" in a["image"])
NAMESPACE = "corral-e2e"
# A pod's command: an HTTP server on port 8080 that answers "hello from POD".
WEB_SERVER = ["sh", "-c", "mkdir -p /www; echo \"hello from $(hostname)\" > /www/index.html; exec httpd -f -p 8080 -h /www"]


def group(name, tree=LAB_INVENTORY["all"]):
    """Hosts of an inventory group, by walking the lab's inventory."""
    found = {}
    for child_name, child in (tree.get("children") or {}).items():
        if child_name == name:
            found.update(child.get("hosts") or {})
            for grandchild in (child.get("children") or {}).values():
                found.update(grandchild.get("hosts") or {})
        found.update(group(name, child))
    return found


CONTROL_PLANES = sorted(group("kube_control_plane"))
NODES = sorted(set(group("kube_control_plane")) | set(group("kube_node")))
# The runtime of each node: a host variable of the lab's --docker-nodes, else the cluster's.
RUNTIME = {name: {**LAB_VARS, **v}.get("cluster_container_runtime", "containerd")
           for name, v in {**group("kube_control_plane"), **group("kube_node")}.items()}
ADDRESS = {name: v["ansible_host"] for name, v in {**group("kube_control_plane"), **group("kube_node")}.items()}


def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}", sudo=True)


def kubectl(*args, check=True, stdin=None, timeout=120):
    result = subprocess.run([KUBECTL, f"--kubeconfig={KUBECONFIG}", *args], input=stdin, capture_output=True,
                            text=True, timeout=timeout, check=False)
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result


def wait_for(what, probe, timeout=180, interval=3):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"{what} not within {timeout} s (last: {last!r})")


def http_get(url, timeout=5):
    """Body of a GET, or the error it raised (as text)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=ssl._create_unverified_context()) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def pod_get(pod, address, port, namespace=NAMESPACE):
    """HTTP GET from inside a pod (busybox nc: its wget crashes in this static build)."""
    return kubectl("exec", "-n", namespace, pod, "--", "sh", "-c",
                   f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {address} {port} | tail -1", check=False).stdout.strip()


@pytest.fixture(scope="module")
def web():
    """A Deployment with one HTTP pod per node (control-plane nodes included), behind a
    NodePort Service. Yields {pod name: (node, pod IP)} and the Service."""
    manifest = {
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NAMESPACE},
             "spec": {"replicas": len(NODES), "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                          "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                          "topologySpreadConstraints": [{
                              "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                              "whenUnsatisfiable": "DoNotSchedule",
                              "labelSelector": {"matchLabels": {"app": "web"}}}],
                          "containers": [{
                              "name": "web", "image": BUSYBOX, "imagePullPolicy": "Never",
                              "command": WEB_SERVER}]}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NAMESPACE},
             "spec": {"type": "NodePort", "selector": {"app": "web"},
                      "ports": [{"port": 80, "targetPort": 8080}]}},
        ]}
    kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    kubectl("rollout", "status", "-n", NAMESPACE, "deployment/web", "--timeout=180s", timeout=200)
    pods = json.loads(kubectl("get", "pods", "-n", NAMESPACE, "-l", "app=web", "-o", "json").stdout)["items"]
    service = json.loads(kubectl("get", "service", "-n", NAMESPACE, "web", "-o", "json").stdout)
    yield {p["metadata"]["name"]: (p["spec"]["nodeName"], p["status"]["podIP"]) for p in pods}, service
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_the_admin_kubeconfig_is_private_and_every_node_is_ready():
    assert KUBECONFIG.stat().st_mode & 0o777 == 0o600
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == NODES
    for item in nodes:
        ready = next(c for c in item["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", item["metadata"]["name"]
        assert item["status"]["nodeInfo"]["kubeletVersion"] == f"v{VERSION}"
        runtime = RUNTIME[item["metadata"]["name"]]
        assert item["status"]["nodeInfo"]["containerRuntimeVersion"].startswith(f"{runtime}://")


def test_the_apiserver_is_ready_and_live_and_the_components_healthy():
    assert kubectl("get", "--raw", "/readyz").stdout == "ok"
    assert kubectl("get", "--raw", "/livez").stdout == "ok"
    for name in CONTROL_PLANES:
        for port in (10257, 10259):  # kube-controller-manager, kube-scheduler
            assert node(name).check_output(f"curl -sk https://127.0.0.1:{port}/healthz") == "ok"


def test_control_plane_nodes_are_labelled_and_tainted():
    for name in CONTROL_PLANES:
        item = json.loads(kubectl("get", "node", name, "-o", "json").stdout)
        assert "node-role.kubernetes.io/control-plane" in item["metadata"]["labels"]
        assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in item["spec"]["taints"]


def test_pods_on_every_node_reach_each_other_across_nodes(web):
    pods, _unused = web
    assert sorted(node_name for node_name, _unused in pods.values()) == NODES
    for client, (client_node, _unused) in pods.items():
        for target, (target_node, target_ip) in pods.items():
            answer = pod_get(client, target_ip, 8080)
            assert answer == f"hello from {target}", f"{client} on {client_node} -> {target} on {target_node}"


def test_a_cluster_ip_service_answers_pods_on_other_nodes(web):
    pods, service = web
    cluster_ip = service["spec"]["clusterIP"]
    for client in pods:
        assert pod_get(client, cluster_ip, 80).startswith("hello from web-")


def test_a_node_port_answers_on_every_node_address(web):
    _unused, service = web
    port = service["spec"]["ports"][0]["nodePort"]
    for name in NODES:
        status, body = http_get(f"http://{ADDRESS[name]}:{port}/")
        assert status == 200 and body.startswith("hello from web-"), name


def test_anonymous_requests_to_the_apiserver_and_the_kubelets_are_refused():
    for name in CONTROL_PLANES:
        status, _unused = http_get(f"https://{ADDRESS[name]}:6443/api/v1/namespaces/kube-system/secrets")
        assert status == 401, name
    for name in NODES:
        status, _unused = http_get(f"https://{ADDRESS[name]}:10250/pods")
        assert status == 401, name
        # The read-only kubelet port is closed.
        assert node(name).run("curl -s -m 3 http://127.0.0.1:10255/pods").rc != 0


def test_a_node_identity_cannot_read_the_secrets_of_other_namespaces():
    worker = NODES[-1]
    result = kubectl("auth", "can-i", "get", "secrets", "-n", "kube-system", f"--as=system:node:{worker}",
                     "--as-group=system:nodes", check=False)
    assert result.stdout.strip().startswith("no")
    result = kubectl("auth", "can-i", "list", "secrets", "--all-namespaces", f"--as=system:node:{worker}",
                     "--as-group=system:nodes", check=False)
    assert result.stdout.strip().startswith("no")


def test_secrets_are_encrypted_in_etcd():
    kubectl("create", "secret", "generic", "corral-e2e-secret", "-n", "default",
            "--from-literal=password=plaintext-canary", check=False)
    etcd_pki = "/etc/etcd/pki"
    member = sorted(group("etcd"))[0]
    raw = node(member).run(
        f"ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://127.0.0.1:2379 --cacert={etcd_pki}/ca.crt "
        f"--cert={etcd_pki}/healthcheck-client.crt --key={etcd_pki}/healthcheck-client.key "
        "get /registry/secrets/default/corral-e2e-secret --print-value-only | head -c 25")
    assert raw.rc == 0, raw.stderr
    # The value starts with the provider's prefix (secretbox by default); the rest is ciphertext.
    assert raw.stdout == "k8s:enc:secretbox:v1:key1"
    # The value is binary: grep counts the plaintext on the node instead of decoding it here.
    assert node(member).run(
        f"ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://127.0.0.1:2379 --cacert={etcd_pki}/ca.crt "
        f"--cert={etcd_pki}/healthcheck-client.crt --key={etcd_pki}/healthcheck-client.key "
        "get /registry/secrets/default/corral-e2e-secret --print-value-only | grep -ac plaintext-canary").stdout.strip() == "0"
    kubectl("delete", "secret", "-n", "default", "corral-e2e-secret", check=False)


def test_the_audit_log_records_requests():
    assert node(CONTROL_PLANES[0]).file("/var/log/kubernetes/audit").mode == 0o700
    assert '"kind":"Event"' in node(CONTROL_PLANES[0]).check_output(
        "tail -n 5 /var/log/kubernetes/audit/audit.log")


@pytest.mark.skipif(len(CONTROL_PLANES) < 2, reason="one control-plane node: nothing to fail over to")
def test_with_one_apiserver_down_kubectl_through_the_local_proxy_works_and_pods_are_scheduled():
    down, other = CONTROL_PLANES[0], CONTROL_PLANES[1]
    node(down).run("systemctl stop kube-apiserver")
    try:
        # root's kubeconfig on a control-plane node goes through the local haproxy. (In CI another
        # scenario's lab shares this machine: a loaded haproxy may take longer to mark the backend down.)
        result = wait_for("kubectl through the local proxy",
                          lambda: node(other).run("kubectl get nodes -o name").stdout.split() or None, timeout=90)
        assert sorted(result) == [f"node/{n}" for n in NODES]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "after-failover", "namespace": "default"},
               "spec": {"containers": [{"name": "sleep", "image": BUSYBOX, "imagePullPolicy": "Never",
                                        "command": ["sleep", "3600"]}],
                        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}
        node(other).run_test("kubectl apply -f - <<'EOF'\n" + json.dumps(pod) + "\nEOF")
        wait_for("the new pod running", lambda: node(other).run(
            "kubectl get pod after-failover -o jsonpath={.status.phase}").stdout == "Running")
    finally:
        node(down).run("systemctl start kube-apiserver")
        node(other).run("kubectl delete pod after-failover --wait=false")
    wait_for("the stopped apiserver back", lambda: kubectl("get", "--raw", "/readyz", check=False).stdout == "ok")
