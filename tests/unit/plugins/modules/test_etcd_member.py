"""Unit tests of the etcd_member module with a fake AnsibleModule and run_command (no etcd needed)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest

from ansible_collections.corral.cluster.plugins.module_utils import etcd
from ansible_collections.corral.cluster.plugins.modules import etcd_member, etcd_member_info

MEMBERS = [
    {"ID": 0x8E9E05C52164694D, "name": "etcd-1", "peerURLs": ["https://10.0.0.11:2380"],
     "clientURLs": ["https://10.0.0.11:2379"]},
    {"ID": 0x91BC3C398FB3C146, "name": "etcd-2", "peerURLs": ["https://10.0.0.12:2380"],
     "clientURLs": ["https://10.0.0.12:2379"]},
]
LIST = json.dumps({"header": {"cluster_id": 1, "member_id": MEMBERS[0]["ID"], "raft_term": 2}, "members": MEMBERS})
NEW = {"ID": 0xC9A8A5B4E2A1F0D3, "peerURLs": ["https://10.0.0.13:2380"]}
ADD = json.dumps({"header": {}, "member": NEW, "members": [*MEMBERS, NEW]})
REFUSED = "Error: dial tcp 10.0.0.11:2379: connect: connection refused\n"


class Failed(Exception):
    """Raised by the fake module's fail_json."""

    def __init__(self, msg: str, **kwargs: Any) -> None:
        super().__init__(msg)
        self.result = {"msg": msg, **kwargs}


def fail_json(msg: str, **kwargs: Any) -> None:
    raise Failed(msg, **kwargs)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """An executable stand-in for etcdctl and the three TLS files, so that the argument checks pass."""
    paths = {}
    for option in ("etcdctl", "ca_cert", "cert", "key"):
        path = tmp_path / option
        path.write_text("#!/bin/false\n")
        paths[option] = str(path)
    Path(paths["etcdctl"]).chmod(stat.S_IRWXU)
    return paths


def module(files: dict[str, str], answers: dict[str, tuple], check_mode: bool = False, **params: Any) -> MagicMock:
    """A fake module whose run_command answers etcdctl's subcommand (list, add, ...) from ``answers``."""
    fake = MagicMock(
        params={
            "endpoints": ["https://10.0.0.11:2379"],
            "state": "present",
            "name": None,
            "peer_urls": None,
            "learner": False,
            **files,
            **params,
        },
        check_mode=check_mode,
    )
    fake.fail_json.side_effect = fail_json
    answers = {"list": (0, LIST, ""), **answers}
    fake.run_command.side_effect = lambda cmd, **_: answers[cmd[cmd.index("member") + 1]]
    return fake


def subcommands(fake: MagicMock) -> list[str]:
    return [call.args[0][call.args[0].index("member") + 1] for call in fake.run_command.call_args_list]


def test_info_lists_with_etcdctl_v3_without_a_shell_and_returns_hex_ids(files) -> None:
    fake = module(files, {})
    result = etcd_member_info.run(fake)
    assert result["changed"] is False
    assert [m["id"] for m in result["members"]] == ["8e9e05c52164694d", "91bc3c398fb3c146"]
    [call] = fake.run_command.call_args_list
    cmd = call.args[0]
    assert isinstance(cmd, list) and cmd[0] == files["etcdctl"]
    assert f"--cacert={files['ca_cert']}" in cmd and f"--cert={files['cert']}" in cmd and f"--key={files['key']}" in cmd
    assert call.kwargs["environ_update"] == {"ETCDCTL_API": "3"} and call.kwargs["check_rc"] is False
    assert "use_unsafe_shell" not in call.kwargs


def test_present_adds_and_returns_how_to_start_the_member(files) -> None:
    fake = module(files, {"add": (0, ADD, "")}, state="present", name="etcd-3", peer_urls=["https://10.0.0.13:2380"])
    result = etcd_member.run(fake)
    assert result["changed"] and result["action"] == "add" and subcommands(fake) == ["list", "add"]
    assert "--learner" not in fake.run_command.call_args.args[0]
    assert result["initial_cluster"] == (
        "etcd-1=https://10.0.0.11:2380,etcd-2=https://10.0.0.12:2380,etcd-3=https://10.0.0.13:2380"
    )
    assert result["initial_cluster_state"] == "existing" and result["member"]["id"] == "c9a8a5b4e2a1f0d3"


