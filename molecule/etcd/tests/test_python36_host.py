"""node1 is driven as a CentOS 7 / EL 8 host is: Python 3.6 runs its modules, ansible-core 2.16
drives it. And a host without python3 gets it before any fact is gathered (node4)."""

import os
import re
import subprocess
from pathlib import Path

import testinfra

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
SCENARIO = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")


def node(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}", sudo=True)


def ansible_playbook(playbook, *extra, ok=True):
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_NOCOLOR="1", ANSIBLE_COLLECTIONS_PATH=str(PROJECT / "playbooks" / "collections"))
    result = subprocess.run(["ansible-playbook", "-i", str(INVENTORY), *extra, str(playbook)], env=env, cwd=PROJECT,
                            capture_output=True, text=True, timeout=900, check=False)
    assert (result.returncode == 0) == ok, result.stdout[-6000:] + result.stderr[-3000:]
    return result.stdout


def recap(output):
    return {host: (int(changed), int(failed)) for host, changed, failed in
            re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output, re.M)}


def test_the_controller_is_ansible_core_2_16():
    version = subprocess.run(["ansible-playbook", "--version"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\[core 2\.16\.", version), version


def test_node1_runs_the_modules_with_python_3_6_and_the_others_with_their_python3():
    facts = {name: node(name).ansible("setup", "gather_subset=!all,min")["ansible_facts"]
             for name in ("node1", "node2")}
    assert facts["node1"]["ansible_python_version"].startswith("3.6.")
    assert facts["node1"]["ansible_python"]["executable"].endswith("/bin/python3.6")
    assert not facts["node2"]["ansible_python_version"].startswith("3.6.")


def test_file_digests_and_etcd_member_ran_there():
    # file_digests ran on node1 in converge (the artifacts role); the member is node1 and healthy.
    assert node("node1").service("etcd").is_running
    output = ansible_playbook(SCENARIO / "etcd_member_py36.yml")
    assert "members=node1,node2,node3 python=3.6." in output, output


def test_the_rancher_modules_run_on_python_3_6_and_refuse_a_ca_of_another_checksum():
    output = ansible_playbook(SCENARIO / "rancher_modules.yml")
    assert "python 3.6." in output
    assert "compatible=1.17,1.18,1.19,1.20" in output
    assert "bootstrapped=True version=v2.5.16" in output
    assert re.search(r"cluster=c-\w+ manifest=True", output)
    assert "active=active" in output and "refused=True" in output and "legacy_token=True" in output
    assert "python36-admin-pw-1234" not in output


def test_a_host_without_python3_gets_it_before_facts_are_gathered():
    host = node("node4")
    host.run_expect([0], "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq python3 python3-minimal "
                         "python3.11 python3.11-minimal")
    assert host.run("command -v python3").rc != 0
    preflight = PROJECT / "playbooks" / "preflight.yml"
    # Check mode changes nothing, and says why it cannot go on.
    output = ansible_playbook(preflight, "--check", ok=False)
    assert "node4 has no python3: a real run installs it first" in output
    assert host.run("command -v python3").rc != 0
    # A real run installs it through raw, then gathers the facts and checks.
    output = ansible_playbook(preflight)
    assert recap(output)["node4"] == (1, 0), output  # the install; the checks passed (rc 0)
    assert re.search(r"TASK \[corral.cluster.preflight : Install python3\][^\n]*\n(?:skipping: \[node[123]\]\n)*"
                     r"changed: \[node4\]", output), output
    assert host.run("command -v python3").rc == 0
    # Where python3 is, nothing is installed again.
    output = ansible_playbook(preflight)
    assert all(changed == 0 and failed == 0 for changed, failed in recap(output).values()), output
