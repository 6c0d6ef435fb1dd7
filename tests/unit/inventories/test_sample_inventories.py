"""The sample inventories users copy must pass the preflight checks as shipped."""

import netaddr
import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager

from ansible_collections.corral.cluster.plugins.module_utils.preflight import validate

from cluster_settings import ROOT, default_settings

SAMPLE = ROOT / "inventories" / "sample"


def sample_spec(inventory_file):
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(inventory_file)])
    variables = VariableManager(loader=loader, inventory=inventory)
    groups = {name: [h.name for h in group.get_hosts()] for name, group in inventory.groups.items()}
    first = inventory.get_host(groups["kube_control_plane"][0])
    host_vars = variables.get_vars(host=first)
    settings = {name: host_vars.get(name, default) for name, default in default_settings().items()}
    hosts = {}
    for host in inventory.get_hosts():
        address = variables.get_vars(host=host)["ansible_host"]
        hosts[host.name] = {
            "node_name": host.name, "node_ip": address, "os_family": "RedHat",
            "distribution": "CentOS", "distribution_major_version": "7",
            "node_network": str(netaddr.IPNetwork(f"{address}/24").cidr),
        }
    return {"settings": settings, "groups": groups, "hosts": hosts, "options": {}}


@pytest.mark.parametrize("inventory_file", ["hosts.yml", "hosts-ha.yml"])
def test_sample_inventory_passes_preflight(inventory_file):
    spec = sample_spec(SAMPLE / inventory_file)
    assert "cluster_pod_cidr" in (SAMPLE / "group_vars/all/cluster.yml").read_text()
    assert validate(spec) == []


def test_ha_sample_has_an_odd_etcd_on_the_control_plane():
    spec = sample_spec(SAMPLE / "hosts-ha.yml")
    assert spec["groups"]["etcd"] == spec["groups"]["kube_control_plane"]
    assert len(spec["groups"]["etcd"]) == 3
    assert set(spec["groups"]["k8s_cluster"]) == {"master1", "master2", "master3", "node1", "node2", "node3"}
