"""The inventory tools/lab writes: the group model, and the Rancher host of --rancher."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
import lab  # noqa: E402

ADDRESSES = {"node1": "192.168.56.11", "node2": "192.168.56.12", "node3": "192.168.56.13",
             lab.RANCHER_HOST: "192.168.56.14"}


@pytest.fixture
def a_lab(tmp_path, monkeypatch):
    monkeypatch.setattr(lab, "STATE", tmp_path / "state")
    monkeypatch.setattr(lab, "MIRROR", tmp_path / "no-mirror")
    return lab.Lab("unit")


def written(a_lab, tmp_path, standin):
    path = a_lab.write_inventory(ADDRESSES, 1, "192.168.56.1", tmp_path / "hosts.yml", standin)
    return json.loads(path.read_text().split("\n", 1)[1])["all"]


def test_the_rancher_host_is_outside_the_cluster_and_runs_the_stand_in(a_lab, tmp_path):
    archive = tmp_path / "rancher-standin.tar"
    inventory = written(a_lab, tmp_path, archive)
    k8s = inventory["children"]["k8s_cluster"]["children"]
    assert set(k8s["kube_control_plane"]["hosts"]) == {"node1"}
    assert set(k8s["kube_node"]["hosts"]) == {"node2", "node3"}
    rancher = inventory["children"]["rancher_server"]["hosts"][lab.RANCHER_HOST]
    assert rancher["ansible_host"] == "192.168.56.14"
    assert (rancher["rancher_server_image"], rancher["rancher_server_tag"]) == ("corral.test/rancher-standin", "v2.5.16")
    assert rancher["docker_image_archives"] == [{"src": str(archive), "image": lab.RANCHER_STANDIN_SERVER}]
    assert len(rancher["rancher_server_admin_password"]) >= 12
    assert {"src": str(archive), "image": lab.RANCHER_STANDIN_CLUSTER_AGENT} in inventory["vars"]["node_image_archives"]


def test_the_rancher_passwords_survive_a_new_up(a_lab, tmp_path):
    """Rancher is bootstrapped once: a rewritten inventory must keep its passwords."""
    archive = tmp_path / "rancher-standin.tar"
    first = written(a_lab, tmp_path, archive)["children"]["rancher_server"]["hosts"][lab.RANCHER_HOST]
    again = written(a_lab, tmp_path, archive)["children"]["rancher_server"]["hosts"][lab.RANCHER_HOST]
    assert first["rancher_server_admin_password"] == again["rancher_server_admin_password"]
    for holder in (a_lab.dir / "rancher-passwords.json", tmp_path / "hosts.yml"):
        assert holder.stat().st_mode & 0o777 == 0o600, holder


def test_without_rancher_the_group_is_empty(a_lab, tmp_path):
    inventory = written(a_lab, tmp_path, None)
    assert inventory["children"]["rancher_server"]["hosts"] == {}
    assert not (a_lab.dir / "rancher-passwords.json").exists()


def test_a_lab_namespace_moves_names_and_subnets(monkeypatch):
    monkeypatch.setattr(lab, "LAB_NS", 3)
    assert lab.Lab("corral").name == "ns3-corral"
    assert lab.namespaced_subnet("192.168.65.0/24") == "192.168.125.0/24"
    with pytest.raises(SystemExit, match="CORRAL_LAB_NS=3"):
        lab.namespaced_subnet("192.168.250.0/24")
    monkeypatch.setattr(lab, "LAB_NS", 0)
    assert lab.Lab("corral").name == "corral"
    assert lab.namespaced_subnet("192.168.65.0/24") == "192.168.65.0/24"


def test_a_set_with_the_network_artifacts_deploys_them_and_the_coredns_image(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()

    def entry(version, path, **extra):
        return {"version": version, "path": path, "sha256": "ab" * 32, **extra}

    manifest = {
        "kube-apiserver": entry("1.36.4", "dl.k8s.io/kube-apiserver"),
        "flanneld": entry("0.28.10", "github.com/flannel-io/flannel/releases/download/v0.28.10/flanneld-amd64"),
        "flannel_cni_plugin": entry("0.9.1", "github.com/flannel-io/cni-plugin/x.tgz"),
        "pause_image": entry("3.10.2", "images/pause.tar", image="corral.test/pause:3.10.2"),
        "busybox_image": entry("1.35.0", "images/busybox.tar", image="corral.test/busybox:1.35.0"),
        "coredns_image": entry("1.13.2", "images/coredns-1.13.2.tar", image="corral.test/coredns/coredns:v1.13.2"),
    }
    (mirror / "artifacts.json").write_text(json.dumps({"sets": {"1.36": manifest}}))
    monkeypatch.setattr(lab, "MIRROR", mirror)
    settings = lab.artifact_settings("1.36")
    assert settings["artifacts_flanneld_version"] == "0.28.10"
    assert settings["artifacts_flannel_cni_plugin_version"] == "0.9.1"
    assert settings["artifacts_checksums"]["flanneld"] == {"0.28.10": "sha256:" + "ab" * 32}
    assert {"src": str(mirror / "images/coredns-1.13.2.tar"), "image": "corral.test/coredns/coredns:v1.13.2"} \
        in settings["node_image_archives"]
    # The coredns role's default image under the lab's registry is the archive's.
    assert settings["cluster_image_registry"] == "corral.test"


def test_kubelet_of_every_lab_node_resolves_through_the_nodes_relay_to_dockers_dns(a_lab, tmp_path):
    inventory = written(a_lab, tmp_path, None)
    assert inventory["vars"]["node_kubelet_extra_config"]["resolvConf"] == lab.LAB_DNS_RESOLV_CONF
    assert "127.0.0.11" in lab.LAB_DNS_RELAY_SCRIPT


def test_more_nodes_than_the_machines_inotify_limit_allows_are_refused_with_the_fix():
    assert lab.inotify_shortfall(3, 128) == ""
    assert lab.inotify_shortfall(10, None) == ""
    message = lab.inotify_shortfall(10, 128)
    assert message.startswith("10 lab nodes need about 192 inotify instances and this machine allows 128")
    assert "sysctl -w fs.inotify.max_user_instances=1024" in message
