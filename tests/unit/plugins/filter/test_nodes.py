from ansible_collections.corral.cluster.plugins.filter.nodes import etcd_initial_cluster, https_urls, node_identities


def test_node_identities_follow_the_preflight_facts_in_input_order():
    hostvars = {
        "b": {"cluster_node_name": "worker-b", "cluster_node_ip": "192.168.56.12"},
        "a": {"cluster_node_name": "a", "cluster_node_ip": "192.168.56.11"},
    }
    assert list(node_identities(["b", "a"], hostvars).items()) == [
        ("b", {"node_name": "worker-b", "node_ip": "192.168.56.12"}),
        ("a", {"node_name": "a", "node_ip": "192.168.56.11"}),
    ]


def test_a_host_without_preflight_facts_gets_empty_values():
    assert node_identities(["x"], {"x": {}}) == {"x": {"node_name": "", "node_ip": ""}}
    assert node_identities(["y"], {}) == {"y": {"node_name": "", "node_ip": ""}}


IDENTITIES = {
    "node1": {"node_name": "node1", "node_ip": "192.168.56.11"},
    "node2": {"node_name": "etcd-b", "node_ip": "192.168.56.12"},
}


def test_https_urls_use_the_node_addresses():
    assert https_urls(IDENTITIES, 2379) == ["https://192.168.56.11:2379", "https://192.168.56.12:2379"]


def test_etcd_initial_cluster_names_members_by_node_name():
    assert etcd_initial_cluster(IDENTITIES, 2380) == (
        "node1=https://192.168.56.11:2380,etcd-b=https://192.168.56.12:2380")
