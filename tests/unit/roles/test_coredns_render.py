"""Render test of the coredns role's manifest (roles/coredns/templates/coredns.yaml.j2): its topology spread
leaves cordoned nodes out where the release knows how (nodeTaintsPolicy, Kubernetes 1.26 on), so that a
drain of several nodes at once (upgrade_serial) finds room for the replicas it evicts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jinja2
import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "coredns"


def version_test(value: str, other: str, operator: str = "eq") -> bool:
    """Ansible's `version` test, for the dotted numbers the template compares."""
    def parts(text):
        return tuple(int(part) for part in str(text).split("."))
    return {">=": parts(value) >= parts(other), "<": parts(value) < parts(other)}[operator]


def render(kubernetes: str) -> dict:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), undefined=jinja2.StrictUndefined)
    env.tests["version"] = version_test
    env.filters["comment"] = lambda text: f"# {text}"
    env.filters["hash"] = lambda text, algorithm: hashlib.new(algorithm, text.encode()).hexdigest()
    context = {
        "lookup": lambda *_args, **_kwargs: ".:53 {\n    errors\n}\n",
        "ansible_managed": "Ansible managed", "cluster_kubernetes_version": kubernetes, "cluster_name": "lab",
        "cluster_dns_ip": "10.96.0.10", "coredns_image": "coredns/coredns:v1.13.2", "coredns_replicas": 3,
        "coredns_cpu_request": "100m", "coredns_memory_request": "70Mi", "coredns_memory_limit": "170Mi",
        "__coredns_pdb_api": "policy/v1",
    }
    items = yaml.safe_load(env.get_template("coredns.yaml.j2").render(context))["items"]
    return next(item for item in items if item["kind"] == "Deployment")


@pytest.mark.parametrize("kubernetes, honoured", [("1.36.4", True), ("1.26.0", True), ("1.25.16", False), ("1.20.2", False)])
def test_cordoned_nodes_leave_the_spread_from_1_26(kubernetes: str, honoured: bool) -> None:
    spread = render(kubernetes)["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread[0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert ("nodeTaintsPolicy" in spread[0]) == honoured
    if honoured:
        assert spread[0]["nodeTaintsPolicy"] == "Honor"
