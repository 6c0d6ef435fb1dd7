"""The service roles start and restart their services through one internal role (common): every
restart a role asks for, by a task's notify or by a replaced binary, has its handler there, one
host at a time, and no other role restarts those services by a handler of its own."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
SERVICE_ROLES = ("etcd", "control_plane", "node", "flannel", "network")


def load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8")) or []


def tasks(node):
    """Every task of a task list, blocks opened."""
    for task in node or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks(task.get(key))


def notified(role: str) -> set[str]:
    names: set[str] = set()
    for path in (ROLES / role / "tasks").glob("*.yml"):
        for task in tasks(load(path)):
            notify = task.get("notify", [])
            names.update([notify] if isinstance(notify, str) else notify)
    return names


SERVICES = re.compile(r"""(?<![\w])['"]?services['"]?:\s*\[([^\]]*)\]""")


def services_of_files(role: str) -> set[str]:
    """The services the files of a role's distribute_files calls name (restarted by common when they change)."""
    names: set[str] = set()
    for path in [*(ROLES / role / "tasks").glob("*.yml"), *(ROLES / role / "vars").glob("*.yml")]:
        text = path.read_text(encoding="utf-8")
        for match in SERVICES.finditer(text):
            names.update(name.strip(" '\"") for name in match.group(1).split(",") if name.strip(" '\""))
        # The kubernetes_units filter makes one entry per unit of __ROLE_units, restarting the unit's component.
        if f"__{role}_units | corral.cluster.kubernetes_units" in text:
            names.update(load(ROLES / role / "vars" / "main.yml")[f"__{role}_units"])
    return names


HANDLERS = {handler["name"]: handler for handler in load(ROLES / "common" / "handlers" / "main.yml")}


def test_every_restart_a_service_role_asks_for_is_a_handler_of_common():
    for role in SERVICE_ROLES:
        plain = {name for name in notified(role) if "{{" not in name}
        restarts = {f"Restart {name}" for name in services_of_files(role) if "{{" not in name}
        assert plain | restarts, role
        assert plain <= set(HANDLERS), (role, plain - set(HANDLERS))
        assert restarts <= set(HANDLERS), (role, restarts - set(HANDLERS))
        assert not (ROLES / role / "handlers").exists(), role


def test_the_files_name_the_services_that_read_them():
    assert services_of_files("etcd") == {"etcd"}
    assert services_of_files("node") >= {"kubelet", "kube-proxy", "containerd", "cri-dockerd"}
    assert services_of_files("control_plane") >= {"kube-apiserver", "kube-controller-manager", "kube-scheduler"}


def test_every_service_whose_binary_the_artifacts_replace_has_a_restart():
    catalog = load(ROLES / "artifacts" / "vars" / "main" / "catalog.yml")
    for service in catalog["__artifacts_services"].values():
        assert f"Restart {service}" in HANDLERS, service


def test_each_handler_goes_one_host_at_a_time_and_spares_a_service_just_started():
    for name, handler in HANDLERS.items():
        service = handler["ansible.builtin.systemd_service"]["name"]
        assert name.endswith(service), name
        assert handler["throttle"] == 1, name
        assert handler["when"] == f"'{service}' not in __common_hold", name


def test_the_runtime_restarts_before_kubelet_and_etcd_before_kube_apiserver():
    order = [handler["ansible.builtin.systemd_service"]["name"] for handler in HANDLERS.values()]
    assert order.index("containerd") < order.index("kubelet")
    assert order.index("cri-dockerd") < order.index("kubelet")
    assert order.index("etcd") < order.index("kube-apiserver")


def imports_of_common():
    """(file, vars) of every import of common's service entry point by the roles."""
    for path in sorted(ROLES.glob("*/tasks/*.yml")):
        for task in tasks(load(path)):
            spec = task.get("ansible.builtin.import_role") or task.get("ansible.builtin.include_role")
            if spec and spec.get("name") == "corral.cluster.common":
                yield f"{path.parent.parent.name}/{path.name}", spec, task.get("vars", {})


SPEC_TYPES = {"list": list, "bool": bool, "str": str}


def test_the_imports_pass_only_what_the_argument_spec_describes():
    """The imports skip the run-time validation (one task per host and import, on every no-op run):
    this test holds each import to the entry point's argument spec instead."""
    options = load(ROLES / "common" / "meta" / "argument_specs.yml")["argument_specs"]["service"]["options"]
    found = list(imports_of_common())
    assert {entry[0].split("/")[0] for entry in found} == set(SERVICE_ROLES)
    for where, spec, variables in found:
        assert spec["tasks_from"] == "service", where
        assert spec.get("rolespec_validate") is False, where
        assert "common_services" in variables, where
        for name, value in variables.items():
            assert name in options, (where, name)
            if not (isinstance(value, str) and "{{" in value):
                assert isinstance(value, SPEC_TYPES[options[name]["type"]]), (where, name)


PLAYBOOKS = ROLES.parent / "playbooks"


def common_under_a_block_condition(role: str, file: str, inherited: bool = False) -> list[str]:
    """The imports of common in a role's task file (and the files it imports) that sit in a block with a
    condition. Such a condition is evaluated again for each of common's tasks, in common's context."""
    found = []

    def walk(node, conditional):
        for task in node or []:
            if task.get("block"):
                for key in ("block", "rescue", "always"):
                    walk(task.get(key), conditional or "when" in task)
                continue
            spec = task.get("ansible.builtin.import_role") or {}
            if spec.get("name") == "corral.cluster.common" and conditional:
                found.append(f"{role}/{file}: {task.get('name')}")
            imported = task.get("ansible.builtin.import_tasks")
            if imported:
                found.extend(common_under_a_block_condition(role, imported, conditional or "when" in task))

    walk(load(ROLES / role / "tasks" / file), inherited)
    return found


def test_a_task_file_a_playbook_includes_on_its_own_imports_common_under_no_block_condition():
    """A playbook that includes one task file of a role (remove_node.yml: node's apiserver_proxy) runs it
    without the role's dependencies in sight of common's tasks: a block's condition on the role's settings
    (cluster_apiserver_endpoint) failed there as undefined. Such files include the conditional part."""
    entries = []
    for path in sorted(PLAYBOOKS.glob("*.yml")):
        for play in load(path):
            for section in ("pre_tasks", "tasks", "post_tasks"):
                for task in tasks(play.get(section)):
                    spec = task.get("ansible.builtin.include_role") or {}
                    if spec.get("name", "").startswith("corral.cluster.") and spec.get("tasks_from"):
                        role = spec["name"].split(".")[-1]
                        file = spec["tasks_from"] if spec["tasks_from"].endswith(".yml") else f"{spec['tasks_from']}.yml"
                        entries.append((role, file))
    assert ("node", "apiserver_proxy.yml") in entries
    assert [found for role, file in entries for found in common_under_a_block_condition(role, file)] == []


def test_the_check_finds_an_import_of_common_in_a_conditional_block():
    assert common_under_a_block_condition("node", "runtime.yml")  # included only by the node role itself