def test_present_as_learner_passes_the_flag(files) -> None:
    fake = module(files, {"add": (0, ADD, "")}, state="present", name="etcd-3", peer_urls=["https://10.0.0.13:2380"],
                  learner=True)
    etcd_member.run(fake)
    assert fake.run_command.call_args.args[0][-1] == "--learner"


def test_present_unchanged_runs_only_the_list(files) -> None:
    fake = module(files, {}, state="present", name="etcd-2", peer_urls=["https://10.0.0.12:2380"])
    result = etcd_member.run(fake)
    assert not result["changed"] and result["action"] == "none" and subcommands(fake) == ["list"]


@pytest.mark.parametrize(
    "params, action",
    [
        ({"state": "present", "name": "etcd-3", "peer_urls": ["https://10.0.0.13:2380"]}, "add"),
        ({"state": "present", "name": "etcd-2", "peer_urls": ["https://10.0.0.22:2380"]}, "update"),
        ({"state": "absent", "name": "etcd-2"}, "remove"),
    ],
)
def test_check_mode_reports_the_change_and_runs_only_the_list(files, params, action) -> None:
    fake = module(files, {}, check_mode=True, **params)  # any changing subcommand would raise KeyError
    result = etcd_member.run(fake)
    assert result["changed"] and result["action"] == action
    assert subcommands(fake) == ["list"]


def test_check_mode_predicts_the_members(files) -> None:
    added = etcd_member.run(
        module(files, {}, check_mode=True, state="present", name="etcd-3", peer_urls=["https://10.0.0.13:2380"])
    )
    assert added["member"]["id"] is None and added["initial_cluster"].endswith(",etcd-3=https://10.0.0.13:2380")
    updated = etcd_member.run(
        module(files, {}, check_mode=True, state="present", name="etcd-2", peer_urls=["https://10.0.0.22:2380"])
    )
    assert updated["members"][1]["peer_urls"] == ["https://10.0.0.22:2380"]
    removed = etcd_member.run(module(files, {}, check_mode=True, state="absent", name="etcd-2"))
    assert [m["name"] for m in removed["members"]] == ["etcd-1"]


def test_update_runs_member_update_with_the_hex_id(files) -> None:
    updated = json.dumps({"members": [MEMBERS[0], {**MEMBERS[1], "peerURLs": ["https://10.0.0.22:2380"]}]})
    fake = module(files, {"update": (0, updated, "")}, state="present", name="etcd-2",
                  peer_urls=["https://10.0.0.22:2380"])
    result = etcd_member.run(fake)
    assert fake.run_command.call_args.args[0][-4:] == [
        "member", "update", "91bc3c398fb3c146", "--peer-urls=https://10.0.0.22:2380"
    ]
    assert result["changed"] and result["member"]["peer_urls"] == ["https://10.0.0.22:2380"]


def test_absent_unchanged_when_missing(files) -> None:
    result = etcd_member.run(module(files, {}, state="absent", name="etcd-9"))
    assert result["changed"] is False and result["member"] is None


def test_absent_refuses_the_last_member(files) -> None:
    only = json.dumps({"members": MEMBERS[:1]})
    fake = module(files, {"list": (0, only, "")}, state="absent", name="etcd-1")
    with pytest.raises(Failed, match="last member of the cluster"):
        etcd_member.run(fake)
    assert subcommands(fake) == ["list"]


def test_etcdctl_failure_reports_command_stderr_and_hint(files, monkeypatch) -> None:
    def refuse(address, timeout):
        assert address == ("10.0.0.11", 2379) and timeout > 0
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(etcd.socket, "create_connection", refuse)
    fake = module(files, {"list": (1, "", REFUSED)})
    with pytest.raises(Failed) as failed:
        etcd_member_info.run(fake)
    result = failed.value.result
    assert result["msg"].startswith("etcdctl member list failed: dial tcp 10.0.0.11:2379: connect: connection refused")
    assert "No connection to https://10.0.0.11:2379 (Connection refused): is etcd running there" in result["hint"]
    assert result["hint"] in result["msg"]
    assert result["rc"] == 1 and result["stderr"] == REFUSED and result["cmd"][0] == files["etcdctl"]


