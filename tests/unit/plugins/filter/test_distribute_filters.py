"""The certificate and kubeconfig lists that the roles hand to distribute_files."""

import yaml

from ansible_collections.corral.cluster.plugins.filter.distribute import kubeconfig_files, pki_files, pki_renewal_problem


def test_pki_files_join_the_pki_dir_and_the_destination_directory():
    items = [{"src": "ca.crt", "mode": "0644"},
             {"src": "etcd/server-n1.key", "dest": "/etc/etcd/pki/server.key", "mode": "0600", "owner": "etcd",
              "group": "etcd", "services": ["etcd"]}]
    assert pki_files(items, "/srv/pki", "/etc/kubernetes/pki") == [
        {"src": "/srv/pki/ca.crt", "dest": "/etc/kubernetes/pki/ca.crt", "mode": "0644"},
        {"src": "/srv/pki/etcd/server-n1.key", "dest": "/etc/etcd/pki/server.key", "mode": "0600", "owner": "etcd",
         "group": "etcd", "services": ["etcd"]},
    ]


def test_kubeconfig_files_embed_the_identity_or_wait_for_the_key_the_pki_would_issue(tmp_path):
    for name in ("ca.crt", "kube-proxy.crt", "kube-proxy.key", "kubelet-n1.crt"):
        (tmp_path / name).write_text(name)
    items = [{"file": "kube-proxy.conf", "cert": "kube-proxy", "user": "system:kube-proxy", "services": ["kube-proxy"]},
             {"file": "kubelet.conf", "cert": "kubelet-n1", "user": "system:node:n1", "server": "https://lb:6443",
              "services": ["kubelet"]}]
    proxy, kubelet = kubeconfig_files(items, "lab", "https://127.0.0.1:6444", str(tmp_path), "/etc/kubernetes")
    assert proxy["dest"] == "/etc/kubernetes/kube-proxy.conf" and proxy["mode"] == "0600"
    assert proxy["services"] == ["kube-proxy"]  # restarted when the file changes (distribute_files' services)
    config = yaml.safe_load(proxy["content"])
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6444"
    assert config["current-context"] == "system:kube-proxy@lab"
    # kubelet-n1.key is not issued yet (check mode on a new cluster): reported, never read.
    assert kubelet == {"dest": "/etc/kubernetes/kubelet.conf", "pending": str(tmp_path / "kubelet-n1.key"),
                       "mode": "0600", "services": ["kubelet"]}


def test_pki_renewal_problem_accepts_empty_and_past_times_and_names_the_variable_otherwise():
    assert pki_renewal_problem("") == ""
    assert pki_renewal_problem("2026-01-01T00:00:00Z") == ""
    assert pki_renewal_problem("soon").startswith("pki_renew_issued_before: 'soon' is not a time in UTC")
    assert "is in the future" in pki_renewal_problem("2999-01-01")
