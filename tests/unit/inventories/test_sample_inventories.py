"""The sample inventories users copy must pass the preflight checks as shipped."""

from pathlib import Path

import netaddr
import pytest
import yaml
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.vars.manager import VariableManager

from ansible_collections.corral.cluster.plugins.module_utils.preflight import validate

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "inventories" / "sample"
SETTING_NAMES = yaml.safe_load((ROOT / "roles/cluster/defaults/main.yml").read_text()).keys()


def sample_spec(inventory_file):
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[str(inventory_file)])
    variables = VariableManager(loader=loader, inventory=inventory)
    groups = {name: [h.name for h in group.get_hosts()] for name, group in inventory.groups.items()}
    first = inventory.get_host(groups["kube_control_plane"][0])
    host_vars = variables.get_vars(host=first)
    settings = {name: host_vars[name] for name in SETTING_NAMES if name in host_vars}
    settings.setdefault("cluster_dns_ip", str(netaddr.IPNetwork(settings["cluster_service_cidr"])[10]))
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
    assert spec["settings"]["cluster_pod_cidr"] == "10.244.0.0/16"  # read from group_vars
    assert validate(spec) == []


def test_ha_sample_has_an_odd_etcd_on_the_control_plane():
    spec = sample_spec(SAMPLE / "hosts-ha.yml")
    assert spec["groups"]["etcd"] == spec["groups"]["kube_control_plane"]
    assert len(spec["groups"]["etcd"]) == 3
    assert set(spec["groups"]["k8s_cluster"]) == {"master1", "master2", "master3", "node1", "node2", "node3"}
