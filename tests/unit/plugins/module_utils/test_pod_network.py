"""Pod subnets of the nodes and the routes between them (module_utils/pod_network.py)."""

from __future__ import annotations

import pytest

from ansible_collections.corral.cluster.plugins.module_utils.pod_network import (
    PodNetworkError,
    assign_pod_cidrs,
    routes_for,
)

NODES = {
    "node1": {"node_ip": "192.168.56.11"},
    "node2": {"node_ip": "192.168.56.12"},
    "node3": {"node_ip": "192.168.56.13"},
}


def test_subnets_follow_the_inventory_order() -> None:
    assert assign_pod_cidrs(NODES, "10.244.0.0/16", 24) == {
        "node1": "10.244.0.0/24", "node2": "10.244.1.0/24", "node3": "10.244.2.0/24"}


def test_appending_a_node_moves_no_existing_node() -> None:
    before = assign_pod_cidrs(NODES, "10.244.0.0/16", 24)
    after = assign_pod_cidrs({**NODES, "node4": {"node_ip": "192.168.56.14"}}, "10.244.0.0/16", 24)
    assert {host: after[host] for host in before} == before and after["node4"] == "10.244.3.0/24"


def test_a_pinned_subnet_is_kept_and_skipped_by_the_others() -> None:
    nodes = {**NODES, "node2": {"node_ip": "192.168.56.12", "pod_cidr": "10.244.0.0/24"}}
    assert assign_pod_cidrs(nodes, "10.244.0.0/16", 24) == {
        "node1": "10.244.1.0/24", "node2": "10.244.0.0/24", "node3": "10.244.2.0/24"}


@pytest.mark.parametrize(
    "pin, message",
    [
        ("10.245.0.0/24", "must be a /24 subnet of cluster_pod_cidr 10.244.0.0/16"),
        ("10.244.0.0/25", "must be a /24 subnet"),
        ("10.244.0.5/24", "must be a /24 subnet"),
    ],
)
def test_a_bad_pin_is_refused_with_the_host_named(pin: str, message: str) -> None:
    with pytest.raises(PodNetworkError, match=f"node3: node_pod_cidr {pin} {message}"):
        assign_pod_cidrs({**NODES, "node3": {"node_ip": "x", "pod_cidr": pin}}, "10.244.0.0/16", 24)


def test_two_hosts_pinning_one_subnet_are_refused() -> None:
    nodes = {"a": {"pod_cidr": "10.244.5.0/24"}, "b": {"pod_cidr": "10.244.5.0/24"}}
    with pytest.raises(PodNetworkError, match="b: node_pod_cidr 10.244.5.0/24 is also pinned by a"):
        assign_pod_cidrs(nodes, "10.244.0.0/16", 24)


def test_a_full_pod_network_says_how_many_nodes_fit() -> None:
    with pytest.raises(PodNetworkError, match="room for 2 nodes of /24: 3 need one"):
        assign_pod_cidrs(NODES, "10.244.0.0/23", 24)


def test_each_node_routes_the_others_subnets_via_their_addresses() -> None:
    cidrs = assign_pod_cidrs(NODES, "10.244.0.0/16", 24)
    assert routes_for("node2", NODES, cidrs) == [
        {"dest": "10.244.0.0/24", "via": "192.168.56.11"},
        {"dest": "10.244.2.0/24", "via": "192.168.56.13"},
    ]
