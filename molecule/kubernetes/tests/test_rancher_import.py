"""The real lab cluster imported into Rancher by site.yml: a contract test.

The Rancher server is the contract stand-in of Rancher 2.5 (tests/contract: NOT Rancher, whose image
cannot be had here), on the lab host "rancher" outside the cluster. The import manifest it hands out
is applied to the real cluster; its cattle-cluster-agent (a stand-in of rancher/rancher-agent) runs
as a pod of the real cluster and connects back with the cluster's credentials. These tests check what
is real here: the manifest's objects in the cluster, the agent pod running with the manifest's
service account, and that the credentials Rancher was handed really work on the cluster.
"""

import base64
import json
import subprocess
import sys
import tempfile

import pytest
from test_cluster import ADDRESS, CONTROL_PLANES, KUBECTL, LAB_VARS, PROJECT, group, kubectl, node, wait_for

sys.path.insert(0, str(PROJECT / "playbooks" / "collections"))
from ansible_collections.corral.cluster.plugins.module_utils import rancher  # noqa: E402

RANCHER = group("rancher_server")
pytestmark = pytest.mark.skipif(not RANCHER, reason="no Rancher host in this scenario")
NAMESPACE = "cattle-system"


def rancher_host():
    name, settings = next(iter(RANCHER.items()))
    return name, settings


def rancher_api():
    _unused, settings = rancher_host()
    url = f"https://{settings['ansible_host']}"
    token = rancher.login(rancher.Client(url, rancher.ansible_transport(validate_certs=False)), "admin",
                          settings["rancher_server_admin_password"], 60000, "kubernetes scenario test")["token"]
    return rancher.Client(url, rancher.ansible_transport(validate_certs=False), token=token)


def imported_cluster(api):
    return rancher.find_cluster(api, LAB_VARS["cluster_name"])


def test_the_import_manifest_is_applied_to_the_cluster():
    objects = {
        "namespace": [NAMESPACE], "clusterrole": ["cattle-admin", "proxy-clusterrole-kubeapiserver"],
        "clusterrolebinding": ["cattle-admin-binding", "proxy-role-binding-kubernetes-master"],
    }
    for kind, names in objects.items():
        for name in names:
            kubectl("get", kind, name)
    kubectl("get", "serviceaccount", "-n", NAMESPACE, "cattle")
    secrets = kubectl("get", "secrets", "-n", NAMESPACE, "-o", "name").stdout.split()
    assert any(s.startswith("secret/cattle-credentials-") for s in secrets), secrets
    deployment = json.loads(kubectl("get", "deployment", "-n", NAMESPACE, "cattle-cluster-agent", "-o", "json").stdout)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "corral.test/rancher-cluster-agent-standin:v2.5.16"
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "cattle"


def test_the_cluster_agent_runs_in_the_cluster_and_has_connected():
    kubectl("rollout", "status", "-n", NAMESPACE, "deployment/cattle-cluster-agent", "--timeout=120s", timeout=150)

    def connected():
        out = kubectl("logs", "-n", NAMESPACE, "deployment/cattle-cluster-agent", check=False).stdout
        return out if "Connected to Rancher" in out else None

    logs = wait_for("the agent's connect message", connected, timeout=60)
    # It pinned Rancher's CA by the manifest's checksum and read the cluster with its service account.
    assert "Kubernetes v1.20.2, 3 node(s)" in logs


def test_rancher_reports_the_cluster_active_with_its_kubernetes_release():
    api = rancher_api()
    cluster = imported_cluster(api)
    assert cluster is not None, f"Rancher has no cluster {LAB_VARS['cluster_name']}"
    assert cluster["state"] == "active"
    assert cluster["version"]["gitVersion"] == "v1.20.2"
    assert api.get("/v3/settings/server-url")["value"] == f"https://{rancher_host()[1]['ansible_host']}"


def test_the_credentials_handed_to_rancher_work_on_the_cluster():
    """Rancher reaches an imported cluster with the service account token its agent sends: use it
    the way Rancher would, against the real kube-apiserver."""
    name, _unused = rancher_host()
    # The stand-in keeps its state on the data volume, as Rancher keeps its own.
    state = json.loads(node(name).check_output(
        "cat \"$(docker volume inspect --format '{{.Mountpoint}}' rancher-data)/standin-state.json\""))
    cluster = next(c for c in state["clusters"].values() if c["name"] == LAB_VARS["cluster_name"])
    tunnel = cluster["tunnel"]
    with tempfile.NamedTemporaryFile("wb", suffix=".crt") as ca:
        ca.write(base64.b64decode(tunnel["caCert"]))
        ca.flush()

        def as_rancher(token, *args):
            return subprocess.run([KUBECTL, f"--server=https://{ADDRESS[CONTROL_PLANES[0]]}:6443",
                                   f"--certificate-authority={ca.name}", f"--token={token}", *args],
                                  capture_output=True, text=True, timeout=60, check=False)

        nodes = as_rancher(tunnel["token"], "get", "nodes", "-o", "name")
        assert nodes.returncode == 0, nodes.stderr
        assert len(nodes.stdout.split()) == 3
        can_i = as_rancher(tunnel["token"], "auth", "can-i", "--list", "-n", NAMESPACE)
        assert can_i.returncode == 0 and "*.*" in can_i.stdout  # the manifest's cattle-admin ClusterRole
        refused = as_rancher(tunnel["token"][:-4] + "AAAA", "get", "nodes")
        assert refused.returncode != 0 and "Unauthorized" in refused.stderr
