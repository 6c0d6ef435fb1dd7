"""What an operator would check on a prepared node (the prepare role, through site.yml), asserted
on the node itself: every Kubernetes node of the kubernetes scenario. kubernetes_ha runs the same
role on the same Debian nodes: there it would repeat this proof (about 40 testinfra checks, some
half a minute of CI), so it skips this module."""

import json
import os
from pathlib import Path

import pytest

from test_cluster import INVENTORY, NODES

pytestmark = pytest.mark.skipif(os.environ.get("MOLECULE_SCENARIO_NAME") != "kubernetes",
                                reason="the kubernetes scenario proves host preparation (the same role and OS)")
testinfra_hosts = [f"ansible://{name}?ansible_inventory={INVENTORY}" for name in NODES]
SYSCTL_FILE = "/etc/sysctl.d/90-corral-kubernetes.conf"


@pytest.fixture
def inventory(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def lab_addresses():
    """Every lab node's address, from the inventory the lab wrote."""
    lab = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory", "lab.yml")
    addresses = {}

    def walk(group):
        for name, hostvars in (group.get("hosts") or {}).items():
            addresses[name] = hostvars["ansible_host"]
        for child in (group.get("children") or {}).values():
            walk(child)

    walk(json.loads(lab.read_text().split("\n", 1)[1])["all"])
    return addresses


def test_hostname_is_the_node_name(host, inventory):
    assert host.check_output("hostname") == inventory["inventory_hostname"]


def test_every_cluster_host_resolves_to_its_address(host, lab_addresses):
    for name, address in lab_addresses.items():
        assert host.check_output(f"getent hosts {name}").split()[0] == address


def test_hosts_block_lists_every_node_once(host, lab_addresses):
    lines = host.file("/etc/hosts").content_string.splitlines()
    begin = next(i for i, line in enumerate(lines) if "BEGIN" in line and "corral.cluster" in line)
    end = next(i for i, line in enumerate(lines) if "END" in line and "corral.cluster" in line)
    block = sorted(line.split() for line in lines[begin + 1:end])
    assert block == sorted([address, name] for name, address in lab_addresses.items())


def test_forwarding_and_bridge_netfilter_are_on_now(host):
    assert host.sysctl("net.ipv4.ip_forward") == 1
    assert host.sysctl("net.bridge.bridge-nf-call-iptables") == 1
    assert host.sysctl("net.bridge.bridge-nf-call-ip6tables") == 1


def test_sysctl_settings_survive_a_reboot(host):
    conf = host.file(SYSCTL_FILE)
    assert conf.exists
    assert "net.ipv4.ip_forward=1" in conf.content_string.replace(" ", "")
    assert "net.bridge.bridge-nf-call-iptables=1" in conf.content_string.replace(" ", "")


def test_kernel_modules_are_loaded_at_boot(host):
    content = host.file("/etc/modules-load.d/corral-kubernetes.conf").content_string
    assert {"br_netfilter", "overlay"} <= set(content.split())


def test_swap_is_off_and_stays_off(host):
    assert len(host.file("/proc/swaps").content_string.strip().splitlines()) == 1
    fstab = [line for line in host.file("/etc/fstab").content_string.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert not [line for line in fstab if " swap " in f" {line} "]


@pytest.mark.parametrize("package", ["chrony", "conntrack", "iptables", "ipset", "socat"])
def test_base_packages_are_installed(host, package):
    assert host.package(package).is_installed


def test_chrony_runs_against_the_lab_clock_only(host, inventory):
    service = host.service("chrony")
    assert service.is_running
    assert service.is_enabled
    servers = [line.split()[1] for line in host.file("/etc/chrony/chrony.conf").content_string.splitlines()
               if line.startswith(("server ", "pool "))]
    assert servers == inventory["prepare_ntp_servers"]


def test_apt_uses_the_configured_mirror_and_still_works(host, inventory):
    if not inventory.get("prepare_apt_mirror_url"):
        pytest.skip("the scenario sets no apt mirror (the kubernetes scenario does)")
    sources = host.file("/etc/apt/sources.list.d/debian.sources").content_string
    assert f"URIs: {inventory['prepare_apt_mirror_url']}" in sources
    assert host.run("apt-get update -q").rc == 0
