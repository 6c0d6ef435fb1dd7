"""Unit tests of the cluster_pki module: arguments to plan, check mode, state=check, refusals."""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from ansible_collections.corral.cluster.plugins.modules import cluster_pki

GROUPS = {"etcd": ["cp-1"], "kube_control_plane": ["cp-1"], "kube_node": ["worker"], "k8s_cluster": ["cp-1", "worker"]}
HOSTS = {
    "cp-1": {"node_name": "cp-1", "node_ip": "10.0.0.11"},
    "worker": {"node_name": "node-1", "node_ip": "10.0.0.21"},
}


class Failed(Exception):
    """Raised by the fake module's fail_json."""


def fail_json(msg: str, **_: Any) -> None:
    raise Failed(msg)


def module(path: Path, check_mode: bool = False, **overrides: Any) -> MagicMock:
    params = {
        "path": str(path),
        "state": "present",
        "groups": GROUPS,
        "hosts": HOSTS,
        "service_cidr": "10.96.0.0/12",
        "cluster_domain": "cluster.local",
        "apiserver_extra_sans": ["lb.example.com"],
        "ca_days": 3650,
        "cert_days": 365,
        "renew_before_days": 30,
        "renew_issued_before": "",
        "key_type": "ecdsa",
        **overrides,
    }
    fake = MagicMock(params=params, check_mode=check_mode)
    fake.fail_json.side_effect = fail_json
    return fake


def test_plan_from_params_passes_the_settings_and_extra_sans(tmp_path: Path) -> None:
    plan = {spec.name: spec for spec in cluster_pki.plan_from_params(module(tmp_path).params)}
    assert "lb.example.com" in plan["apiserver"].dns_names
    assert plan["kubelet-node-1"].hosts == ("worker",)


def test_present_creates_then_reports_nothing_to_do(tmp_path: Path) -> None:
    first = cluster_pki.run(module(tmp_path))
    assert first["changed"] and "ca.crt" in first["created"] and first["renewed"] == []
    assert {"name", "hosts", "cert_file", "key_file"} <= set(first["certificates"][0])
    second = cluster_pki.run(module(tmp_path))
    assert not second["changed"] and second["created"] == []


def test_result_holds_no_key_material(tmp_path: Path) -> None:
    assert "PRIVATE KEY" not in repr(cluster_pki.run(module(tmp_path)))


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    result = cluster_pki.run(module(tmp_path / "pki", check_mode=True))
    assert result["changed"] and result["created"]
    assert not (tmp_path / "pki").exists()


def test_state_check_reports_expiry_and_changes_nothing(tmp_path: Path) -> None:
    cluster_pki.run(module(tmp_path))
    result = cluster_pki.run(module(tmp_path, state="check"))
    assert result["changed"] is False
    rows = {row["file"]: row for row in result["expiry"]}
    assert rows["apiserver.crt"]["common_name"] == "kube-apiserver" and rows["apiserver.crt"]["days_left"] >= 364


def test_hosts_without_node_ip_are_refused(tmp_path: Path) -> None:
    hosts = {"cp-1": HOSTS["cp-1"], "worker": {"node_name": "node-1", "node_ip": ""}}
    with pytest.raises(Failed, match="Hosts worker have no node_ip"):
        cluster_pki.run(module(tmp_path, hosts=hosts))
    assert not any(tmp_path.iterdir())


def test_renewal_on_request_renews_the_leaves_once(tmp_path: Path) -> None:
    cluster_pki.run(module(tmp_path))
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
    time.sleep(1.1)
    request = module(tmp_path, renew_issued_before=f"{now:%Y-%m-%dT%H:%M:%SZ}")
    first = cluster_pki.run(request)
    assert first["changed"] and "apiserver.crt" in [entry["file"] for entry in first["renewed"]]
    assert "ca.crt" not in [entry["file"] for entry in first["renewed"]]
    assert not cluster_pki.run(request)["changed"]


@pytest.mark.parametrize(("value", "message"), [
    ("yesterday", "renew_issued_before: 'yesterday' is not a time in UTC"),
    ("2999-01-01", "renew_issued_before: '2999-01-01' is in the future"),
])
def test_a_bad_or_future_renewal_time_is_refused(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(Failed, match=message):
        cluster_pki.run(module(tmp_path, renew_issued_before=value))
    assert not any(tmp_path.iterdir())


def action_result(path: Path, check_mode: bool = False, **overrides: Any) -> dict:
    """The action plugin (the module's work in the controller's process), its arguments as a task gives them."""
    from ansible_collections.corral.cluster.plugins.action.cluster_pki import ActionModule

    args = dict(module(path, **overrides).params)
    task = MagicMock(args=args, async_val=0, check_mode=check_mode)
    plugin = ActionModule(task, MagicMock(), MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return plugin.run(task_vars={})


def test_the_action_issues_in_process_then_changes_nothing_and_reports_refusals(tmp_path: Path) -> None:
    assert action_result(tmp_path / "pki", check_mode=True)["changed"] and not (tmp_path / "pki").exists()
    first = action_result(tmp_path / "pki")
    assert first["changed"] and (tmp_path / "pki" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert not action_result(tmp_path / "pki")["changed"]
    refused = action_result(tmp_path / "pki", renew_before_days=400)
    assert refused["failed"] and "renew_before_days (400) must be from 0 to less than cert_days" in refused["msg"]
    unknown = action_result(tmp_path / "pki", hosts={"cp-1": HOSTS["cp-1"]})
    assert unknown["failed"] and unknown["msg"].startswith("Hosts worker have no node_ip")
    assert action_result(tmp_path / "pki", state="check")["expiry"]
