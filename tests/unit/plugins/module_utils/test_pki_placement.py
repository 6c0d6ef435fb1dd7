"""The PKI plan and where the hosts keep its files (HOST_FILES, KUBECONFIGS) say the same: every host gets
exactly the files the plan issues for it, through the roles that run on it, and nothing else."""

from typing import Dict, Set

import pytest

from ansible_collections.corral.cluster.plugins.module_utils import pki

# The readers of each role, by the group whose hosts run it (the roles' vars and tasks call them so).
READERS = {"etcd": ("etcd",), "kube_control_plane": ("control-plane",), "k8s_cluster": ("node", "kubelet-server")}
FLANNEL_READERS = {"etcd": ("flannel-etcd",), "kubernetes": ("flannel-kubernetes",)}


def inventory(flannel_store: str) -> dict:
    groups = {"etcd": ["e1", "cp1"], "kube_control_plane": ["cp1"], "kube_node": ["w1", "w2"],
              "k8s_cluster": ["cp1", "w1", "w2"]}
    hosts = {host: {"node_name": f"n-{host}", "node_ip": f"10.0.0.{index}"}
             for index, host in enumerate(["e1", "cp1", "w1", "w2"], start=1)}
    return {"groups": groups, "hosts": hosts,
            "settings": {"cluster_service_cidr": "10.96.0.0/12", "cluster_domain": "cluster.local",
                         "flannel_store": flannel_store}}


def received(inv: dict, flannel_store: str) -> Dict[str, Set[str]]:
    """host -> the plan's files its roles put on it (copied, or embedded in a kubeconfig: cert and key)."""
    out: Dict[str, Set[str]] = {host: set() for host in inv["hosts"]}
    readers = dict(READERS)
    if flannel_store:
        readers["k8s_cluster"] = readers["k8s_cluster"] + FLANNEL_READERS[flannel_store]
    for group, names in readers.items():
        for host in inv["groups"][group]:
            node = inv["hosts"][host]["node_name"]
            for reader in names:
                if reader in pki.HOST_FILES:
                    out[host] |= {item["src"] for item in pki.host_files(reader, node)}
                if reader in pki.KUBECONFIGS:
                    out[host] |= {f"{item['cert']}.{ext}" for item in pki.host_kubeconfigs(reader, node)
                                  for ext in ("crt", "key")}
                out[host] |= set(pki.EMBEDDED.get(reader, ()))
    return out


def planned(inv: dict) -> Dict[str, Set[str]]:
    """host -> the files the plan issues for it (its hosts: the certificate; its key_hosts: the key)."""
    out: Dict[str, Set[str]] = {host: set() for host in inv["hosts"]}
    for spec in pki.certificate_plan(inv):
        for host in spec.hosts:
            out[host].add(spec.cert_file)
        for host in spec.key_hosts:
            out[host].add(spec.key_file)
    return out


@pytest.mark.parametrize("flannel_store", ["", "etcd", "kubernetes"])
def test_every_host_gets_exactly_the_files_the_plan_issues_for_it(flannel_store):
    inv = inventory(flannel_store)
    assert received(inv, flannel_store) == planned(inv)


def test_of_the_ca_keys_only_the_cluster_ca_key_leaves_the_controller_for_the_control_plane():
    inv = inventory("")
    cas = {spec.name: spec.key_hosts for spec in pki.certificate_plan(inv) if spec.profile == "ca"}
    assert cas == {"ca": ("cp1",), "etcd/ca": (), "front-proxy-ca": ()}
    assert [host for host, files in received(inv, "").items() if "ca.key" in files] == ["cp1"]


def test_files_are_named_for_the_host_with_modes_by_kind():
    assert pki.host_files("kubelet-server", "n1") == [
        {"src": "kubelet-server-n1.crt", "name": "kubelet-server.crt", "mode": "0644"},
        {"src": "kubelet-server-n1.key", "name": "kubelet-server.key", "mode": "0600"}]
    with pytest.raises(ValueError, match="reads no files of the cluster PKI"):
        pki.host_files("kube-scheduler", "n1")


def test_a_kubeconfig_user_is_its_certificate_common_name_in_the_plan():
    inv = inventory("kubernetes")
    names = {spec.name: spec.common_name for spec in pki.certificate_plan(inv) if spec.profile == "client"}
    for cert, user in names.items():
        if not cert.startswith(("apiserver-", "front-proxy-", "etcd/")):
            assert pki.kubeconfig_user(cert) == user, cert
    assert pki.host_kubeconfigs("node", "w-1")[0] == {"file": "kubelet.conf", "cert": "kubelet-w-1",
                                                      "user": "system:node:w-1", "services": ["kubelet"]}
    with pytest.raises(ValueError, match="no client certificate"):
        pki.kubeconfig_user("apiserver")
