"""A whole cluster reset and built again (kubernetes_ha): `reset.yml -e reset_confirm=true` over every host
leaves them as prepare left them, etcd's data included, and `site.yml` builds a new cluster on them, which
runs pods and resolves Service names.

Runs last (conftest.py orders it): it wipes the cluster the other modules tested."""

import json
import os
import re
import time

import pytest

from conftest import SETTINGS, run_site
from test_cluster import BUSYBOX, NODES, kubectl, node, wait_for

pytestmark = pytest.mark.skipif(os.environ["MOLECULE_SCENARIO_NAME"] != "kubernetes_ha",
                                reason="a whole cluster's reset and rebuild runs once, in kubernetes_ha")

# Made before the reset: a rebuilt cluster that still had it would have kept etcd's data.
MARK = "corral-e2e-before-reset"


def failures(output):
    """The failed tasks of a run, with their messages (or its end, if none is marked failed)."""
    found = re.findall(r"^TASK \[[^\n]*\n(?:(?!TASK \[)[^\n]*\n)*?(?:fatal|failed): .*$", output, flags=re.M)
    return "\n".join(found)[-6000:] or output[-3000:]


def pod_phase(name):
    return kubectl("get", "pod", name, "-n", "default", "-o", "jsonpath={.status.phase}", check=False).stdout


def test_a_whole_cluster_reset_then_site_builds_a_new_cluster():
    kubectl("create", "namespace", MARK)
    started = time.monotonic()
    reset = run_site({"reset_confirm": True}, playbook="reset.yml")
    print(f"reset.yml of the whole cluster: {time.monotonic() - started:.0f} s")
    assert reset.returncode == 0, failures(reset.stdout)
    data_dir = SETTINGS.get("etcd_data_dir", "/var/lib/etcd")
    for name in NODES:
        host = node(name)
        for service_name in ("kubelet", "kube-proxy", "flanneld", "kube-apiserver", "kube-controller-manager",
                             "kube-scheduler", "etcd", "containerd"):
            assert not host.service(service_name).is_running, (name, service_name)
        # Gone, or empty where the directory is a mount point of its own.
        for path in ("/etc/kubernetes", "/var/lib/kubelet", data_dir, "/etc/etcd", "/etc/cni/net.d"):
            assert host.run("ls -A %s", path).stdout == "", (name, path)
        assert host.run("pgrep -x containerd-shim").rc == 1, f"{name}: a container outlived the reset"
        assert host.file("/usr/local/bin/kubelet").exists, name

    started = time.monotonic()
    rebuilt = run_site({})
    print(f"site.yml on the reset hosts: {time.monotonic() - started:.0f} s")
    assert rebuilt.returncode == 0, failures(rebuilt.stdout)
    wait_for("every node Ready", timeout=180, probe=lambda: kubectl(
        "wait", "--for=condition=Ready", "node", "--all", "--timeout=5s", check=False).returncode == 0)
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == NODES
    assert kubectl("get", "namespace", MARK, check=False).returncode != 0, "the reset kept etcd's data"
    # A new pod resolves the kubernetes Service's name through the new cluster's CoreDNS.
    domain = SETTINGS.get("cluster_domain", "cluster.local")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "after-reset", "namespace": "default"},
           "spec": {"restartPolicy": "Never",
                    # Every node of the scenario is a control plane.
                    "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
                    "containers": [{"name": "check", "image": BUSYBOX, "imagePullPolicy": "Never", "command": [
                        "nslookup", f"kubernetes.default.svc.{domain}"]}]}}
    kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    phase = wait_for("the pod after the reset to finish", timeout=180,
                     probe=lambda: pod_phase("after-reset") if pod_phase("after-reset") in ("Succeeded", "Failed") else None)
    logs = kubectl("logs", "-n", "default", "after-reset", check=False).stdout
    kubectl("delete", "pod", "-n", "default", "after-reset", "--wait=false", check=False)
    assert phase == "Succeeded", logs
