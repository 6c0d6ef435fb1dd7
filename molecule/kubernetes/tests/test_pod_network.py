"""flannel as the pod network of the real cluster: its devices, routes and subnets on every node,
traffic between the nodes really encapsulated (vxlan) or really routed (host-gw), pods reaching
each other across every pair of nodes, and a change of the running backend or store refused before
anything changes.

The kubernetes scenario runs vxlan with the etcd store, kubernetes_ha host-gw with the Kubernetes
subnet manager (the molecule.yml of each); test_cluster.py proves ClusterIP and NodePort on the same
network. Skipped where the scenario runs another pod network."""

import base64
import ipaddress
import json
import re

import pytest

from conftest import SETTINGS, pod_sh, run_site
from test_cluster import ADDRESS, NODES, group, kubectl, node

pytestmark = pytest.mark.skipif(SETTINGS.get("cluster_network_plugin", "bridge") != "flannel",
                                reason="the scenario runs another pod network")
BACKEND = SETTINGS.get("flannel_backend", "vxlan")
STORE = SETTINGS.get("flannel_store", "etcd")
POD_CIDR = ipaddress.ip_network(SETTINGS.get("cluster_pod_cidr", "10.244.0.0/16"))
ETCD_PKI = "/etc/etcd/pki"
PAYLOAD = 2 * 1024 * 1024


def subnet_env(name):
    text = node(name).file("/run/flannel/subnet.env").content_string
    return dict(line.split("=", 1) for line in text.split())


def node_subnet(name):
    return ipaddress.ip_interface(subnet_env(name)["FLANNEL_SUBNET"]).network


def test_flanneld_runs_on_every_node_with_its_own_subnet_of_the_pod_network():
    subnets = {}
    for name in NODES:
        assert node(name).service("flanneld").is_running, name
        assert node(name).service("flanneld").is_enabled, name
        env = subnet_env(name)
        assert ipaddress.ip_network(env["FLANNEL_NETWORK"]) == POD_CIDR
        assert env["FLANNEL_IPMASQ"] == "true"
        subnets[name] = node_subnet(name)
        assert subnets[name].subnet_of(POD_CIDR) and subnets[name].prefixlen == 24, name
    assert len(set(subnets.values())) == len(NODES), subnets


@pytest.mark.skipif(STORE != "etcd", reason="the scenario keeps the leases in the Kubernetes API")
def test_each_subnet_env_matches_its_lease_in_etcd():
    member = sorted(group("etcd"))[0]
    out = node(member).check_output(
        f"ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints=https://127.0.0.1:2379 --cacert={ETCD_PKI}/ca.crt "
        f"--cert={ETCD_PKI}/healthcheck-client.crt --key={ETCD_PKI}/healthcheck-client.key "
        "get --prefix /coreos.com/network/subnets/ -w json")
    leases = {}
    for kv in json.loads(out).get("kvs", []):
        key = base64.b64decode(kv["key"]).decode()
        lease = json.loads(base64.b64decode(kv["value"]))
        assert lease["BackendType"] == BACKEND, key
        leases[lease["PublicIP"]] = ipaddress.ip_network(key.rsplit("/", 1)[1].replace("-", "/"))
    for name in NODES:
        assert leases.get(ADDRESS[name]) == node_subnet(name), (name, leases)


@pytest.mark.skipif(STORE != "kubernetes", reason="the scenario keeps the leases in etcd")
def test_each_subnet_env_is_its_nodes_pod_cidr():
    for name in NODES:
        item = json.loads(kubectl("get", "node", name, "-o", "json").stdout)
        assert ipaddress.ip_network(item["spec"]["podCIDR"]) == node_subnet(name), name
        annotations = item["metadata"]["annotations"]
        assert annotations["flannel.alpha.coreos.com/backend-type"] == BACKEND, name
        assert annotations["flannel.alpha.coreos.com/public-ip"] == ADDRESS[name], name


def test_pods_reach_each_other_across_every_pair_of_nodes(everywhere):
    for client_node, (client, _ip) in everywhere.items():
        for target_node, (target, target_ip) in everywhere.items():
            _rc, answer = pod_sh(client, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {target_ip} 8080 | tail -1")
            assert answer == f"hello from {target}", f"{client_node} -> {target_node}"


@pytest.mark.skipif(BACKEND != "vxlan", reason="host-gw has no vxlan device")
def test_vxlan_device_on_every_node_with_mtu_50_below_the_nodes():
    for name in NODES:
        link = node(name).check_output("ip -d link show flannel.1")
        assert re.search(r"vxlan id 1 .*dstport 8472", link), link
        assert " mtu 1450 " in link, link
        assert subnet_env(name)["FLANNEL_MTU"] == "1450"


def flannel_bytes(name, direction):
    return int(node(name).check_output(f"cat /sys/class/net/flannel.1/statistics/{direction}_bytes"))


@pytest.mark.skipif(BACKEND != "vxlan", reason="host-gw does not encapsulate")
def test_traffic_between_nodes_is_encapsulated_in_vxlan(everywhere):
    """2 MiB from a pod on one node to a pod on another: the flannel.1 counters of both nodes grow by as much."""
    server_node, client_node = NODES[0], NODES[-1]
    (server, server_ip), (client, _ip) = everywhere[server_node], everywhere[client_node]
    pod_sh(server, f"dd if=/dev/zero of=/www/big bs=1024 count={PAYLOAD // 1024}", check=True)
    before = flannel_bytes(server_node, "tx"), flannel_bytes(client_node, "rx")
    _rc, received = pod_sh(client, f"printf 'GET /big HTTP/1.0\\r\\n\\r\\n' | nc -w 10 {server_ip} 8080 | wc -c")
    after = flannel_bytes(server_node, "tx"), flannel_bytes(client_node, "rx")
    assert int(received) > PAYLOAD
    assert after[0] - before[0] >= PAYLOAD, (server_node, before, after)
    assert after[1] - before[1] >= PAYLOAD, (client_node, before, after)


@pytest.mark.skipif(BACKEND != "host-gw", reason="vxlan routes through flannel.1")
def test_host_gw_routes_every_other_nodes_subnet_via_its_address_and_has_no_vxlan_device():
    subnets = {name: node_subnet(name) for name in NODES}
    for name in NODES:
        routes = node(name).check_output("ip -4 route show")
        for other in NODES:
            if other != name:
                assert f"{subnets[other]} via {ADDRESS[other]} " in routes, (name, other, routes)
        assert node(name).run("ip link show flannel.1").rc != 0, name


def test_a_change_of_backend_or_store_is_refused_before_anything_changes():
    other = {"flannel_backend": "host-gw" if BACKEND == "vxlan" else "vxlan",
             "flannel_store": "kubernetes" if STORE == "etcd" else "etcd"}
    result = run_site(other)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Preflight found" in output, output
    problems = output[output.index("Preflight found"):]
    for word in (f"run flannel with the {BACKEND} backend and the {STORE} store",
                 f"flannel_backend to {other['flannel_backend']}", f"flannel_store to {other['flannel_store']}",
                 "pods restart", "flannel_allow_reconfigure: true"):
        assert word in problems, (word, problems)
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.M)
    assert recap and all(changed == "0" for _host, changed in recap), output
    for name in NODES:
        assert node(name).service("flanneld").is_running
        assert f'"Type": "{BACKEND}"' in node(name).file("/etc/flannel/net-conf.json").content_string
