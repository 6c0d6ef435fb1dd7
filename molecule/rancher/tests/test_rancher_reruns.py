"""The rancher scenario, second part: ansible-playbook runs against the converged nodes.

Kept apart from test_rancher.py and without testinfra's host fixture, so that pytest runs them after
the checks of the converged state and in this order (pytest groups tests by the host parameter).
The upgrade runs last of all.
"""

import json
import os
import subprocess

from test_rancher import NODES, SECRETS, login, rancher_client, recap, run_playbook


def test_rerun_changes_nothing_and_logs_no_secret():
    result = run_playbook("-v")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert all(changed == 0 and failed == 0 for _unused, changed, failed in recap(output).values()), output
    for secret in SECRETS:
        assert secret not in output
    assert "token-" not in output  # no API token either


# The lab's container names carry its namespace (CORRAL_LAB_NS=N: nsN-NAME), as tools/lab.py names them.
LAB_PREFIX = f"ns{os.environ['CORRAL_LAB_NS']}-" if os.environ.get("CORRAL_LAB_NS") else ""


def inspect_server(node):
    result = subprocess.run(["docker", "exec", f"{LAB_PREFIX}molecule-rancher-{node}", "docker", "inspect", "rancher"],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)[0]


def server_ids():
    return {node: inspect_server(node)["Id"] for node in NODES}


def test_incompatible_rancher_is_refused_before_any_change():
    before = server_ids()
    result = run_playbook("-e", "rancher_server_tag=v2.12.3")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "the 2.12 line supports Kubernetes 1.31-1.33" in output, output
    assert "Use Rancher 2.6 (Kubernetes 1.18-1.24) or Rancher 2.5 (Kubernetes 1.17-1.20)" in output, output
    assert "Run the Rancher server container" not in output
    assert all(changed == 0 for _unused, changed, _unused in recap(output).values()), output
    assert server_ids() == before


def test_changed_tag_upgrades_keeping_the_data():
    before = inspect_server("node1")
    # Only node1's tag changes, in a run over the whole inventory.
    tags = "{{ 'v2.5.17' if inventory_hostname == 'node1' else rancher_server_tag_node2 }}"
    result = run_playbook("-e", json.dumps({"rancher_server_tag": tags, "rancher_server_tag_node2": "v1.6.30"}))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    after = inspect_server("node1")
    assert after["Id"] != before["Id"] and after["Config"]["Image"] == "corral.test/rancher-standin:v2.5.17"
    assert [m["Name"] for m in after["Mounts"] if m["Destination"] == "/var/lib/rancher"] == ["rancher-data"]
    assert "already bootstrapped, nothing to change" in output  # the admin password survived on the volume
    assert rancher_client(login()).get("/v3/settings/server-version")["value"] == "v2.5.17"
