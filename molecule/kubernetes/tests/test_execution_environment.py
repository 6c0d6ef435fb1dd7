"""A job as AWX runs it: ansible-runner starts the execution environment (execution-environment.yml,
built by `tools/ee build`, which tools/test runs before the scenarios) and the collection's
playbooks run inside it against this scenario's converged nodes.

The image holds the collection as `ansible-galaxy collection build` packs it, its dependencies
and ansible-core; nothing of this checkout is mounted but the paths the lab's inventory names on
this machine (the lab's key and state, the artifact mirror, the controller's artifact cache).
Run in the kubernetes scenario only: one deploy proves it.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "inventory")
LAB_VARS = json.loads((INVENTORY / "lab.yml").read_text().split("\n", 1)[1])["all"]["vars"]
# The controller's artifact cache that converge filled: a job of AWX keeps it on a mounted path.
CACHE = Path.home() / ".cache" / "corral" / "artifacts"

pytestmark = pytest.mark.skipif(os.environ.get("MOLECULE_SCENARIO_NAME") != "kubernetes",
                                reason="the kubernetes scenario proves the execution environment")


def ee_run(playbook, *extra):
    mounts = [Path(LAB_VARS["ansible_ssh_private_key_file"]).parents[1],  # the lab's key, state, known_hosts
              Path(LAB_VARS["artifacts_mirror_url"].removeprefix("file://")), CACHE]
    cmd = [sys.executable, str(PROJECT / "tools" / "lab_ee.py"), "run", "--inventory", str(INVENTORY),
           *(f"--mount={path}" for path in mounts), playbook, "-e", f"artifacts_cache_dir={CACHE}", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=1200)
    return result.returncode, re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)


def recap(output):
    return {host: (int(changed), int(failed)) for host, changed, failed in
            re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", output, re.M)}


def test_a_stage_playbook_and_its_preflight_in_the_execution_environment_find_the_cluster_converged():
    """etcd.yml: its first play is the preflight (preflight.yml's checks, on every host of the inventory),
    then etcd's stage; one run proves both (a run of preflight.yml alone cost CI half a minute more). The
    stage compares and installs etcd's binaries only, on node1 too, which is a control plane: it once
    copied the inventory's Kubernetes binaries over the running ones there."""
    rc, output = ee_run("corral.cluster.etcd", "-v")
    assert rc == 0, output
    # What node1 was checked for: the "compared" paths of the artifacts' one comparison (shown with -v).
    comparison = re.search(r"^TASK \[corral\.cluster\.artifacts : Compare the install directories and the installed "
                           r"binaries[^\n]*\n(?:.*\n)*?ok: \[node1\] => (\{.*\})$", output, re.M)
    assert comparison, output
    binaries = {path.rsplit("/", 1)[-1] for path in json.loads(comparison.group(1))["compared"]}
    assert "etcd" in binaries and not {name for name in binaries if name.startswith("kube")}, binaries
    assert re.findall(r"^PLAY \[(.+?)\]", output, re.M)[0] == "Preflight checks", output
    assert re.search(r"^TASK \[corral\.cluster\.preflight : Check the inventory and the cluster settings\]", output, re.M), output
    hosts = recap(output)
    assert {"node1", "node2", "node3"} <= hosts.keys(), output
    assert all(counts == (0, 0) for counts in hosts.values()), output
