"""Unit tests of the cluster_preflight action plugin: the spec it builds and the result it returns."""

from __future__ import annotations

from typing import Any
from unittest.mock import MagicMock

import pytest
import yaml

from ansible_collections.corral.cluster.plugins.action.cluster_preflight import ActionModule, build_spec, node_network
from ansible.errors import AnsibleActionFail
from ansible_collections.corral.cluster.plugins.module_utils.preflight import SETTINGS as PREFLIGHT_SETTINGS
from cluster_settings import ROOT, default_settings

SETTINGS = default_settings()


def facts(address: str, interface: str = "eth0") -> dict[str, Any]:
    """The parts of ansible_facts (subsets min and network) the plugin reads."""
    return {
        "os_family": "RedHat",
        "distribution": "Rocky",
        "distribution_major_version": "9",
        "interfaces": ["lo", interface],
        "lo": {"ipv4": {"address": "127.0.0.1", "netmask": "255.0.0.0"}},
        interface.replace("-", "_"): {"ipv4": {"address": address, "netmask": "255.255.255.0"}},
    }


GROUPS = {
    "all": ["k8s-1", "k8s-2", "bastion"],
    "etcd": ["k8s-1"],
    "kube_control_plane": ["k8s-1"],
    "kube_node": ["k8s-2"],
    "k8s_cluster": ["k8s-1", "k8s-2"],
    "ungrouped": ["bastion"],
}
HOSTVARS = {
    "k8s-1": {"cluster_node_name": "k8s-1", "cluster_node_ip": "192.168.1.11", "ansible_facts": facts("192.168.1.11")},
    "k8s-2": {
        "cluster_node_name": "k8s-2",
        "cluster_node_ip": "192.168.1.12",
        "ansible_facts": facts("192.168.1.12", "br-lan"),
    },
    "bastion": {},
}


class Templar:
    """The play's templar, for values that are no templates: each as it is."""

    @staticmethod
    def template(value: Any) -> Any:
        return value


def action(args: dict[str, Any] | None = None) -> ActionModule:
    task = MagicMock(args=args or {}, async_val=0, check_mode=False)
    return ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=Templar())


def test_build_spec_reads_groups_settings_and_host_facts() -> None:
    spec = build_spec({"required_groups": ["etcd"], "etcd_allow_even_members": True}, SETTINGS, GROUPS, HOSTVARS)
    assert spec["settings"] == SETTINGS
    assert spec["options"] == {"required_groups": ["etcd"], "etcd_allow_even_members": True, "limited_to": None}
    assert spec["groups"]["rancher_server"] == []
    assert "ungrouped" not in spec["groups"]
    assert set(spec["hosts"]) == {"k8s-1", "k8s-2"}
    # The interface name br-lan is br_lan among the facts.
    assert spec["hosts"]["k8s-2"]["node_network"] == "192.168.1.0/24"
    assert spec["hosts"]["k8s-2"]["distribution"] == "Rocky"


def test_a_limited_run_passes_the_hosts_it_reaches() -> None:
    spec = build_spec({"required_groups": [], "etcd_allow_even_members": False}, SETTINGS, GROUPS, HOSTVARS,
                      ("k8s-2",))
    assert spec["options"]["limited_to"] == ["k8s-2"]


def test_host_without_facts_is_left_out_of_the_spec() -> None:
    hostvars = {**HOSTVARS, "k8s-2": {"cluster_node_name": "k8s-2"}}
    spec = build_spec({"required_groups": [], "etcd_allow_even_members": False}, SETTINGS, GROUPS, hostvars)
    assert set(spec["hosts"]) == {"k8s-1"}


@pytest.mark.parametrize(
    ("node_ip", "expected"),
    [("10.0.0.5", "10.0.0.0/16"), ("192.168.7.9", "192.168.7.0/24"), ("172.16.0.1", None), (None, None)],
)
def test_node_network_finds_primary_and_secondary_addresses(node_ip: str | None, expected: str | None) -> None:
    host_facts = {
        "interfaces": ["eth0"],
        "eth0": {
            "ipv4": {"address": "10.0.0.5", "netmask": "255.255.0.0"},
            "ipv4_secondaries": [{"address": "192.168.7.9", "netmask": "255.255.255.0"}],
        },
    }
    assert node_network(host_facts, node_ip) == expected


def test_run_passes_and_sets_the_fact() -> None:
    result = action().run(task_vars={**SETTINGS, "groups": GROUPS, "hostvars": HOSTVARS})
    assert not result.get("failed")
    assert result["changed"] is False
    # The pod subnets are assigned once, here, in inventory order, for the roles.
    assert result["ansible_facts"] == {"cluster_preflight_passed": True,
                                       "cluster_pod_cidrs": {"k8s-1": "10.244.0.0/24", "k8s-2": "10.244.1.0/24"}}
    assert "Preflight passed for 2 host(s)" in result["msg"]


def test_run_fails_listing_every_problem() -> None:
    settings = {**SETTINGS, "cluster_kubernetes_version": "v1.35.8", "cluster_dns_ip": "10.96.0.1"}
    result = action().run(task_vars={**settings, "groups": GROUPS, "hostvars": HOSTVARS})
    assert result["failed"] is True
    assert "ansible_facts" not in result
    assert len(result["problems"]) == 2
    assert result["msg"].startswith("Preflight found 2 problem(s):\n - cluster_kubernetes_version 'v1.35.8'")
    assert "\n - cluster_dns_ip 10.96.0.1" in result["msg"]


def test_run_names_an_undefined_setting_and_where_it_is_documented() -> None:
    settings = {name: value for name, value in SETTINGS.items() if name != "cluster_image_registry"}
    with pytest.raises(AnsibleActionFail, match=r"^cluster_image_registry undefined: set them in the inventory "
                                                r"\(the settings of the role corral.cluster.cluster, "
                                                r"roles/cluster/meta/argument_specs.yml\)"):
        action().run(task_vars={**settings, "groups": GROUPS, "hostvars": HOSTVARS})


def test_the_settings_it_checks_are_the_cluster_roles() -> None:
    """Each checked setting is an option of the cluster role's argument spec (defined there, not here)."""
    spec = yaml.safe_load((ROOT / "roles" / "cluster" / "meta" / "argument_specs.yml").read_text())
    assert set(PREFLIGHT_SETTINGS) <= set(spec["argument_specs"]["main"]["options"])
