"""Upgrade on the running cluster of the kubernetes scenario: deployed at the previous minor release (the
lab's set 1.35), upgraded with upgrade.yml to the current one (set 1.36) while a Deployment behind a
NodePort is probed from the controller five times a second; every failed request is counted.

Runs first (conftest.py orders it): the other modules check the release it ends at. Afterwards the
scenario's inventory holds the new release, as an operator's would (site.yml keeps the running release)."""

import json
import re
import time

import pytest

from conftest import Probe, recap_changed, run_site
from test_cluster import INVENTORY, LAB_VARS, NODES, STATE_DIR, group, kubectl, node

# The settings of the set the lab's inventory upgrades to (tools/lab.py --upgrade-to).
TARGET = LAB_VARS.get("corral_lab_upgrade_to")
pytestmark = pytest.mark.skipif(not TARGET, reason="this scenario's lab was made without --upgrade-to")


def release(text):
    return re.search(r"v?(\d+\.\d+\.\d+)", text).group(1)


def changed_tasks(output):
    """The tasks of a run that reported a change, with their hosts and items."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ") or line.startswith("RUNNING HANDLER "):
            task = line.rstrip(" *")
        elif line.startswith("changed: "):
            found.append(f"{task}: {line}")
    return "\n".join(found) or output[-6000:]


def etcd_releases():
    """{member: the release its running etcd reports} (its /version, asked with the health-check client's
    certificate)."""
    found = {}
    for name in sorted(group("etcd")):
        answer = node(name).check_output(
            "curl -sS --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/healthcheck-client.crt "
            "--key /etc/etcd/pki/healthcheck-client.key https://127.0.0.1:2379/version")
        found[name] = json.loads(answer)["etcdserver"]
    return found


def node_releases():
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    return {n["metadata"]["name"]: release(n["status"]["nodeInfo"]["kubeletVersion"]) for n in nodes}


def containerd_releases():
    """{node: the containerd release its kubelet reports} for the nodes that run containerd (the Docker
    node reports docker://...)."""
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    runtimes = {n["metadata"]["name"]: n["status"]["nodeInfo"]["containerRuntimeVersion"] for n in nodes}
    return {name: release(runtime) for name, runtime in runtimes.items() if runtime.startswith("containerd://")}


def test_site_yml_refuses_to_change_the_release_and_names_upgrade_yml():
    result = run_site({"cluster_kubernetes_version": TARGET["cluster_kubernetes_version"],
                       "artifacts_checksums": TARGET["artifacts_checksums"]})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert re.findall(r"^PLAY \[(.+?)\]", output, re.M) == ["Preflight checks"], output[-3000:]
    assert f"cluster_kubernetes_version is {TARGET['cluster_kubernetes_version']}, but kube-apiserver runs another " \
           f"release on" in output, output[-3000:]
    assert "run upgrade.yml" in output


def test_upgrade_to_the_next_minor_release_under_a_steady_load(steady):
    before = node_releases()
    assert set(before.values()) == {LAB_VARS["cluster_kubernetes_version"]}, before
    # The lab's set 1.35 has an earlier patch release of etcd and an earlier minor release of containerd:
    # the upgrade changes both too.
    assert set(etcd_releases().values()) == {LAB_VARS["artifacts_etcd_version"]}
    runtimes = containerd_releases()
    assert runtimes and set(runtimes.values()) == {LAB_VARS["artifacts_containerd_version"]}, runtimes
    assert TARGET["artifacts_containerd_version"] != LAB_VARS["artifacts_containerd_version"]
    snapshots = set((STATE_DIR / "backups" / "etcd").glob("snapshot-*.db"))
    started = time.monotonic()
    with Probe(steady) as probe:
        result = run_site(TARGET, playbook="upgrade.yml")
    probe.report(f"upgrade.yml ({time.monotonic() - started:.0f} s)")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    wanted = TARGET["cluster_kubernetes_version"]
    assert node_releases() == {name: wanted for name in NODES}
    assert release(json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]["gitVersion"]) == wanted
    assert set(etcd_releases().values()) == {TARGET["artifacts_etcd_version"]}
    assert containerd_releases() == {name: TARGET["artifacts_containerd_version"] for name in runtimes}
    # An etcd snapshot was taken first; every node is schedulable again.
    assert set((STATE_DIR / "backups" / "etcd").glob("snapshot-*.db")) - snapshots
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert not [n["metadata"]["name"] for n in nodes if n["spec"].get("unschedulable")]
    assert probe.failed == 0, probe.errors
    # The operator's inventory now says the new release (the rest of the scenario runs with it).
    lab_file = INVENTORY / "lab.yml"
    header, body = lab_file.read_text().split("\n", 1)
    inventory = json.loads(body)
    inventory["all"]["vars"].update(TARGET)
    del inventory["all"]["vars"]["corral_lab_upgrade_to"]
    lab_file.write_text(header + "\n" + json.dumps(inventory, indent=2) + "\n")


def test_site_yml_with_the_new_release_changes_nothing():
    """The upgraded cluster is what site.yml builds at the new release: a re-run changes nothing (this
    stands for the scenario's idempotence step, which would prove it at the old release)."""
    result = run_site({})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    changed = recap_changed(result.stdout)
    assert changed and set(changed.values()) == {0}, changed_tasks(result.stdout)