def test_a_timeout_with_listening_endpoints_points_at_tls(files, monkeypatch) -> None:
    monkeypatch.setattr(etcd.socket, "create_connection", lambda address, timeout: MagicMock())
    stderr = "Error: context deadline exceeded\n"
    with pytest.raises(Failed) as failed:
        etcd_member_info.run(module(files, {"list": (1, "", stderr)}))
    assert "https://10.0.0.11:2379 accepts connections, so the TLS handshake most likely failed" in str(failed.value)


def test_output_that_is_not_json_fails_clearly(files) -> None:
    with pytest.raises(Failed, match="etcdctl did not print JSON"):
        etcd_member_info.run(module(files, {"list": (0, "1234, started, a, ...", "")}))


def test_missing_etcdctl_and_files_fail_before_running_anything(files, tmp_path) -> None:
    fake = module(files, {}, etcdctl=str(tmp_path / "nope"), key=str(tmp_path / "missing.key"))
    with pytest.raises(Failed) as failed:
        etcd_member.run(fake)
    assert "etcdctl is not an executable at" in str(failed.value)
    assert f"key {tmp_path / 'missing.key'} is not a file" in str(failed.value)
    fake.run_command.assert_not_called()


def test_bad_urls_and_empty_name_are_refused(files) -> None:
    fake = module(files, {}, endpoints=["10.0.0.11:2379"], state="present", name=" ", peer_urls=["https://x"])
    with pytest.raises(Failed) as failed:
        etcd_member.run(fake)
    message = str(failed.value)
    assert "endpoints: '10.0.0.11:2379' is not a URL" in message and "peer_urls: 'https://x'" in message
    assert "name is empty" in message


def test_argument_spec_requires_name_and_peer_urls_for_present_and_one_of_them_for_absent() -> None:
    assert ("state", "present", ("name", "peer_urls")) in etcd_member.REQUIRED_IF
    assert ("state", "absent", ("name", "peer_urls"), True) in etcd_member.REQUIRED_IF
    assert etcd_member.ARGUMENT_SPEC["state"]["choices"] == ["present", "absent"]
    assert etcd_member.ARGUMENT_SPEC["state"]["default"] == "present"


def test_info_takes_the_connection_options_only_and_fails_before_running_anything(files, tmp_path) -> None:
    fake = module(files, {}, key=str(tmp_path / "missing.key"))
    with pytest.raises(Failed, match="is not a file"):
        etcd_member_info.run(fake)
    fake.run_command.assert_not_called()
    assert set(etcd.CONNECTION_ARGS) == {"endpoints", "ca_cert", "cert", "key", "etcdctl"}
    assert etcd_member.ARGUMENT_SPEC["learner"]["default"] is False


def documented_options(module: Any) -> dict[str, dict]:
    """A module's options as ansible-doc shows them: the etcd doc fragment's, with the module's own merged in."""
    import yaml

    from ansible_collections.corral.cluster.plugins.doc_fragments.etcd import ModuleDocFragment

    shared = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    own = yaml.safe_load(module.DOCUMENTATION).get("options") or {}
    return {name: {**shared.get(name, {}), **own.get(name, {})} for name in {*shared, *own}}


@pytest.mark.parametrize("module, spec", [(etcd_member, etcd_member.ARGUMENT_SPEC), (etcd_member_info, etcd.CONNECTION_ARGS)])
def test_documentation_matches_the_argument_spec(module: Any, spec: dict) -> None:
    options = documented_options(module)
    assert set(options) == set(spec)
    for name, option in spec.items():
        assert options[name]["type"] == option["type"], name
        assert options[name].get("default") == option.get("default"), name
        assert bool(options[name].get("required")) == bool(option.get("required")), name
        assert options[name].get("choices") == option.get("choices"), name
