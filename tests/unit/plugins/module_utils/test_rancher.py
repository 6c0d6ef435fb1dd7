"""Unit tests of the Rancher client (module_utils/rancher.py) on recorded responses, no server.

rancher_responses/v2_bootstrap_import.json was recorded from the contract stand-in
(tests/contract), whose shapes follow Rancher's API; the tests replay it in order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.corral.cluster.plugins.module_utils import rancher

RECORDED = json.loads((Path(__file__).parent / "rancher_responses" / "v2_bootstrap_import.json").read_text())
ROLE_VARS = Path(__file__).resolve().parents[4] / "roles" / "rancher_server" / "vars" / "main.yml"


class Replay:
    """A transport answering each request with the next recorded response, checking method and path."""

    def __init__(self, records):
        self.records = list(records)
        self.sent = []

    def __call__(self, method, url, body, headers, timeout):
        record = self.records.pop(0)
        path = url.replace("https://rancher.example.test", "")
        assert (method, path) == (record["method"], record["path"])
        self.sent.append({"method": method, "path": path, "body": json.loads(body) if body else None,
                          "headers": dict(headers)})
        return record["status"], record["body"].encode()


def test_bootstrap_and_import_on_recorded_responses():
    replay = Replay(RECORDED)
    client = rancher.Client("https://rancher.example.test", replay)
    result = rancher.bootstrap(client, username="admin", password="final-password-123", bootstrap_password="admin",
                               server_url="https://rancher.example.test", token_ttl_ms=60000,
                               token_description="t", check_mode=False)
    assert result.changed and not result.already_bootstrapped and result.server_version == "v2.5.16"
    assert replay.sent[2]["body"] == {"currentPassword": "admin", "newPassword": "final-password-123"}
    assert replay.sent[2]["headers"]["Authorization"].startswith("Bearer token-")
    assert replay.sent[5]["body"] == {"name": "server-url", "value": "https://rancher.example.test"}
    cluster = rancher.ensure_cluster(client, name="corral", cluster_type="imported", description="",
                                     fetch_manifest=False, check_mode=False)
    assert replay.sent[8]["body"] == {"type": "cluster", "name": "corral", "description": ""}
    assert replay.sent[10]["body"] == {"type": "clusterRegistrationToken", "clusterId": cluster["cluster_id"]}
    reg = cluster["registration"]
    assert reg["command"] == f"kubectl apply -f {reg['manifestUrl']}"
    assert cluster["node_agent"]["image"] == "rancher/rancher-agent:v2.5.16"
    with pytest.raises(rancher.Unauthorized, match="wrong username or password"):
        rancher.login(client, "admin", "wrong", 1000, "t")
    with pytest.raises(rancher.NotFound, match="404 Not Found"):
        client.get("/v3/clusters/c-nope")
    client.token = "token-zzzzz:expired"
    with pytest.raises(rancher.Unauthorized, match="token expired or was deleted"):
        client.get("/v3/settings/server-url")
    assert replay.records == []


@pytest.mark.parametrize("rancher_version, kubernetes, line", [
    ("v2.5.16", "1.20.2", "2.5"), ("2.12", "1.33.1", "2.12"), ("v2.13.0", "1.32.0", "2.13"),
    ("v2.14.1", "1.35.8", "2.14"), ("v1.6.30", "1.35.8", "1.6"),
])
def test_compatible_pairs(rancher_version, kubernetes, line):
    assert rancher.check_compatibility(rancher_version, kubernetes)["rancher_line"] == line


def test_incompatible_pair_names_the_rancher_to_use():
    with pytest.raises(rancher.Refused) as refused:
        rancher.check_compatibility("v2.12.3", "1.20.2")
    message = str(refused.value)
    assert "the 2.12 line supports Kubernetes 1.31-1.33" in message
    assert "Use Rancher 2.6 (Kubernetes 1.18-1.24) or Rancher 2.5 (Kubernetes 1.17-1.20)" in message
    with pytest.raises(rancher.Refused, match="Use Rancher 2.14"):
        rancher.check_compatibility("v2.12.0", "1.35.0")


@pytest.mark.parametrize("version", ["latest", "stable", "", "head"])
def test_unversioned_tags_are_refused(version):
    with pytest.raises(rancher.Refused, match="pin the image tag"):
        rancher.check_compatibility(version, "1.20.2")


def test_unknown_line_and_kubernetes_out_of_every_line():
    with pytest.raises(rancher.Refused, match="not a line corral.cluster knows"):
        rancher.check_compatibility("v2.99.0", "1.20.2")
    with pytest.raises(rancher.Refused, match="No Rancher line corral.cluster knows imports Kubernetes 1.10"):
        rancher.check_compatibility("v2.5.0", "1.10.0")


def test_support_table_is_contiguous_and_moves_forward():
    lines = sorted(rancher.RANCHER_KUBERNETES_SUPPORT)
    for older, newer in zip(lines, lines[1:]):
        assert rancher.RANCHER_KUBERNETES_SUPPORT[older][0] <= rancher.RANCHER_KUBERNETES_SUPPORT[newer][0]
        assert rancher.RANCHER_KUBERNETES_SUPPORT[older][1] <= rancher.RANCHER_KUBERNETES_SUPPORT[newer][1]


def test_first_login_password():
    assert rancher.first_login_password("v2.5.16", "x") == "admin"
    assert rancher.first_login_password("v2.6.0", "x") == "x"


def test_parse_node_command():
    agent = rancher.parse_node_command(
        "sudo docker run -d --privileged --restart=unless-stopped --net=host -v /etc/kubernetes:/etc/kubernetes "
        "-v /var/run:/var/run rancher/rancher-agent:v2.5.7 --server https://18.0.0.9 --token abc --ca-checksum f00")
    assert agent == {
        "image": "rancher/rancher-agent:v2.5.7",
        "args": ["--server", "https://18.0.0.9", "--token", "abc", "--ca-checksum", "f00"],
        "server": "https://18.0.0.9", "token": "abc", "ca_checksum": "f00", "privileged": True,
        "network_mode": "host", "volumes": ["/etc/kubernetes:/etc/kubernetes", "/var/run:/var/run"],
        "restart_policy": "unless-stopped",
    }
    assert rancher.node_role_flags(["worker", "etcd"]) == ["--etcd", "--worker"]
    with pytest.raises(rancher.RancherError, match="Unknown node roles"):
        rancher.node_role_flags(["master"])


def test_legacy_agent_image_from_command():
    assert rancher.legacy_agent_image({"command": "sudo docker run --rm --privileged -v a:b rancher/agent:v1.2.11 "
                                                  "http://x:8080/v1/scripts/T"}) == "rancher/agent:v1.2.11"
    assert rancher.legacy_agent_image({"image": "rancher/agent:v1.2.11"}, "mirror/agent:v1.2.11") == \
        "mirror/agent:v1.2.11"


def test_messages_never_show_registration_tokens():
    error = rancher.http_error("GET", "https://r/v3/import/secrettoken_c-abcde.yaml", 404, "{}", False)
    assert "secrettoken" not in str(error)


@pytest.mark.parametrize("stdout, changed", [
    ("namespace/cattle-system created\nserviceaccount/cattle created\n", True),
    ("namespace/cattle-system unchanged\ndeployment.apps/cattle-cluster-agent configured\n", True),
    ("namespace/cattle-system unchanged\nserviceaccount/cattle unchanged\n", False),
    ("clusterrole.rbac.authorization.k8s.io/cattle-admin unchanged\n", False),
])
def test_kubectl_apply_change_detection(stdout, changed):
    """The role's changed_when for `kubectl apply -f -` (the regex of vars/main.yml, as Ansible's regex test uses it)."""
    pattern = yaml.safe_load(ROLE_VARS.read_text())["__rancher_server_kubectl_changed"]
    assert bool(re.search(pattern, stdout)) is changed
