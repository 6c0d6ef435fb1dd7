"""The service roles start and restart their services through one internal role (common): every
restart a role asks for, by a task's notify or by a replaced binary, has its handler there, one
host at a time, and no other role restarts those services by a handler of its own."""

from __future__ import annotations

from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[3] / "roles"
SERVICE_ROLES = ("etcd", "control_plane", "node", "flannel")


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


HANDLERS = {handler["name"]: handler for handler in load(ROLES / "common" / "handlers" / "main.yml")}


def test_every_restart_a_service_role_notifies_is_a_handler_of_common():
    for role in SERVICE_ROLES:
        plain = {name for name in notified(role) if "{{" not in name}
        assert plain, role
        assert plain <= set(HANDLERS), (role, plain - set(HANDLERS))
        assert not (ROLES / role / "handlers").exists(), role


def test_every_service_whose_binary_the_artifacts_replace_has_a_restart():
    catalog = load(ROLES / "artifacts" / "vars" / "main" / "catalog.yml")
    for service in catalog["__artifacts_services"].values():
        assert f"Restart {service}" in HANDLERS, service


def test_each_handler_goes_one_host_at_a_time_and_spares_a_service_just_started():
    for name, handler in HANDLERS.items():
        service = handler["ansible.builtin.systemd_service"]["name"]
        assert name.endswith(service), name
        assert handler["throttle"] == 1, name
        assert handler["when"] == f"'{service}' not in __common_hold | default([])", name


def test_the_runtime_restarts_before_kubelet_and_etcd_before_kube_apiserver():
    order = [handler["ansible.builtin.systemd_service"]["name"] for handler in HANDLERS.values()]
    assert order.index("containerd") < order.index("kubelet")
    assert order.index("cri-dockerd") < order.index("kubelet")
    assert order.index("etcd") < order.index("kube-apiserver")
