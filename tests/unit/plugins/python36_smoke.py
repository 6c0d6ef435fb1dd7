# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exercise the collection's module_utils and print what they return, as JSON.

Run by tests/unit/plugins/test_python36.py twice, under Python 3.6 (what CentOS 7 and EL 8
hosts have) and under the controller's Python: both runs must print the same. Written for
Python 3.6 itself (no dataclasses, no walrus, no builtin generics).

Usage: python python36_smoke.py COLLECTIONS_DIR [MODULE ...]; each MODULE is one of
SCENARIOS; a module whose third-party library is missing (netaddr, cryptography) is reported
as {"missing": "<library>"} instead.
"""

import base64
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import warnings

warnings.simplefilter("ignore")  # cryptography warns that Python 3.6 is old


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def smoke_etcd(lib, work):
    members = (
        '{"header":{},"members":[{"ID":7383792418829112008,"name":"a","peerURLs":["http://127.0.0.1:42380"],'
        '"clientURLs":["http://127.0.0.1:42379"]},{"ID":16282631086353669233,"peerURLs":["http://127.0.0.1:42390"]}]}'
    )
    added = (
        '{"header":{},"member":{"ID":10382215354480629424,"peerURLs":["http://127.0.0.1:42391"]},'
        '"members":[{"ID":7383792418829112008,"name":"a","peerURLs":["http://127.0.0.1:42380"],'
        '"clientURLs":["http://127.0.0.1:42379"]},{"ID":10382215354480629424,"peerURLs":["http://127.0.0.1:42391"]}]}'
    )
    ctl = lib.Etcdctl("/usr/local/bin/etcdctl", ("http://127.0.0.1:42379",), "ca", "c", "k")
    calls = []

    def runner(cmd):
        calls.append(cmd[6:])
        return (0, added, "") if "add" in cmd else (0, members, "")

    check = lib.converge(ctl, runner, "present", name="b", peer_urls=["http://127.0.0.1:42391"], check_mode=True)
    real = lib.converge(ctl, runner, "present", name="b", peer_urls=["http://127.0.0.1:42391"])
    failure = None
    try:
        lib.converge(ctl, lambda cmd: (1, "", "Error: etcdserver: unhealthy cluster"), "list")
    except lib.EtcdctlFailed as exc:
        failure = str(exc)
    return {
        "check": check,
        "real": real,
        "calls": calls,
        "failure": failure,
        "absent": lib.plan_absent(lib.parse_members(members), "a", None)._asdict()["action"],
        "url_problems": lib.url_problems("peer_urls", ["http://x", "https://10.0.0.1:2380/p"]),
    }


def smoke_rancher(lib, work):
    responses = {
        ("POST", "/v3-public/localProviders/local?action=login"): [
            (401, "{}"), (201, '{"token": "t1", "id": "i"}'), (201, '{"token": "t2", "id": "j"}')],
        ("POST", "/v3/users?action=changepassword"): [(200, "{}")],
        ("GET", "/v3/settings/server-url"): [(200, '{"value": ""}')],
        ("PUT", "/v3/settings/server-url"): [(200, "{}")],
        ("GET", "/v3/settings/server-version"): [(200, '{"value": "v2.5.16"}')],
    }
    sent = []

    def transport(method, url, body, headers, timeout):
        path = url[len("https://rancher.test"):]
        sent.append([method, path, json.loads(body.decode()) if body else None])
        status, text = responses[(method, path)].pop(0)
        return status, text.encode()

    client = lib.Client("https://rancher.test", transport)
    result = lib.bootstrap(client, username="admin", password="new-password", bootstrap_password="admin",
                           server_url="https://rancher.test", token_ttl_ms=1000, token_description="d",
                           check_mode=False)
    node = lib.parse_node_command(
        "sudo docker run -d --privileged --restart=unless-stopped --net=host -v /etc/kubernetes:/etc/kubernetes "
        "rancher/rancher-agent:v2.5.16 --server https://rancher.test --token abc --ca-checksum 0123 --worker"
    )
    refused = None
    try:
        lib.check_compatibility("v2.5.16", "1.30.1")
    except lib.Refused as exc:
        refused = str(exc)
    return {
        "bootstrap": result.as_dict(),
        "sent": sent,
        "compatible": lib.check_compatibility("v2.5.16", "1.20.2"),
        "refused": refused,
        "node": node,
        "roles": lib.node_role_flags(["worker", "etcd"]),
        "legacy_image": lib.legacy_agent_image({"command": "sudo docker run rancher/agent:v1.2.11 http://x"}),
    }


def smoke_artifacts(lib, work):
    mirror = os.path.join(work, "mirror")
    binary = b"kubelet-binary"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("etcd-v3.4.23/etcd", b"e"), ("etcd-v3.4.23/etcdctl", b"c"), ("etcd-v3.4.23/README", b"r")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    tarball = buffer.getvalue()
    catalog = {
        "kubelet": {"version": "1.20.2", "url": "https://dl.k8s.io/release/v{version}/bin/linux/{arch}/kubelet",
                    "groups": ["k8s_cluster"]},
        "etcd": {"version": "3.4.23", "kind": "tarball", "members": ["etcd", "etcdctl"],
                 "url": "https://github.com/etcd-io/etcd/releases/download/v{version}/etcd-v{version}-linux-{arch}.tar.gz",
                 "groups": ["etcd"]},
    }
    overrides = {"kubelet": {"1.20.2": "sha256:" + _sha(binary)}, "etcd": {"3.4.23": _sha(tarball)}}
    hosts = {"n1": {"arch": "amd64", "groups": ["etcd", "k8s_cluster"]}}
    artifacts, needs = lib.plan(catalog, hosts, {}, overrides)
    for artifact, data in zip(artifacts, (tarball, binary)):
        path = os.path.join(mirror, lib.relative_path(artifact.url))
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as handle:
            handle.write(data)
    cache = os.path.join(work, "cache")
    mirror_url = "file://" + mirror
    # The module opens URLs with Ansible's open_url, which this interpreter need not have: urllib's.

    def opener(url, timeout):
        return urllib.request.urlopen(url, timeout=timeout)

    pending = [lib.fetch(a, cache, mirror_url, write=False, opener=opener).as_dict()["pending"] for a in artifacts]
    fetched = [lib.fetch(a, cache, mirror_url, opener=opener).as_dict() for a in artifacts]
    again = [lib.fetch(a, cache, mirror_url, opener=opener).as_dict() for a in artifacts]
    for result in fetched + again:
        result["path"] = os.path.relpath(result["path"], work)
        result["source"] = result["source"].replace(mirror_url, "MIRROR")
        for item in result["files"]:
            item["src"] = os.path.relpath(item["src"], work)
    out = {"needs": needs, "pending": pending, "fetched": fetched,
           "again": [[r["downloaded"], r["extracted"]] for r in again]}
    # The tarball's bytes differ between Python versions (gzip's time, tar header details): not its sum.
    return json.loads(json.dumps(out).replace(_sha(tarball), "<sha256 of the tarball>"))


def smoke_docker_daemon(lib, work):
    settings = {"registry_mirrors": ["https://mirror.test"], "cgroup_driver": "systemd", "log_driver": "json-file",
                "log_opts": {"max-size": "100m"}, "data_root": "/appdata/docker", "live_restore": True,
                "install_method": "legacy", "version": "1.12.6", "os_family": "RedHat", "major": 7,
                "legacy_location": "", "extra_flags": ["--graph=/x"]}
    return {
        "config_1_12": lib.daemon_config(settings, "1.12.6"),
        "config_24": lib.daemon_config(settings, "24.0.7"),
        "packages": [lib.packages("ce", "RedHat", 7, "17.03.2"), lib.packages("ce", "Debian", 12, "24.0.7"),
                     lib.packages("legacy", "RedHat", 7, "1.12.6", "/srv/rpms")],
        "problems": lib.problems(settings),
        "flags": lib.dockerd_flags(lib.builtin_flags("distro", "RedHat", "1.13.1"), ["--debug"], {}),
    }


def smoke_kubernetes(lib, work):
    settings = {"version": "1.20.2", "advertise_address": "10.0.0.1", "secure_port": 6443,
                "etcd_servers": ["https://10.0.0.1:2379"], "service_cidr": "10.96.0.0/12",
                "node_port_range": "30000-32767", "cluster_domain": "cluster.local", "audit_log_path": "/var/log/a",
                "audit_log_maxage": 30, "audit_log_maxbackup": 10, "audit_log_maxsize": 100,
                "extra_args": {"v": 2, "profiling": None}}
    node = {"version": "1.35.0", "node_name": "n1", "node_ip": "10.0.0.1", "container_runtime": "containerd",
            "pause_image": "pause", "cgroup_driver": "systemd", "cluster_dns": "10.96.0.10",
            "cluster_domain": "cluster.local", "rotate_server_certificates": False, "fail_swap_on": True,
            "max_pods": 110, "register_with_taints": [{"key": "k", "effect": "NoSchedule"}]}
    return {"apiserver": lib.apiserver_args(settings), "kubelet": lib.kubelet_args(node),
            "kubelet_config": lib.kubelet_config(node)}


def smoke_pod_network(lib, work):
    nodes = {"n1": {"node_ip": "10.0.0.1"}, "n2": {"node_ip": "10.0.0.2", "pod_cidr": "10.244.0.0/24"},
             "n3": {"node_ip": "10.0.0.3"}}
    cidrs = lib.assign_pod_cidrs(nodes, "10.244.0.0/16", 24)
    return {"cidrs": cidrs, "routes": lib.routes_for("n1", nodes, cidrs)}


def smoke_preflight(lib, work):
    host = {"os_family": "RedHat", "distribution": "CentOS", "distribution_major_version": "7",
            "node_network": "10.0.0.0/24"}
    spec = {
        "settings": {"cluster_name": "corral", "cluster_kubernetes_version": "1.20.2", "cluster_domain": "cluster.local",
                     "cluster_container_runtime": "containerd", "cluster_network_plugin": "bridge",
                     "cluster_pod_cidr": "10.0.0.0/16", "cluster_service_cidr": "10.96.0.0/12",
                     "cluster_pod_node_prefix": 24, "cluster_dns_ip": "10.96.0.1"},
        "groups": {"etcd": ["a", "b"], "kube_control_plane": ["a"], "kube_node": ["b"], "k8s_cluster": ["a", "b"]},
        "hosts": {"a": dict(host, node_name="A_1", node_ip="10.0.0.1"), "b": dict(host, node_name="b", node_ip="10.0.0.1")},
    }
    flannel = {"flannel_store": "etcd", "flannel_backend": "vxlan", "flannel_vxlan_vni": "1", "flannel_vxlan_port": 8472,
               "flannel_vxlan_direct_routing": False, "flannel_ip_masq": True, "flannel_allow_reconfigure": False,
               "flannel_mtu": 0, "flannel_iface": "", "flannel_etcd_prefix": "/coreos.com/network"}
    coredns = {"coredns_version": "1.13.2", "cluster_kubernetes_version": "1.20.2", "coredns_image": "Bad image",
               "coredns_replicas": 2, "coredns_cache_ttl": 30, "coredns_memory_limit": "170Mi",
               "coredns_cpu_request": "100m", "coredns_memory_request": "70Mi",
               "coredns_upstream_nameservers": ["10.96.0.10", "x"], "cluster_dns_ip": "10.96.0.10"}
    return {"problems": lib.validate(spec), "supported": lib.supported_os_description(),
            "flannel": lib.check_flannel(flannel, {"a": {"store": "etcd", "backend": "vxlan"},
                                                   "b": {"store": "kubernetes", "backend": "host-gw"}}),
            "flannel_bad": lib.check_flannel(dict(flannel, flannel_mtu=100, flannel_etcd_prefix="x/")),
            "coredns": lib.check_coredns(coredns)}


def smoke_pki(lib, work):
    inventory = {"groups": {"etcd": ["n1"], "kube_control_plane": ["n1"], "kube_node": ["n1", "n2"]},
                 "hosts": {"n1": {"node_ip": "10.0.0.1"}, "n2": {"node_ip": "10.0.0.2", "node_name": "worker"}},
                 "settings": {"cluster_service_cidr": "10.96.0.0/12", "cluster_domain": "cluster.local",
                              "flannel_store": "etcd"}}
    plan = lib.certificate_plan(inventory)
    options = lib.Options(key_type="ecdsa")
    root = os.path.join(work, "pki")
    check = lib.reconcile(root, plan, options, write=False)
    first = lib.reconcile(root, plan, options)
    os.chmod(os.path.join(root, "admin.key"), 0o644)
    second = lib.reconcile(root, plan, options)
    modes = sorted({oct(os.stat(os.path.join(d, f)).st_mode & 0o777) for d, _dirs, fs in os.walk(root) for f in fs})
    key = base64.b64decode(open(os.path.join(root, "secrets-encryption.key"), "rb").read())
    return {
        "plan": [spec.as_dict() for spec in plan],
        "check_created": sorted(check.created),
        "created": sorted(first.created),
        "second": [second.changed, second.permissions_fixed],
        "third_changed": lib.reconcile(root, plan, options).changed,
        "modes": modes,
        "secret_bytes": len(key),
        "expiry": [[row.file, row.common_name, row.days_left] for row in lib.expiry_report(root)],
    }


def smoke_kernel(lib, work):
    proc = {"/proc/sys/net/ipv4/ip_forward": "0\n", "/proc/sys/net/ipv4/ip_local_port_range": "1024\t65000\n",
            "/proc/sys/net/ipv4/conf/eth0.100/forwarding": "1\n"}
    settings = {"net.ipv4.ip_forward": True, "net.ipv4.ip_local_port_range": "1024 65000",
                "net/ipv4/conf/eth0.100/forwarding": "on", "vm.missing": 1}
    return {"load": lib.modules_to_load(["br_netfilter", "overlay", "ip_vs"], {"br_netfilter": "/proc/sys/net/bridge"},
                                        lambda path: path in ("/sys/module/overlay", "/proc/sys/net/bridge")),
            "set": lib.parameters_to_set(settings, proc.get),
            "file": lib.sysctl_file_content(settings)}


SCENARIOS = {
    "etcd": (smoke_etcd, None),
    "rancher": (smoke_rancher, None),
    "artifacts": (smoke_artifacts, None),
    "docker_daemon": (smoke_docker_daemon, None),
    "kubernetes": (smoke_kubernetes, None),
    "kernel": (smoke_kernel, None),
    "pod_network": (smoke_pod_network, "netaddr"),
    "preflight": (smoke_preflight, "netaddr"),
    "pki": (smoke_pki, "cryptography"),
}


def main(argv):
    sys.path.insert(0, argv[1])
    import importlib

    names = argv[2:] or sorted(SCENARIOS)
    out = {"python": list(sys.version_info[:2])}
    for name in names:
        function, library = SCENARIOS[name]
        if library:
            try:
                importlib.import_module(library)
            except ImportError:
                out[name] = {"missing": library}
                continue
        lib = importlib.import_module("ansible_collections.corral.cluster.plugins.module_utils." + name)
        work = tempfile.mkdtemp()
        try:
            out[name] = function(lib, work)
        finally:
            shutil.rmtree(work)
    print(json.dumps(out, sort_keys=True, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv)
