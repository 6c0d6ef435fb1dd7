"""site.yml runs one preflight, then every stage's plays; each stage playbook runs its own preflight,
then the same plays. The plays live once, in stage_*.yml, so the two cannot drift apart."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
STAGES = ("prepare", "etcd", "kubernetes", "rancher")
IMPORT = "ansible.builtin.import_playbook"


def imports(name: str) -> list[str]:
    """The playbooks a playbook imports, in order (its own plays as '')."""
    return [play.get(IMPORT, "") for play in yaml.safe_load((PLAYBOOKS / name).read_text(encoding="utf-8"))]


def test_site_runs_the_preflight_once_then_each_stage_in_order():
    site = imports("site.yml")
    assert site[0] == "preflight.yml"
    assert site.count("preflight.yml") == 1
    assert [entry for entry in site if entry.startswith("stage_")] == [f"stage_{stage}.yml" for stage in STAGES]


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_playbook_is_its_preflight_then_its_plays(stage):
    assert imports(f"{stage}.yml") == ["preflight.yml", f"stage_{stage}.yml"]


@pytest.mark.parametrize("stage", STAGES)
def test_the_plays_of_a_stage_run_no_preflight_of_their_own(stage):
    assert "preflight.yml" not in imports(f"stage_{stage}.yml")


def test_every_stage_file_is_a_stage():
    assert sorted(path.name for path in PLAYBOOKS.glob("stage_*.yml")) == sorted(f"stage_{stage}.yml" for stage in STAGES)


def node_play_tasks(name: str) -> list[str]:
    """What the play on k8s_cluster that runs the node role lists under `tasks`."""
    plays = yaml.safe_load((PLAYBOOKS / name).read_text(encoding="utf-8"))
    (play,) = [play for play in plays if play.get("hosts") == "k8s_cluster" and "tasks" in play]
    return [task.get("ansible.builtin.import_tasks", task.get("name")) for task in play["tasks"]]


@pytest.mark.parametrize("name", ["stage_kubernetes.yml", "upgrade.yml"])
def test_the_nodes_plays_run_the_same_roles_from_one_file(name):
    assert node_play_tasks(name) == ["tasks/node_roles.yml"]
    roles = yaml.safe_load((PLAYBOOKS / "tasks" / "node_roles.yml").read_text(encoding="utf-8"))
    names = [(task.get("ansible.builtin.include_role") or task.get("ansible.builtin.import_role"))["name"] for task in roles]
    assert names == ["corral.cluster.docker", "corral.cluster.network", "corral.cluster.node"]


def test_every_play_of_remove_node_stops_the_run_when_a_host_fails():
    """A failure on the other nodes (their proxies, the drain) must not go on to reset the node being removed."""
    plays = [play for play in yaml.safe_load((PLAYBOOKS / "remove_node.yml").read_text(encoding="utf-8"))
             if IMPORT not in play]
    assert plays
    assert [play.get("name") for play in plays if play.get("any_errors_fatal") is not True] == []
