"""docs/preflight.md shows the real messages: its example output and every row of its Examples
table are produced again here by the checks, on the sample inventory the page describes."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.corral.cluster.plugins.module_utils.preflight import validate
from cluster_settings import default_settings

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "preflight.md").read_text()


def sample() -> dict:
    """The page's sample inventory: k8s-1 (control plane and etcd) and k8s-2 (worker) on Rocky 9."""
    hosts = {name: {"node_name": name, "node_ip": ip, "os_family": "RedHat", "distribution": "Rocky",
                    "distribution_major_version": "9", "node_network": "192.168.1.0/24"}
             for name, ip in (("k8s-1", "192.168.1.11"), ("k8s-2", "192.168.1.12"))}
    return {"settings": default_settings(),
            "groups": {"etcd": ["k8s-1"], "kube_control_plane": ["k8s-1"], "kube_node": ["k8s-2"],
                       "k8s_cluster": ["k8s-1", "k8s-2"], "rancher_server": []},
            "hosts": hosts,
            "options": {"required_groups": ["etcd", "kube_control_plane", "kube_node"],
                        "etcd_allow_even_members": False}}


def problems_for(given: dict) -> list[str]:
    spec = copy.deepcopy(sample())
    for host, host_vars in given.pop("hosts", {}).items():
        spec["hosts"][host].update(host_vars)
    spec["groups"].update(given.pop("groups", {}))
    spec["settings"].update(given)
    return validate(spec)


def examples() -> list[tuple[str, str]]:
    section = PAGE[PAGE.index("### Examples"):]
    rows = re.findall(r"^\| `(\{.*\})` \| (.+) \|$", section, re.M)
    assert len(rows) >= 5, "the Examples table of docs/preflight.md is missing or unreadable"
    return rows


@pytest.mark.parametrize(("given", "message"), examples())
def test_every_example_is_the_real_message(given: str, message: str) -> None:
    assert problems_for(yaml.safe_load(given)) == [message]


def test_the_example_output_is_the_real_output() -> None:
    block = re.search(r"`cluster_service_cidr: 192\.168\.1\.0/24`:\n\n```\n(.+?)\n```", PAGE, re.S)
    assert block, "the example output of docs/preflight.md is missing"
    problems = problems_for({"cluster_service_cidr": "192.168.1.0/24"})
    assert block.group(1) == f"Preflight found {len(problems)} problem(s):\n" + "\n".join(f" - {p}" for p in problems)
