"""A bad inventory or setting stops playbooks/site.yml before anything on a host changes."""

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")

# The nodes' network (/24), as the lab chose it (CORRAL_LAB_NS moves it).
NODE_NETWORK = re.search(r'"ansible_host": "(\d+\.\d+\.\d+)\.\d+"', (INVENTORY / "lab.yml").read_text()).group(1) + ".0/24"

RANCHER_PASSWORDS = {"rancher_server_bootstrap_password": "bootstrap-pw-0123",
                     "rancher_server_admin_password": "admin-pw-0123456"}

BAD_INPUTS = {
    "even etcd members": ({"etcd": ["node1", "node2"]}, {}, ["etcd", "even"]),
    "invalid pod CIDR": ({}, {"cluster_pod_cidr": "10.244.0.0/33"}, ["cluster_pod_cidr"]),
    "service CIDR on the node network": (
        {}, {"cluster_service_cidr": NODE_NETWORK}, ["cluster_service_cidr", "overlap"]),
    # 1.30 is supported, but no kubelet 1.30.99 exists: its sum is in no table.
    "a release without a known sum": (
        {}, {"cluster_kubernetes_version": "1.30.99"}, ["No sha256 is known for kubelet 1.30.99 (amd64)", "artifacts_checksums"]),
    "unknown network plugin": ({}, {"cluster_network_plugin": "weave"}, ["weave", "bridge, flannel"]),
    "a network plugin not implemented yet": ({}, {"cluster_network_plugin": "calico"}, ["'calico' is not supported"]),
    "a pod subnet pin outside the pod network": (
        {}, {"node_pod_cidr": "10.245.0.0/24"}, ["node_pod_cidr 10.245.0.0/24 must be a /24 subnet of cluster_pod_cidr"]),
    "DNS outside the services": ({}, {"cluster_dns_ip": "10.244.0.10"}, ["cluster_dns_ip"]),
    "a certificate renewal time in the future": (
        {}, {"pki_renew_issued_before": "2999-01-01"}, ["pki_renew_issued_before: '2999-01-01' is in the future"]),
    # The pod network's and the cluster DNS's own settings (roles/flannel, roles/coredns).
    "flannel backend": ({}, {"cluster_network_plugin": "flannel", "flannel_backend": "udp"},
                        ["pod network (flannel)", "flannel_backend 'udp'", "host-gw"]),
    "flannel MTU": ({}, {"cluster_network_plugin": "flannel", "flannel_mtu": 100}, ["flannel_mtu '100'"]),
    "CoreDNS upstream": ({}, {"coredns_upstream_nameservers": ["dns.example.com"]},
                         ["cluster DNS (CoreDNS)", "'dns.example.com' is not an IP address"]),
    "CoreDNS too new for Kubernetes 1.20": (
        {}, {"cluster_kubernetes_version": "1.20.2", "coredns_version": "1.13.2"}, ["coredns_version 1.13.2", "1.21"]),
    # The settings of the roles a run will reach, checked in the first play (roles/*/tasks/preflight.yml).
    "host preparation": ({}, {"prepare_ntp_servers": ["ntp.example.com iburst"]}, ["prepare_ntp_servers must be"]),
    "etcd ports": ({}, {"etcd_peer_port": 2379}, ["etcd_client_port (2379) and", "etcd_peer_port (2379) must differ"]),
    "control plane": ({}, {"control_plane_encryption_provider": "aesgcm"},
                      ["control_plane_encryption_provider must be aescbc or"]),
    "node": ({}, {"node_kube_proxy_mode": "nftables"}, ["node_kube_proxy_mode must be iptables or ipvs"]),
    "Docker where it is the runtime": (
        {}, {"cluster_container_runtime": "docker", "docker_install_method": "legacy"},
        ["Bad Docker settings on node1", "legacy installs docker-engine 1.12 rpms, for EL 7 only"]),
    "a Rancher that cannot import the release": (
        {"rancher_server": ["node2"]}, {"rancher_server_version": "v2.5.17", **RANCHER_PASSWORDS},
        ["Rancher v2.5.17 cannot import this cluster", "Kubernetes 1.17-1.20"]),
    "a cluster name Rancher refuses": (
        {"rancher_server": ["node2"]}, {"cluster_name": "lab_one", **RANCHER_PASSWORDS},
        ["rancher_server_cluster_name 'lab_one'", "rancher_server_cluster_name: lab-one"]),
}

# The day-2 playbooks and --limit (docs/operations.md): playbook, arguments, words of the message.
BAD_RUNS = {
    "a reset without reset_confirm": ("reset.yml", [], ["set reset_confirm: true"]),
    "removing the last control plane, an etcd member": (
        "remove_node.yml", ["-e", "remove_node=node1"],
        ["remove_node node1: an etcd member. Take it out of etcd first with etcd_remove_member.yml",
         "remove_node node1: the last control plane (kube_control_plane)"]),
    "removing the first of two control planes": (
        "remove_node.yml", ["-e", "remove_node=node1"],
        ["remove_node node1: the first host of kube_control_plane", "List another control plane first"]),
    "a limit to the control plane": (
        "site.yml", ["--limit", "node1"], ["--limit reaches 'node1', a control plane or etcd member", "Run without --limit"]),
    "a limit to a node of the bridge network": (
        "site.yml", ["--limit", "node2"], ["--limit reaches 'node2' with cluster_network_plugin bridge"]),
    "an upgrade in batches that CoreDNS would stall": (
        "upgrade.yml", ["-e", "upgrade_serial=2"], ["upgrade_serial 2 drains 2 nodes at a time, and coredns_replicas (2)",
                                                    "Set upgrade_serial: 1, or coredns_replicas below the number of nodes"]),
    "an upgrade of a cluster that does not run": (
        "upgrade.yml", [], ["upgrade.yml found no running cluster: kube-apiserver is not installed on node1",
                            "Build the cluster with site.yml"]),
}

# Extra group members of a bad run (an inventory source read after the scenario's).
BAD_RUN_GROUPS = {"removing the first of two control planes": {"kube_control_plane": ["node2"]}}


def extra_inventory(tmp_path, extra_groups):
    """The arguments that add an inventory source with the extra group members."""
    if not extra_groups:
        return []
    extra = tmp_path / "extra.yml"
    extra.write_text(json.dumps({"all": {"children": {
        group: {"hosts": {name: {} for name in names}} for group, names in extra_groups.items()
    }}}))
    return ["-i", str(extra)]


def run_playbook(playbook, *args):
    """ansible-playbook from the checkout against the scenario's nodes, without colours. The timeout is a
    safety net only: in CI four runs share this machine with another scenario's lab (tools/test)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "playbooks" / "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY), *args, str(PROJECT / "playbooks" / playbook)],
                          env=env, cwd=PROJECT, capture_output=True, text=True, timeout=900, check=False)


def run_site(tmp_path, extra_groups, extra_vars):
    """Run site.yml against the scenario's nodes with extra group members and variables."""
    args = extra_inventory(tmp_path, extra_groups)
    if extra_vars:
        args += ["-e", json.dumps(extra_vars)]
    return run_playbook("site.yml", *args)


def plain(text):
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# The runs only read the hosts (each is refused before any change, which the tests below check),
# so they run side by side: four at a time, about what this machine's two cores keep busy. The
# check-mode run of the good inventory is the longest (every play): it starts first, beside them.
PARALLEL_RUNS = 4
CHECK_RUN = "the good inventory in check mode"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """site.yml once per bad input, each bad run, and the good inventory's check-mode run, side by
    side: {case: CompletedProcess}."""
    # Made here, not in the threads: pytest's temporary directories are not made thread-safely.
    directories = {case: tmp_path_factory.mktemp("case") for case in [*BAD_INPUTS, *BAD_RUN_GROUPS]}

    def run_case(case):
        if case == CHECK_RUN:
            return run_playbook("site.yml", "--check")
        if case in BAD_RUNS:
            playbook, args, _words = BAD_RUNS[case]
            return run_playbook(playbook, *extra_inventory(directories.get(case), BAD_RUN_GROUPS.get(case)), *args)
        extra_groups, extra_vars, _words = BAD_INPUTS[case]
        return run_site(directories[case], extra_groups, extra_vars)

    cases = [CHECK_RUN, *BAD_INPUTS, *BAD_RUNS]
    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        return dict(zip(cases, pool.map(run_case, cases)))


@pytest.mark.parametrize("case", [*BAD_INPUTS, *BAD_RUNS])
def test_bad_input_is_refused_before_any_change(runs, case):
    words = {**BAD_INPUTS, **BAD_RUNS}[case][-1]
    result = runs[case]
    output = plain(result.stdout + result.stderr)
    assert result.returncode != 0, output
    # Refused in the first play: no other play started.
    assert re.findall(r"^PLAY \[(.+?)\]", output, re.M) == ["Preflight checks"], output
    for word in words:
        assert word in output, f"{word!r} missing from the message:\n{output}"
    # Nothing changed anywhere.
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", plain(result.stdout), re.M)
    assert recap and all(changed == "0" for _unused, changed in recap), output


def test_a_good_inventory_with_the_defaults_runs_site_yml_in_check_mode_on_bare_hosts(runs):
    """The lab's inventory leaves every cluster setting to its default (bridge network): check mode
    passes the same checks and goes through every play, reporting changes, making none."""
    result = runs[CHECK_RUN]
    output = plain(result.stdout + result.stderr)
    assert result.returncode == 0, output
    plays = re.findall(r"^PLAY \[(.+?)\]", output, re.M)
    assert {"Preflight checks", "Kubernetes nodes and the pod network", "The cluster as a whole"} <= set(plays), plays
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", plain(result.stdout), re.M)
    assert recap and all(int(changed) > 0 for _unused, changed in recap), output


def test_hosts_are_untouched(host, runs):
    """After all the refused runs and the check-mode run, no trace of host preparation is on the nodes."""
    assert not host.file("/etc/sysctl.d/90-corral-kubernetes.conf").exists
    assert not host.file("/etc/modules-load.d/corral-kubernetes.conf").exists
    assert "corral.cluster" not in host.file("/etc/hosts").content_string
    assert not host.package("chrony").is_installed
